// Each hand-written view (src/kube/views.ts) against the zod schema it stands in for: on
// realistic objects, and on every corruption of one field of them (each value replaced by
// null, a number, a string, a boolean, an array, an object, or removed), the view must accept
// exactly what the schema accepts and return a deep-equal result.
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { describe, it } from "node:test";
import { cachedDeployments, cachedPods } from "../../src/controllers/function/caches.ts";
import { batchJobsResource, jobPodsResource } from "../../src/controllers/job/controller.ts";
import { watchEventOf } from "../../src/kube/client.ts";
import { deployments, hearthFunctions, hearthJobs, parseObject, pods, type ResourceType } from "../../src/kube/resources.ts";
import type { KubeObject } from "../../src/kube/objects.ts";

const T = "2026-11-30T17:00:00Z";

function aPod(): Record<string, unknown> {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: "echo-pool-7d9c-abcde",
      generateName: "echo-pool-7d9c-",
      namespace: "team-a",
      uid: "0b7e6f3c-1111-2222-3333-444455556666",
      resourceVersion: "12345",
      creationTimestamp: T,
      deletionTimestamp: T,
      labels: { "hearth.dev/function": "echo", "hearth.dev/worker-mode": "warm", "pod-template-hash": "7d9c", "hearth.dev/job": "j1" },
      annotations: { "controller.kubernetes.io/pod-deletion-cost": "-5", "kwok.x-k8s.io/node": "fake" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "echo-pool-7d9c", uid: "u-rs", controller: true, blockOwnerDeletion: true }],
      finalizers: ["batch.kubernetes.io/job-tracking"],
      managedFields: [{ manager: "kube-controller-manager", operation: "Update", apiVersion: "v1", time: T, fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": {} } } }],
    },
    spec: { nodeName: "t4-shared-0", containers: [{ name: "worker", image: "hearth/worker:1", env: [{ name: "A", value: "b" }] }], restartPolicy: "Always" },
    status: {
      phase: "Running",
      reason: "Evicted",
      message: "node pressure",
      startTime: T,
      podIP: "127.0.8.9",
      conditions: [
        { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes", lastTransitionTime: T, lastProbeTime: null },
        { type: "Ready", status: "True", lastTransitionTime: T },
        { type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI" },
      ],
      initContainerStatuses: [{ name: "fetch", ready: true, restartCount: 0, image: "hearth/fetch:1", imageID: "x", state: { terminated: { exitCode: 0, reason: "Completed", startedAt: T, finishedAt: T } } }],
      containerStatuses: [
        {
          name: "worker",
          ready: false,
          restartCount: 3,
          image: "hearth/worker:1",
          started: true,
          state: { waiting: { reason: "CrashLoopBackOff", message: "back-off" }, running: { startedAt: T } },
          lastState: { terminated: { exitCode: 137, reason: "OOMKilled", message: "killed", startedAt: T, finishedAt: T, containerID: "c" } },
        },
        { name: "sidecar", state: { running: { startedAt: T } } },
      ],
    },
  };
}

function aDeployment(): Record<string, unknown> {
  return {
    kind: "Deployment",
    apiVersion: "apps/v1",
    metadata: {
      name: "echo-pool",
      namespace: "team-a",
      uid: "u-d",
      resourceVersion: "999",
      generation: 2,
      creationTimestamp: T,
      labels: { "hearth.dev/function": "echo" },
      annotations: { "hearth.dev/applied-hash": "abc123", "deployment.kubernetes.io/revision": "1" },
      ownerReferences: [{ apiVersion: "hearth.dev/v1alpha1", kind: "Function", name: "echo", uid: "u-f", controller: true, blockOwnerDeletion: true }],
      managedFields: [
        {
          manager: "hearth-function-controller",
          operation: "Update",
          apiVersion: "apps/v1",
          time: T,
          fieldsType: "FieldsV1",
          fieldsV1: { "f:spec": { "f:replicas": {}, "f:template": { "f:metadata": { "f:labels": {} }, "f:spec": { "f:containers": {} } }, "f:selector": {} } },
        },
        { manager: "hearth-autoscaler", operation: "Update", subresource: "scale", fieldsV1: { "f:spec": { "f:replicas": {} } } },
        { manager: "kube-controller-manager", operation: "Update", subresource: "status", fieldsV1: { "f:status": { "f:replicas": {} } } },
        { manager: "kubectl-edit", operation: "Apply", fieldsV1: { "f:spec": { "f:template": { "f:metadata": { "f:annotations": {} } } } } },
      ],
    },
    spec: { replicas: 1, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "w", image: "i" }] } } },
    status: {
      observedGeneration: 2,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      unavailableReplicas: 0,
      conditions: [
        { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "ok", lastUpdateTime: T, lastTransitionTime: T },
        { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: "slow" },
        { type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: "quota" },
      ],
    },
  };
}

function aBatchJob(): Record<string, unknown> {
  return {
    kind: "Job",
    apiVersion: "batch/v1",
    metadata: {
      name: "j1-run",
      namespace: "team-a",
      uid: "u-bj",
      resourceVersion: "77",
      creationTimestamp: T,
      labels: { "hearth.dev/job": "j1" },
      ownerReferences: [{ apiVersion: "hearth.dev/v1alpha1", kind: "Job", name: "j1", uid: "u-j", controller: true }],
      managedFields: [{ manager: "hearth-job-controller", operation: "Update" }],
    },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 600,
      completions: 1,
      podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "worker", operator: "In", values: [42] } }, { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }] },
      template: { spec: { containers: [{ name: "worker" }] } },
    },
    status: {
      startTime: T,
      completionTime: T,
      active: 0,
      failed: 1,
      succeeded: 1,
      ready: 0,
      conditions: [
        { type: "SuccessCriteriaMet", status: "True", lastProbeTime: T, lastTransitionTime: T },
        { type: "Complete", status: "True", reason: "CompletionsReached", message: "done", lastTransitionTime: T },
      ],
    },
  };
}

function aHearthObject(kind: string): Record<string, unknown> {
  return {
    apiVersion: "hearth.dev/v1alpha1",
    kind,
    metadata: {
      name: "echo",
      namespace: "team-a",
      uid: "u-h",
      resourceVersion: "5",
      generation: 1,
      creationTimestamp: T,
      labels: { app: "x" },
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", note: "kept" },
      finalizers: ["hearth.dev/gateway-queue"],
      managedFields: [{ manager: "kubectl", operation: "Apply" }],
      selfLink: "/apis/x",
    },
    spec: { image: "i", handler: "app:Echo", functionRef: { name: "echo" } },
    status: { conditions: [{ type: "Ready", status: "True" }] },
  };
}

const CORRUPTIONS: readonly unknown[] = [null, 0, 1.5, "s", true, [], {}, [1], { x: 1 }];

/** Every object and leaf position of `root`, as key paths. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = at.length > 0 ? [at] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function corrupt(root: unknown, path: (string | number)[], value: unknown, remove: boolean): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let o: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] ?? "";
  if (remove) {
    if (Array.isArray(o)) o.splice(Number(last), 1);
    else delete o[last];
  } else o[last] = value;
  return copy;
}

/** The view's answer and the schema's, on a copy each (a view may keep parts of its input). */
function agree<T extends KubeObject>(r: ResourceType<T>, raw: unknown, what: string): boolean {
  assert.ok(r.view !== undefined && r.view.schema === r.schema, `${r.kind} has a view for its schema`);
  const fromSchema = r.schema.safeParse(structuredClone(raw));
  const fromView = parseObject(r, structuredClone(raw));
  assert.equal(fromView.ok, fromSchema.success, `${what}: view ${fromView.ok ? "accepted" : `rejected (${fromView.ok ? "" : fromView.error})`}, schema ${fromSchema.success ? "accepted" : "rejected"}`);
  if (fromView.ok && fromSchema.success) assert.ok(isDeepStrictEqual(fromView.value, fromSchema.data), `${what}: view and schema differ\n${JSON.stringify(fromView.value)}\n${JSON.stringify(fromSchema.data)}`);
  return fromView.ok;
}

function checkAll<T extends KubeObject>(r: ResourceType<T>, fixture: Record<string, unknown>): { accepted: number; rejected: number } {
  let accepted = 0;
  let rejected = 0;
  assert.ok(agree(r, fixture, "fixture"), "the fixture itself parses");
  const count = (ok: boolean): void => {
    if (ok) accepted++;
    else rejected++;
  };
  for (const p of paths(fixture)) {
    for (const v of CORRUPTIONS) count(agree(r, corrupt(fixture, p, v, false), `${p.join(".")} = ${JSON.stringify(v)}`));
    count(agree(r, corrupt(fixture, p, undefined, true), `${p.join(".")} removed`));
  }
  for (const top of [null, 1, "x", [], {}]) count(agree(r, top, `object = ${JSON.stringify(top)}`));
  return { accepted, rejected };
}

describe("hand-written views match their zod schemas", () => {
  const cases: [string, ResourceType<KubeObject>, () => Record<string, unknown>][] = [
    ["pods", pods, aPod],
    ["deployments", deployments, aDeployment],
    ["cached pods (Function controller)", cachedPods, aPod],
    ["cached Deployments (Function controller)", cachedDeployments, aDeployment],
    ["Job controller pods", jobPodsResource, aPod],
    ["Job controller batch Jobs", batchJobsResource, aBatchJob],
    ["hearth.dev Functions (unstructured)", hearthFunctions, () => aHearthObject("Function")],
    ["hearth.dev Jobs (unstructured)", hearthJobs, () => aHearthObject("Job")],
  ];
  for (const [name, r, fixture] of cases) {
    it(name, () => {
      const { accepted, rejected } = checkAll(r, fixture());
      // Both outcomes are exercised: the corruptions hit required fields and ignored ones.
      assert.ok(accepted > 10 && rejected > 10, `accepted ${accepted}, rejected ${rejected}`);
    });
  }

  it("a rejection names the field", () => {
    const bad = aPod();
    (bad["status"] as Record<string, unknown>)["phase"] = 3;
    const r = parseObject(pods, bad);
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.error, /status\.phase: expected string/);
  });

  it("a descriptor spread with another schema does not use the original's view", () => {
    const other = { ...pods, schema: hearthFunctions.schema } as unknown as ResourceType<KubeObject>;
    const r = parseObject(other, aHearthObject("Function"));
    assert.ok(r.ok, "parsed by the spread schema, not the pod view");
  });
});

describe("watch event envelope", () => {
  it("accepts the five types and rejects anything else", () => {
    for (const type of ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]) assert.deepEqual(watchEventOf({ type, object: { a: 1 } }), { type, object: { a: 1 } });
    for (const bad of [null, 1, "ADDED", {}, { type: "added" }, { type: 1 }, []]) assert.equal(watchEventOf(bad), undefined);
  });
});
