// What keeps the operator's memory small: one copy of each repeated string in the informer
// caches (src/kube/intern.ts) and request deadlines that end with the request (src/kube/client.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { cachedDeployments, cachedPods } from "../../src/controllers/function/caches.ts";
import { deadline } from "../../src/kube/client.ts";
import { StringInterner } from "../../src/kube/intern.ts";

const INTERN = fileURLToPath(new URL("../../src/kube/intern.ts", import.meta.url));

describe("StringInterner", () => {
  it("remembers each string of 11 to maxLength characters once; shorter (V8 shares them) and longer ones are left alone", () => {
    const i = new StringInterner({ maxLength: 20 });
    assert.equal(i.string("hearth.dev/v1alpha1"), "hearth.dev/v1alpha1");
    assert.equal(i.string("hearth.dev/v1alpha1"), "hearth.dev/v1alpha1");
    assert.equal(i.size, 1, "a repeat is the same entry");
    i.string("Ready");
    i.string("a string longer than twenty characters");
    assert.equal(i.size, 1);
  });

  it("starts over when the table is full, and keeps working", () => {
    const i = new StringInterner({ maxEntries: 3 });
    for (const s of ["namespace-aaa", "namespace-bbb", "namespace-ccc"]) i.string(s);
    assert.equal(i.size, 3);
    assert.equal(i.string("namespace-ddd"), "namespace-ddd");
    assert.equal(i.size, 1, "the table started over with the new string");
    i.string("namespace-ddd");
    assert.equal(i.size, 1);
  });

  it("replaces string values in place at any depth, leaving keys, numbers, booleans and nulls as they are", () => {
    const i = new StringInterner();
    const obj = {
      metadata: { name: "function-one", namespace: "team-a-namespace", labels: { "hearth.dev/function": "function-one" }, generation: 3 },
      status: { conditions: [{ type: "Ready", status: "True", reason: "WorkersReady" }], ready: true, gone: null },
      list: ["team-a-namespace", 1, ["team-a-namespace"]],
    };
    const copy = structuredClone(obj);
    assert.equal(i.values(obj), obj, "returns the same object");
    assert.deepEqual(obj, copy, "values are unchanged");
    // function-one, team-a-namespace, WorkersReady: each once however often it occurs.
    assert.equal(i.size, 3);
  });

  it("cached objects share one copy: 20,000 parsed objects holding the same 48 strings take far less heap once interned", () => {
    // Sharing is not observable from JavaScript, only in the heap: measured in a child with --expose-gc.
    const script = `
      import { StringInterner } from ${JSON.stringify(INTERN)};
      const template = JSON.stringify({ metadata: { namespace: "a-namespace-of-some-length", apiVersion: "hearth.dev/v1alpha1" },
        status: { conditions: Array.from({ length: 46 }, (_, k) => ({ message: "every warm worker runs the current spec #" + k })) } });
      const measure = (intern) => {
        const i = new StringInterner();
        gc(); const before = process.memoryUsage().heapUsed;
        const kept = Array.from({ length: 20000 }, () => { const o = JSON.parse(template); return intern ? i.values(o) : o; });
        gc(); const after = process.memoryUsage().heapUsed;
        return (after - before) / kept.length;
      };
      const plain = measure(false), interned = measure(true);
      console.log(JSON.stringify({ plain, interned }));`;
    const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const { plain, interned } = JSON.parse(r.stdout) as { plain: number; interned: number };
    // 48 strings of 19-45 characters are ≈ 48 × 56 bytes per object when each object has its own.
    assert.ok(plain - interned > 1500, `bytes per object: ${plain.toFixed(0)} plain, ${interned.toFixed(0)} interned`);
  });
});

describe("request deadline", () => {
  it("aborts with a TimeoutError at the deadline, as AbortSignal.timeout does", async () => {
    const d = deadline(undefined, 20);
    await new Promise((r) => d.signal.addEventListener("abort", r, { once: true }));
    assert.ok(d.signal.reason instanceof DOMException);
    assert.equal(d.signal.reason.name, "TimeoutError");
  });

  it("follows the caller's signal with its reason, also when it was aborted already", () => {
    const parent = new AbortController();
    const d = deadline(parent.signal, 60_000);
    parent.abort(new Error("informer stopped"));
    assert.equal(d.signal.aborted, true);
    assert.equal((d.signal.reason as Error).message, "informer stopped");
    d.done();
    const pre = deadline(AbortSignal.abort(new Error("already")), 60_000);
    assert.equal((pre.signal.reason as Error).message, "already");
    pre.done();
  });

  it("after done(), neither the deadline nor the caller's later abort reaches the request", async () => {
    const parent = new AbortController();
    const d = deadline(parent.signal, 10);
    d.done();
    parent.abort(new Error("late"));
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(d.signal.aborted, false);
  });
});

describe("slim cache schemas (controllers/function/caches.ts)", () => {
  it("a cached pod keeps what podProblem reads (a last termination) and drops an empty last state and the spec", () => {
    const raw = (lastState: unknown) => ({
      metadata: { name: "p", namespace: "ns", resourceVersion: "1", labels: { "hearth.dev/function": "f", other: "x" } },
      spec: { nodeName: "n1", containers: [{ name: "worker" }] },
      status: { phase: "Running", containerStatuses: [{ name: "worker", ready: false, restartCount: 1, image: "img", state: { running: { startedAt: "t" } }, lastState }] },
    });
    const crashed = cachedPods.schema.parse(raw({ terminated: { exitCode: 137, reason: "OOMKilled", finishedAt: "t" } }));
    assert.deepEqual(crashed.status.containerStatuses?.[0], { name: "worker", ready: false, restartCount: 1, state: {}, lastState: { terminated: { exitCode: 137, reason: "OOMKilled", finishedAt: "t" } } });
    const fine = cachedPods.schema.parse(raw({}));
    assert.deepEqual(fine.status.containerStatuses?.[0], { name: "worker", ready: false, restartCount: 1, state: {} });
    assert.deepEqual(fine.metadata.labels, { "hearth.dev/function": "f" });
    assert.equal(fine.spec, crashed.spec, "one shared empty spec");
  });

  it("a cached Deployment keeps its controller owner and the replicas managers", () => {
    const d = cachedDeployments.schema.parse({
      metadata: {
        name: "f-pool",
        namespace: "ns",
        ownerReferences: [
          { apiVersion: "hearth.dev/v1alpha1", kind: "Function", name: "f", uid: "u1", controller: true },
          { apiVersion: "v1", kind: "Other", name: "o", uid: "u2" },
        ],
        managedFields: [{ manager: "hearth-function-controller", operation: "Apply", fieldsV1: { "f:spec": { "f:replicas": {}, "f:template": { "f:spec": {} } } } }],
      },
      spec: { replicas: 1 },
      status: {},
    });
    assert.deepEqual(d.metadata.ownerReferences?.map((r) => r.uid), ["u1"]);
    assert.deepEqual(d.replicasManagers, ["hearth-function-controller"]);
  });
});
