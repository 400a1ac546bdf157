// GPU capacity runs out, on the real test cluster with real worker processes: a pool at zero of
// a GPU type no node has yet. Calls arrive; the autoscaler asks for the workers demand needs and
// no more; their pods stay Pending (Unschedulable) and the Function says it waits for that GPU;
// the calls stay queued, not failed. Then a fake GPU node of that type appears (kwok): the
// pods are scheduled, the local runner starts real workers, and every call completes once.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { pods } from "../../src/kube/resources.ts";
import { kubeConfigFromEnv, uniqueName, waitFor, withFakeNodes, withNamespace } from "../support/cluster.ts";
import { condition, deploymentReplicas, functionsResource, getFunction, pushMany, slowFunction, startStack, waitTask } from "../support/autoscale.ts";

const TASKS = 4;

it("GPU capacity exhausted: the Function waits for the GPU, calls stay queued, no Pending pods beyond demand; a new GPU node runs them all", { timeout: 300_000 }, async (t) => {
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "asgpu");
  const product = uniqueName("Test-T4").toUpperCase();
  const stack = await startStack(ns, {
    gpu: {
      strategy: "none",
      tolerations: [
        { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
        { key: "hearth.dev/test-dedicated", operator: "Exists", effect: "NoSchedule" },
      ],
    },
    gpuTypes: { "t4-test": { products: [product], memory: "15Gi" } },
  });
  t.after(() => stack.stop());
  const { client, gateway } = stack;
  const logFile = join(mkdtempSync(join(tmpdir(), "hearth-gpu-")), "calls.log");
  writeFileSync(logFile, "");

  await client.apply(
    functionsResource,
    slowFunction(ns, "gpu", { minReplicas: 0, maxReplicas: 8, scaleDownDelaySeconds: 3 }, { gpu: { type: "t4-test", count: 1 }, env: [{ name: "SLOW_LOG", value: logFile }] }),
  );
  await waitFor(async () => condition(await getFunction(client, ns, "gpu"), "Autoscaling")?.status === "True", { timeoutMs: 60_000, what: "Autoscaling True" });

  // Watch the pool the whole time: how many pods exist and what the Function asks for.
  let maxPods = 0;
  let maxReplicas = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const [list, fn] = await Promise.all([client.list(pods, { namespace: ns, labelSelector: "hearth.dev/function=gpu" }), getFunction(client, ns, "gpu")]);
      maxPods = Math.max(maxPods, list.items.filter((p) => p.metadata.deletionTimestamp === undefined).length);
      maxReplicas = Math.max(maxReplicas, fn?.spec?.warmPool?.replicas ?? 0);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.after(async () => {
    watching = false;
    await watcher;
  });

  let ids: string[] = [];
  await waitFor(
    async () => {
      try {
        ids = await pushMany(gateway.url, ns, "gpu", Array.from({ length: TASKS }, (_, i) => ({ i, ms: 1500 })));
        return true;
      } catch (err) {
        if (String(err).includes("404")) return false; // the gateway's informer has not seen the Function yet
        throw err;
      }
    },
    { timeoutMs: 30_000, what: "push accepted" },
  );

  // The Function says what it waits for: the resource and the GPU type.
  const degraded = await waitFor(
    async () => {
      const c = condition(await getFunction(client, ns, "gpu"), "Degraded");
      return c?.status === "True" && c.reason === "WaitingForGPU" ? c : undefined;
    },
    { timeoutMs: 90_000, what: "Degraded WaitingForGPU" },
  ).catch(async (err: unknown) => {
    throw new Error(`${String(err)}; Function status: ${JSON.stringify((await getFunction(client, ns, "gpu"))?.status)}`);
  });
  assert.match(degraded.message, /waiting for nvidia\.com\/gpu on t4-test/);
  assert.match(degraded.message, /queued calls wait/);

  // Demand is 4 calls of concurrency 1: 4 workers asked for, all Pending; not maxReplicas (8).
  await waitFor(async () => (await deploymentReplicas(client, ns, "gpu")).spec === TASKS, { timeoutMs: 30_000, what: `Deployment at ${TASKS}` });
  // A few autoscaler and Function-controller rounds with nothing schedulable: the calls wait.
  const waitUntil = Date.now() + 4000;
  while (Date.now() < waitUntil) {
    for (const id of ids) {
      const doc = (await (await fetch(`${gateway.url}/v1/tasks/${id}`, { headers: { authorization: "Bearer autoscale-test-caller-token" } })).json()) as { status: string };
      assert.equal(doc.status, "queued", `task ${id} waits for a GPU, it is not failed or run`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(stack.runner.running.length, 0, "no worker process: nothing was scheduled");
  assert.equal((await getFunction(client, ns, "gpu"))?.spec?.warmPool?.replicas, TASKS, "the autoscaler holds demand's size, not maxReplicas");
  assert.ok(maxPods <= TASKS, `at most ${TASKS} pods ever existed, saw ${maxPods}`);

  // Capacity appears: a node with 2 GPUs of that type. Two workers start and drain the queue.
  await withFakeNodes(t, [{ name: "t4", gpuTaint: true, gpu: { product, memoryMiB: 15360, count: 2 } }], kc);
  const docs = [];
  for (const id of ids) docs.push(await waitTask(gateway.url, id, "120s"));
  assert.deepEqual(
    docs.map((d) => d.status),
    ids.map(() => "succeeded"),
    JSON.stringify(docs.filter((d) => d.status !== "succeeded")),
  );
  assert.ok(docs.every((d) => d.attempts === 1), "each call ran once");
  const lines = readFileSync(logFile, "utf8").trim().split("\n");
  assert.equal(lines.filter((l) => l.startsWith("start ")).length, TASKS, "each call started once");
  assert.equal(lines.filter((l) => l.startsWith("end ")).length, TASKS, "each call ended once");
  const workers = new Set(docs.map((d) => (d.output as { worker: string }).worker));
  assert.ok(workers.size >= 1 && workers.size <= 2, `ran on the new node's 2 GPUs: ${[...workers].join(",")}`);

  // Demand gone: the pool returns to zero and the GPU wait is over.
  await waitFor(async () => (await getFunction(client, ns, "gpu"))?.spec?.warmPool?.replicas === 0, { timeoutMs: 60_000, what: "replicas back to 0" });
  await waitFor(async () => condition(await getFunction(client, ns, "gpu"), "Degraded")?.status === "False", { timeoutMs: 60_000, what: "Degraded False" });
  assert.ok(maxPods <= TASKS, `at most ${TASKS} pods ever existed, saw ${maxPods}`);
  assert.ok(maxReplicas <= TASKS, `the autoscaler never asked beyond demand: max ${maxReplicas}`);
});
