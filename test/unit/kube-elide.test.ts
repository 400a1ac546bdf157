// elide(): fields cut out of a JSON text before it is parsed must leave exactly what
// JSON.parse-then-delete leaves, whatever the strings hold (quotes, escapes, braces); and each
// resource that cuts fields from its watch events must still cache what its schema makes of the
// whole object.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cachedDeployments, cachedPods } from "../../src/controllers/function/caches.ts";
import { batchJobsResource, jobPodsResource } from "../../src/controllers/job/controller.ts";
import { elide, type FieldPath } from "../../src/kube/elide.ts";
import { deployments, hearthFunctions, hearthJobs, parseObject, pods, viewOf, type ResourceType } from "../../src/kube/resources.ts";
import type { KubeObject } from "../../src/kube/objects.ts";

function cutByParsing(value: unknown, paths: readonly FieldPath[]): unknown {
  const copy = structuredClone(value);
  for (const p of paths) {
    let o: unknown = copy;
    for (const k of p.slice(0, -1)) o = typeof o === "object" && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined;
    const last = p[p.length - 1];
    if (typeof o === "object" && o !== null && !Array.isArray(o) && last !== undefined) delete (o as Record<string, unknown>)[last];
  }
  return copy;
}

/** A deterministic pseudo-random generator (tests must not flake). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NASTY = ['"', "\\", '\\"', "{", "}", "[", "]", ",", ":", "spec", '"spec":', "\\\\", "\u2028", "é", " ", "managedFields", '{"a":1}'];
const KEYS = ["spec", "status", "metadata", "managedFields", "template", "a", 'k"q', "b\\", "{x}", ""];

function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 3 || pick < 0.3) {
    const t = Math.floor(r() * 5);
    if (t === 0) return Array.from({ length: Math.floor(r() * 3) }, () => NASTY[Math.floor(r() * NASTY.length)]).join("");
    if (t === 1) return Math.floor(r() * 1000) - 500 + (r() < 0.3 ? 0.25 : 0);
    if (t === 2) return r() < 0.5;
    if (t === 3) return null;
    return "plain";
  }
  if (pick < 0.5) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) o[KEYS[Math.floor(r() * KEYS.length)] ?? "a"] = randomValue(r, depth + 1);
  return o;
}

describe("elide", () => {
  const paths: FieldPath[] = [["spec"], ["metadata", "managedFields"], ["object", "spec", "template"], ["a", 'k"q'], ["{x}"]];

  it("cuts what JSON.parse-then-delete cuts, on random JSON full of quotes, escapes and brackets", () => {
    const r = rng(42);
    let changed = 0;
    for (let n = 0; n < 3000; n++) {
      const v = { metadata: randomValue(r, 1), object: { spec: randomValue(r, 2), status: randomValue(r, 2) }, spec: randomValue(r, 1), a: randomValue(r, 1) };
      for (const text of [JSON.stringify(v), JSON.stringify(v, null, r() < 0.5 ? 2 : "\t")]) {
        const out = elide(text, paths);
        if (out !== text) changed++;
        assert.deepEqual(JSON.parse(out), cutByParsing(v, paths.filter((p) => p[0] !== "a" || p[1] !== 'k"q')), text);
      }
    }
    assert.ok(changed > 1000, `${changed} texts changed`);
  });

  it("leaves text it cannot read alone (JSON.parse then says what is wrong)", () => {
    for (const bad of ['{"spec": ', '{"spec":1', '{"a":"x', "[1,2]", "", "nope", '{"spec":1} x', '{spec:1}', '{"a" 1}']) assert.equal(elide(bad, [["spec"]]), bad);
  });

  it("keeps text without the paths unchanged (the same string)", () => {
    const text = '{"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"p"},"status":{}}}';
    assert.equal(elide(text, [["object", "spec"], ["object", "metadata", "managedFields"]]), text);
  });

  it("does not cut a key of that name at another depth (a label called spec)", () => {
    const v = { object: { metadata: { labels: { spec: "x" }, managedFields: [{ "f:spec": {} }] }, spec: { template: { spec: 1 } }, status: { spec: 2 } } };
    assert.deepEqual(JSON.parse(elide(JSON.stringify(v), [["object", "spec"], ["object", "metadata", "managedFields"]])), {
      object: { metadata: { labels: { spec: "x" } }, status: { spec: 2 } },
    });
  });
});

const T = "2026-11-30T17:00:00Z";
const podObject = {
  kind: "Pod",
  apiVersion: "v1",
  metadata: {
    name: "p",
    namespace: "n",
    uid: "u",
    resourceVersion: "1",
    labels: { "hearth.dev/job": "j", "hearth.dev/function": "f", spec: "label named spec" },
    annotations: { "controller.kubernetes.io/pod-deletion-cost": "1" },
    ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "j", uid: "uj", controller: true }],
    managedFields: [{ manager: "kwok", operation: "Update", subresource: "status", fieldsV1: { "f:status": { 'k:{"type":"Ready"}': {} } } }],
  },
  spec: { nodeName: "n1", containers: [{ name: "worker", image: "i", args: ['{"spec":1}'] }] },
  status: {
    phase: "Failed",
    startTime: T,
    conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
    containerStatuses: [{ name: "worker", ready: false, restartCount: 1, image: "i", state: { terminated: { exitCode: 2, reason: "Error", finishedAt: T } } }],
  },
};
const deploymentObject = {
  kind: "Deployment",
  apiVersion: "apps/v1",
  metadata: {
    name: "d",
    namespace: "n",
    uid: "ud",
    resourceVersion: "2",
    generation: 1,
    annotations: { "hearth.dev/applied-hash": "h" },
    ownerReferences: [{ apiVersion: "hearth.dev/v1alpha1", kind: "Function", name: "f", uid: "uf", controller: true }],
    managedFields: [{ manager: "hearth-function-controller", operation: "Update", fieldsV1: { "f:spec": { "f:replicas": {}, "f:template": { "f:spec": {} } } } }],
  },
  spec: { replicas: 2, template: { spec: { containers: [{ name: "w" }] } } },
  status: { observedGeneration: 1, readyReplicas: 2, conditions: [{ type: "ReplicaFailure", status: "True", reason: "FailedCreate" }] },
};
const batchJobObject = {
  kind: "Job",
  apiVersion: "batch/v1",
  metadata: { name: "j-run", namespace: "n", uid: "ub", resourceVersion: "3", labels: { "hearth.dev/job": "j" }, managedFields: [{ manager: "m" }] },
  spec: { backoffLimit: 1, podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "worker", operator: "In", values: [3] } }] }, template: { spec: { containers: [{ name: "worker" }] } } },
  status: { active: 1, conditions: [{ type: "Complete", status: "True" }] },
};
const hearthObject = {
  apiVersion: "hearth.dev/v1alpha1",
  kind: "Job",
  metadata: { name: "j", namespace: "n", uid: "uh", resourceVersion: "4", managedFields: [{ manager: "kubectl" }] },
  spec: { functionRef: { name: "f" } },
  status: { conditions: [{ type: "Complete", status: "True" }] },
};

describe("resources that cut fields from watch events cache what their schema makes of the whole object", () => {
  const cases: [string, ResourceType<KubeObject>, unknown][] = [
    ["pods", pods, podObject],
    ["cached pods (Function controller)", cachedPods, podObject],
    ["Job controller pods", jobPodsResource, podObject],
    ["deployments", deployments, deploymentObject],
    ["cached Deployments (Function controller)", cachedDeployments, deploymentObject],
    ["Job controller batch Jobs", batchJobsResource, batchJobObject],
    ["hearth.dev Jobs", hearthJobs, hearthObject],
    ["hearth.dev Functions", hearthFunctions, { ...hearthObject, kind: "Function" }],
  ];
  for (const [name, r, object] of cases) {
    it(name, () => {
      const paths = viewOf(r)?.elide ?? [];
      assert.ok(paths.length > 0, "cuts something");
      const line = JSON.stringify({ type: "MODIFIED", object });
      const cut = elide(line, paths.map((p) => ["object", ...p]));
      assert.ok(cut.length < line.length, "the line got shorter");
      const fromCut = parseObject(r, (JSON.parse(cut) as { object: unknown }).object);
      const whole = r.schema.safeParse(object);
      assert.ok(fromCut.ok && whole.success);
      assert.deepEqual(fromCut.value, whole.data);
    });
  }
});

describe("a descriptor spread with another schema", () => {
  it("neither parses with the original's view nor cuts its fields", () => {
    const other = { ...pods, schema: hearthFunctions.schema } as unknown as ResourceType<KubeObject>;
    assert.equal(viewOf(other), undefined);
  });
});
