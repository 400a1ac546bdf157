// The Function controller on the real cluster (CLUSTER.md): real Deployments, ReplicaSets, the
// scheduler enforcing fake GPU capacity and product labels, kwok playing kubelets, the garbage
// collector following ownerReferences. One operator (in-process) for the file, one namespace.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { functionStatus, type Condition, type FunctionStatus } from "../../src/api/v1alpha1/index.ts";
import { renderPodTemplate } from "../../src/workload/render.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { deployments, hearthFunctions, pods, replicaSets, secrets, untyped } from "../../src/kube/resources.ts";
import { parseOperatorConfig, type OperatorConfigInput } from "../../src/operator/config.ts";
import { FAKE_POD_ANNOTATIONS, kubeConfigFromEnv, uniqueName, waitFor, withFakeNodes, withNamespace, type DedicatedNodes } from "../support/cluster.ts";
import { aFunction, type FunctionBuilder } from "../support/function-builder.ts";
import { FIELD_MANAGER } from "../../src/controllers/function/names.ts";
import { installCrds, startTestOperator, testClient, testOperatorConfig, TEST_SIGNING_KEY, type TestOperator } from "../support/operator.ts";

const kc = kubeConfigFromEnv();
const id = uniqueName("fx");
const SHARED_PRODUCT = `Shared-T4-${id}`;
const WHOLE_A = `Whole-A-${id}`;
const WHOLE_B = `Whole-B-${id}`;


const rawEvents = untyped({ group: "", version: "v1", kind: "Event", plural: "events", namespaced: true });
const functionsRaw = untyped({ group: "hearth.dev", version: "v1alpha1", kind: "Function", plural: "functions", namespaced: true });

async function status(name: string): Promise<FunctionStatus> {
  const f = await client.get(hearthFunctions, name, ns);
  return functionStatus.parse(f?.["status"] ?? {});
}

function cond(s: FunctionStatus, type: string): Condition | undefined {
  return s.conditions?.find((c) => c.type === type);
}

async function waitForCondition(name: string, type: string, check: (c: Condition, s: FunctionStatus) => boolean, timeoutMs = 60_000): Promise<FunctionStatus> {
  return waitFor(
    async () => {
      const s = await status(name);
      const c = cond(s, type);
      return c !== undefined && check(c, s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${name} ${type}` },
  );
}

async function apply(b: FunctionBuilder): Promise<void> {
  await client.apply(hearthFunctions, b.manifest());
}

async function podsOf(name: string) {
  const list = await client.list(pods, { namespace: ns, labelSelector: `hearth.dev/function=${name}` });
  return list.items.filter((p) => p.metadata.deletionTimestamp === undefined);
}

// Setup at the top level: `after` registered inside a `before` hook would run when that hook ends.
const client: KubeClient = await testClient();
await installCrds(client);
const ns = await withNamespace({ after }, kc, "fn");
const nodes: DedicatedNodes = await withFakeNodes(
  { after },
  [
    { name: "shared", gpuTaint: true, gpu: { product: SHARED_PRODUCT, memoryMiB: 15360, count: 1, sharing: { strategy: "time-slicing", replicas: 4 } } },
    { name: "a-0", gpuTaint: true, gpu: { product: WHOLE_A, memoryMiB: 15360, count: 2 } },
    { name: "a-1", gpuTaint: true, gpu: { product: WHOLE_A, memoryMiB: 15360, count: 2 } },
    { name: "b-0", gpuTaint: true, gpu: { product: WHOLE_B, memoryMiB: 15360, count: 8 } },
  ],
  kc,
);
const opConfig: OperatorConfigInput = testOperatorConfig(ns, {
  gpu: {
    strategy: "timeSlicing",
    timeSlicing: { replicas: 4, resourceName: "nvidia.com/gpu.shared" },
    tolerations: [
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
      { key: "hearth.dev/test-dedicated", operator: "Exists", effect: "NoSchedule" },
    ],
  },
  gpuTypes: {
    "shared-t4": { products: [SHARED_PRODUCT], memory: "15Gi" },
    "whole-a": { products: [WHOLE_A], memory: "15Gi" },
    "whole-b": { products: [WHOLE_B], memory: "15Gi" },
  },
});
let op: TestOperator = await startTestOperator({ namespace: ns, config: opConfig });
after(async () => {
  await op.stop();
  client.transport.close();
});

describe("Function → warm pool", () => {
  it("renders the Deployment as planned (a projected worker token, no Secret), and reports Ready", async () => {
    const b = aFunction("cpu-fn", ns).handler("app.echo:Echo").replicas(2).with({ resources: { cpu: "250m", memory: "512Mi", ephemeralStorage: "1Gi" }, concurrency: 4 });
    await apply(b);
    const s = await waitForCondition("cpu-fn", "Ready", (c) => c.status === "True");
    assert.equal(s.readyReplicas, 2);
    assert.equal(s.endpoint, `/v1/namespaces/${ns}/functions/cpu-fn`);
    assert.equal(cond(s, "Degraded")?.status, "False");

    const fn = await client.get(hearthFunctions, "cpu-fn", ns);
    const dep = await client.get(untyped({ group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true }), "cpu-fn-pool", ns);
    assert.ok(dep !== undefined && fn !== undefined);
    const depSpec = dep["spec"] as { replicas: number; template: { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> } };
    assert.equal(depSpec.replicas, 2);
    assert.deepEqual(dep.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [["Function", "cpu-fn", fn.metadata.uid, true]]);

    // What the apiserver stored is what the pure renderer planned (plus apiserver defaults).
    const config = parseOperatorConfig({ ...opConfig, workerTokens: { signingKey: TEST_SIGNING_KEY } });
    const planned = renderPodTemplate(b.build(), config, { mode: "warm", workerToken: true });
    assert.ok(planned.ok);
    const plannedWorker = planned.template.spec?.containers[0];
    const stored = (depSpec.template.spec["containers"] as { env: unknown; resources: unknown; securityContext: Record<string, unknown>; readinessProbe: { httpGet: unknown } }[])[0];
    assert.deepEqual(stored?.env, plannedWorker?.env);
    assert.deepEqual(stored?.resources, plannedWorker?.resources);
    assert.equal(stored?.securityContext["readOnlyRootFilesystem"], true);
    assert.deepEqual(stored?.readinessProbe.httpGet, { path: "/readyz", port: "health", scheme: "HTTP" });
    assert.match(depSpec.template.metadata.annotations["hearth.dev/config-hash"] ?? "", /^[0-9a-f]{16}$/);

    // The apiserver accepted the projected token volume as rendered; no Secret was written.
    const volumes = depSpec.template.spec["volumes"] as { name: string; projected?: { sources?: unknown } }[];
    assert.deepEqual(volumes.find((v) => v.name === "hearth-worker-token")?.projected?.sources, planned.template.spec?.volumes?.find((v) => v.name === "hearth-worker-token")?.projected?.sources);
    assert.equal(await client.get(secrets, "cpu-fn-worker", ns), undefined);

    const podList = await podsOf("cpu-fn");
    assert.equal(podList.length, 2);
    assert.ok(podList.every((p) => p.status.phase === "Running"));
  });

  it("places pods only on nodes of the requested GPU type", async () => {
    await apply(aFunction("typed", ns).gpu({ type: "whole-a", count: 1 }).replicas(4));
    const s = await waitForCondition("typed", "Ready", (c) => c.status === "True");
    assert.deepEqual(s.gpu, { resource: "nvidia.com/gpu", units: 1, fraction: "1", strategy: "timeSlicing" });
    const aNodes = new Set(nodes.nodes.filter((n) => n.metadata?.labels?.["nvidia.com/gpu.product"] === WHOLE_A).map((n) => n.metadata?.name));
    const placed = (await podsOf("typed")).map((p) => p.spec.nodeName);
    assert.equal(placed.length, 4);
    assert.ok(placed.every((n) => aNodes.has(n)), `pods on ${placed.join(", ")}, type-A nodes: ${[...aNodes].join(", ")}`);
    assert.equal(new Set(placed).size, 2, "4 whole GPUs need both 2-GPU nodes");
  });

  it("packs four split: 4 workers onto one time-sliced GPU; a fifth waits, reported in status", async () => {
    await apply(aFunction("packed", ns).gpu({ type: "shared-t4", split: 4 }).replicas(5));
    const s = await waitForCondition("packed", "Degraded", (c, st) => c.status === "True" && c.reason === "WaitingForGPU" && st.readyReplicas === 4);
    assert.deepEqual(s.gpu, { resource: "nvidia.com/gpu.shared", units: 1, fraction: "0.25", strategy: "timeSlicing" });
    assert.match(cond(s, "Degraded")?.message ?? "", /waiting for nvidia\.com\/gpu\.shared on shared-t4 \(.*nvidia\.com\/gpu\.shared/);
    assert.equal(cond(s, "Ready")?.status, "False");
    assert.match(cond(s, "Ready")?.message ?? "", /4 of 5 warm workers ready/);
    const all = await podsOf("packed");
    const sharedNode = nodes.nodes.find((n) => n.metadata?.labels?.["nvidia.com/gpu.product"] === SHARED_PRODUCT)?.metadata?.name;
    assert.equal(all.filter((p) => p.spec.nodeName === sharedNode).length, 4);
    assert.equal(all.filter((p) => p.spec.nodeName === undefined).length, 1);
    const evs = await client.list(rawEvents, { namespace: ns, fieldSelector: "involvedObject.name=packed" });
    assert.ok(evs.items.some((e) => e["reason"] === "WaitingForGPU" && e["type"] === "Warning"), "a Warning event for the transition");

    // Scaling down to what fits makes it Ready.
    await apply(aFunction("packed", ns).gpu({ type: "shared-t4", split: 4 }).replicas(4));
    await waitForCondition("packed", "Ready", (c) => c.status === "True");
  });

  it("rolls the pool when the spec changes", async () => {
    await apply(aFunction("rolling", ns).replicas(2));
    await waitForCondition("rolling", "Ready", (c) => c.status === "True");
    const before = await client.get(deployments, "rolling-pool", ns);
    const hash = before?.metadata.annotations?.["hearth.dev/config-hash"];
    const oldPods = new Set((await podsOf("rolling")).map((p) => p.metadata.name));

    await apply(aFunction("rolling", ns).replicas(2).image("registry.example.com/models/echo:2.0"));
    await waitFor(
      async () => {
        const s = await status("rolling");
        const current = (await podsOf("rolling")).filter((p) => !oldPods.has(p.metadata.name));
        return cond(s, "Ready")?.status === "True" && cond(s, "Progressing")?.reason === "Complete" && s.updatedReplicas === 2 && current.length === 2 && s.observedGeneration === 2;
      },
      { timeoutMs: 60_000, what: "rolled pool" },
    );
    const after = await client.get(deployments, "rolling-pool", ns);
    assert.notEqual(after?.metadata.annotations?.["hearth.dev/config-hash"], hash);
    const live = await podsOf("rolling");
    assert.ok(live.every((p) => !oldPods.has(p.metadata.name)), "every old worker was replaced");
    const rs = await client.list(replicaSets, { namespace: ns, labelSelector: "hearth.dev/function=rolling" });
    assert.equal(rs.items.length, 2, "a new ReplicaSet for the new spec");
  });

  it("creates a new pool with a plain create, and a field a later spec drops is removed from the Deployment", async () => {
    type Entry = { manager?: string; operation?: string; subresource?: string };
    const raw = async (): Promise<{ annotations: Record<string, string>; managers: Entry[] } | undefined> => {
      const d = (await client.transport.request("GET", `/apis/apps/v1/namespaces/${ns}/deployments/adopt-pool`, { verb: "get", resource: "deployments" }).catch(() => undefined)) as
        | { metadata: { managedFields?: Entry[] }; spec: { template: { metadata: { annotations?: Record<string, string> } } } }
        | undefined;
      if (d === undefined) return undefined;
      const managers = (d.metadata.managedFields ?? []).filter((m) => m.manager === FIELD_MANAGER && m.subresource === undefined);
      return { annotations: d.spec.template.metadata.annotations ?? {}, managers };
    };
    await apply(aFunction("adopt", ns).podAnnotations({ "example.com/first": "1" }));
    const created = await waitFor(raw, { timeoutMs: 30_000, what: "the pool Deployment" });
    assert.deepEqual(created.managers.map((m) => m.operation), ["Update"], "created by POST: the fields sit under the manager's Update entry");
    assert.equal(created.annotations["example.com/first"], "1");

    // The change is applied after adopting the created fields: the dropped annotation goes.
    await apply(aFunction("adopt", ns).podAnnotations({ "example.com/second": "2" }));
    const changed = await waitFor(async () => {
      const d = await raw();
      return d?.annotations["example.com/second"] === "2" ? d : undefined;
    }, { timeoutMs: 30_000, what: "the changed pool Deployment" });
    assert.equal(changed.annotations["example.com/first"], undefined, "the annotation the Function no longer sets is removed");
    assert.deepEqual(changed.managers.map((m) => m.operation), ["Apply"], "one Apply entry owns every field now");
    await waitForCondition("adopt", "Ready", (c) => c.status === "True");
  });

  it("reports ImagePullBackOff as Degraded with the pod's message", async () => {
    await apply(aFunction("badimage", ns).image("registry.example.com/does-not-exist:1").podAnnotations({ [FAKE_POD_ANNOTATIONS.waitingReason]: "ImagePullBackOff" }));
    const s = await waitForCondition("badimage", "Degraded", (c) => c.status === "True");
    assert.equal(cond(s, "Degraded")?.reason, "ImagePullBackOff");
    assert.match(cond(s, "Degraded")?.message ?? "", /cannot pull its image/);
    assert.equal(cond(s, "Ready")?.reason, "ImagePullBackOff");
    // The Event follows the status write (the recorder sends it after): wait for it, do not race it.
    await waitFor(async () => (await client.list(rawEvents, { namespace: ns, fieldSelector: "involvedObject.name=badimage" })).items.some((e) => e["reason"] === "ImagePullBackOff"), {
      what: "the ImagePullBackOff Event",
    });
  });

  it("reports a crash-looping setup as SetupFailing with the exit code's meaning", async () => {
    await apply(aFunction("crashing", ns).podAnnotations({ [FAKE_POD_ANNOTATIONS.exitCode]: "2", [FAKE_POD_ANNOTATIONS.delay]: "100ms", [FAKE_POD_ANNOTATIONS.message]: "cannot import app.model" }));
    // The fake pod is Ready for a moment before it crashes (a real worker never is: readiness
    // follows setup()), so wait for the Deployment's ready count to catch up too.
    const s = await waitForCondition("crashing", "Degraded", (c, st) => c.status === "True" && cond(st, "Ready")?.status === "False");
    assert.equal(cond(s, "Degraded")?.reason, "SetupFailing");
    assert.match(cond(s, "Degraded")?.message ?? "", /exit code 2 \(BadConfiguration[^)]*\): cannot import app\.model/);
    assert.equal(cond(s, "Ready")?.reason, "SetupFailing");
  });

  it("reports InvalidGPU without creating a pool", async () => {
    await apply(aFunction("bad-gpu", ns).gpu({ type: "h100-does-not-exist", count: 1 }));
    const s = await waitForCondition("bad-gpu", "Degraded", (c) => c.reason === "InvalidGPU");
    assert.match(cond(s, "Degraded")?.message ?? "", /shared-t4, whole-a, whole-b/);
    assert.equal(await client.get(deployments, "bad-gpu-pool", ns), undefined);
  });

  it("isolated Functions have no pool and are Ready", async () => {
    await apply(aFunction("iso", ns).with({ invocation: "isolated" }));
    const s = await waitForCondition("iso", "Ready", (c) => c.reason === "IsolatedInvocation");
    assert.equal(s.deployment, undefined);
    assert.equal(await client.get(deployments, "iso-pool", ns), undefined);
  });

  it("deleting the Function garbage-collects the Deployment and pods", async () => {
    await apply(aFunction("doomed", ns));
    await waitForCondition("doomed", "Ready", (c) => c.status === "True");
    await client.delete(hearthFunctions, "doomed", ns);
    await waitFor(
      async () =>
        (await client.get(deployments, "doomed-pool", ns)) === undefined && (await podsOf("doomed")).length === 0,
      { timeoutMs: 120_000, what: "garbage collection" },
    );
  });

  it("an idle operator writes a new Function's status at once, with no Event for its first readiness; an outage's Events still come", async () => {
    // Workers take 6 s to turn ready: a status before then was written while they started.
    await apply(aFunction("blip", ns).podAnnotations({ [FAKE_POD_ANNOTATIONS.readyDelay]: "6s" }));
    await waitForCondition("blip", "Ready", (c) => c.status === "False" && c.reason === "WorkersStarting", 30_000);
    await waitForCondition("blip", "Ready", (c) => c.status === "True");
    const reasons = async (): Promise<string[]> => {
      await op.running?.manager.recorder.flush();
      return (await client.list(rawEvents, { namespace: ns, fieldSelector: "involvedObject.name=blip" })).items.map((e) => String(e["reason"]));
    };
    assert.deepEqual(await reasons(), [], "no Event for the first readiness");

    // An outage: the worker goes; its replacement is not ready for 6 s.
    for (const p of await podsOf("blip")) await client.delete(pods, p.metadata.name, ns);
    await waitFor(async () => (await reasons()).includes("NotReady"), { timeoutMs: 60_000, what: "a NotReady Event" });
    await waitFor(async () => (await reasons()).includes("Ready"), { timeoutMs: 60_000, what: "a Ready Event after the outage" });
    assert.equal(cond(await status("blip"), "Ready")?.status, "True");
  });

  it("releases status fields the autoscaler's old field manager held (upgrade)", async () => {
    await apply(aFunction("legacy", ns));
    await waitForCondition("legacy", "Ready", (c) => c.status === "True");
    // What the autoscaler wrote under its own field manager before it went through the Function controller.
    const at = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    await client.applyStatus(hearthFunctions, { name: "legacy", namespace: ns }, { conditions: [{ type: "Autoscaling", status: "True", reason: "ScalingActive", message: "old", lastTransitionTime: at }], desiredReplicas: 1, queueDepth: 0 }, { fieldManager: "hearth-autoscaler" });
    // No autoscaler runs in this operator: the next status write leaves those fields out, and the
    // old manager's hold on them is released, so they go. (A setup report wakes the controller.)
    await client.applyStatus(hearthFunctions, { name: "legacy", namespace: ns }, { setup: { message: "loading: 50%" } }, { fieldManager: "test-setup" });
    const statusManagers = async (): Promise<string[]> => {
      // The client's schemas drop managedFields: read the raw object.
      const raw = await client.transport.request("GET", `/apis/hearth.dev/v1alpha1/namespaces/${ns}/functions/legacy`, { verb: "get", resource: "functions" });
      const mf = (raw as { metadata?: { managedFields?: { manager?: string; subresource?: string }[] } }).metadata?.managedFields ?? [];
      return mf.filter((m) => m.subresource === "status").map((m) => m.manager ?? "");
    };
    const s = await waitFor(
      async () => {
        const st = await status("legacy");
        return cond(st, "Autoscaling") === undefined && st.desiredReplicas === undefined && !(await statusManagers()).includes("hearth-autoscaler") ? st : undefined;
      },
      { timeoutMs: 60_000, what: "the old autoscaler's status fields released" },
    );
    assert.equal(cond(s, "Ready")?.status, "True", "the Function controller's own status stays");
    assert.match(cond(s, "Ready")?.message ?? "", /loading: 50%/);
    assert.equal(s.setup?.message, "loading: 50%", "another manager's field is untouched");
  });

  it("a graceful stop writes the paced status writes still pending", async (t) => {
    // Never ready during the test: progress (the setup message) alone is paced after the first write.
    await apply(aFunction("paced", ns).podAnnotations({ [FAKE_POD_ANNOTATIONS.readyDelay]: "10m" }));
    await waitForCondition("paced", "Ready", (c) => c.reason === "WorkersStarting", 30_000);
    await client.applyStatus(hearthFunctions, { name: "paced", namespace: ns }, { setup: { message: "loading: 10%" } }, { fieldManager: "test-setup" });
    const queue = op.running?.manager.queue("function");
    await waitFor(async () => (queue?.waiting ?? 0) > 0 || /loading: 10%/.test(cond(await status("paced"), "Ready")?.message ?? ""), { timeoutMs: 30_000, what: "a paced write pending" });
    const pendingAtStop = !/loading: 10%/.test(cond(await status("paced"), "Ready")?.message ?? "");
    // (On a machine so slow that the pace passed, the write happened before the stop: still correct.)
    t.diagnostic(`paced write pending at the stop: ${pendingAtStop}`);
    await op.stop();
    assert.match(cond(await status("paced"), "Ready")?.message ?? "", /loading: 10%/, `written by the stop (pending at stop: ${pendingAtStop})`);
    op = await startTestOperator({ namespace: ns, config: opConfig });
  });

  it("a restarted operator writes nothing when nothing changed", async () => {
    await waitForCondition("cpu-fn", "Ready", (c) => c.status === "True");
    const fns = await client.list(functionsRaw, { namespace: ns });
    const snapshot = async (): Promise<string> => {
      const lists = await Promise.all([
        client.list(deployments, { namespace: ns }),
        client.list(secrets, { namespace: ns }),
        client.list(functionsRaw, { namespace: ns }),
      ]);
      return lists.flatMap((l) => l.items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion ?? ""}`)).sort().join(",");
    };
    // A graceful stop drains the queue and writes what status pacing still held back (flush),
    // then flushes Events, before it releases the lease: the next operator finds nothing to write.
    // (No rollout or scaling still under way: a Deployment changing after the stop is not the operator's write.)
    const queue0 = op.running?.manager.queue("function");
    await waitFor(
      async () => {
        const settled = (await client.list(deployments, { namespace: ns })).items.every(
          (d) => d.status.observedGeneration === d.metadata.generation && (d.status.replicas ?? 0) === (d.status.updatedReplicas ?? 0) && (d.status.replicas ?? 0) === d.spec.replicas,
        );
        return settled && queue0 !== undefined && queue0.depth === 0 && queue0.inFlight === 0;
      },
      { timeoutMs: 90_000, what: "Deployments settled and the queue idle" },
    );
    await op.stop();
    const eventsBefore = (await client.list(rawEvents, { namespace: ns })).items.length;
    const before = await snapshot();
    op = await startTestOperator({ namespace: ns, config: opConfig });
    await waitFor(async () => (await op.isLeader()) && op.running?.manager.synced() === true, { what: "new operator leading and synced" });
    const queue = op.running?.manager.queue("function");
    await waitFor(async () => queue !== undefined && queue.depth === 0 && queue.inFlight === 0, { what: "initial reconciles done" });
    // Every Function was reconciled once more, and nothing was written.
    const reconciled = (await op.metrics()).match(/hearth_controller_reconcile_total\{controller="function",result="success"\} (\d+)/);
    assert.ok(Number(reconciled?.[1] ?? 0) >= fns.items.length, `reconciled ${reconciled?.[1] ?? 0} of ${fns.items.length} Functions`);
    assert.equal(await op.writes((r) => r !== "leases"), 0, "writes other than the lease");
    assert.equal(await snapshot(), before, "resourceVersions unchanged");
    assert.equal((await client.list(rawEvents, { namespace: ns })).items.length, eventsBefore, "no new Events");
  });

  it("deletes the worker-token Secret an older operator wrote once the pool has rolled (upgrade)", async () => {
    await op.stop();
    await apply(aFunction("legacy", ns));
    const fn = await client.get(hearthFunctions, "legacy", ns);
    assert.ok(fn?.metadata.uid !== undefined);
    // As an older operator left it: owned by the Function, labelled, with its token hash.
    const owner = { apiVersion: "hearth.dev/v1alpha1", kind: "Function", name: "legacy", uid: fn.metadata.uid, controller: true, blockOwnerDeletion: true };
    const labels = { "app.kubernetes.io/managed-by": "hearth", "app.kubernetes.io/part-of": "hearth", "hearth.dev/function": "legacy" };
    await client.create(secrets, { metadata: { name: "legacy-worker", namespace: ns, labels, annotations: { "hearth.dev/token-hash": "0123456789abcdef" }, ownerReferences: [owner] }, type: "Opaque", data: { token: Buffer.from("old").toString("base64") } });
    // A look-alike that is not Hearth's stays.
    await client.create(secrets, { metadata: { name: "mine-worker", namespace: ns }, type: "Opaque", data: { token: Buffer.from("mine").toString("base64") } });
    op = await startTestOperator({ namespace: ns, config: opConfig });
    await waitForCondition("legacy", "Ready", (c) => c.status === "True");
    await waitFor(async () => (await client.get(secrets, "legacy-worker", ns)) === undefined, { timeoutMs: 60_000, what: "the old worker Secret deleted" });
    const dep = await client.get(deployments, "legacy-pool", ns);
    assert.ok(dep !== undefined && (dep.status.updatedReplicas ?? 0) === (dep.status.replicas ?? 0), "deleted only once the pool had rolled");
    assert.ok((await client.get(secrets, "mine-worker", ns)) !== undefined, "someone else's Secret stays");
    assert.match(op.logs(), /deleted the worker-token Secret of an older operator/);
  });
});

