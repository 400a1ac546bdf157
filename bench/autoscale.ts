// bench/autoscale: how fast Hearth's autoscaler reacts, and what a cold start from zero costs.
//
//   node hack/with-cluster.ts node_modules/.bin/node bench/autoscale.ts [--spikes 20] [--tasks 500] [--colds 5]
//   (or HEARTH_KUBECONFIG=<path> node_modules/.bin/node bench/autoscale.ts …)
//
// 1. Reaction: a pool at 1 (maxReplicas 10, no workers, so tasks stay queued); a step from 0 to
//    --tasks queued tasks (one :pushMany) → time until the Function's warmPool.replicas is raised
//    (the autoscaler's decision, written through the scale subresource) and until the
//    Deployment's spec.replicas follows (the Function controller). Then the tasks are cancelled and
//    the pool returns to 1 (scaleDownDelaySeconds: 0) before the next spike. p50/p99 over --spikes.
//    Baseline in the same run: a direct scale-subresource PATCH (what `kubectl scale`, an HPA or
//    KEDA do after their own 15-30 s polling) → Deployment spec.replicas raised: the floor of the
//    Kubernetes path, without the demand push and the decision. Anchors (not measured): Knative
//    KPA 2 s tick / 6 s panic window, HPA 15 s sync, KEDA 30 s polling.
// 2. Cold start (dev mode: real worker processes via the local runner): a pool at 0, one :push →
//    first result (long-poll), split into Hearth's share (demand push + decision + Function controller → the
//    Deployment raised; then the gateway's lease-to-result) and the rest (ReplicaSet, scheduler,
//    kwok, the runner's 250 ms poll, the worker process start and its setup()). Baseline: the
//    same call on the warm pool it left behind.
// Not part of the test suite.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { namespaces } from "../src/kube/resources.ts";
import { testClient } from "../test/support/operator.ts";
import { CALLER_TOKEN, deploymentReplicas, functionsResource, getFunction, slowFunction, startStack } from "../test/support/autoscale.ts";

const { values: args } = parseArgs({
  options: {
    spikes: { type: "string", default: "20" },
    tasks: { type: "string", default: "500" },
    colds: { type: "string", default: "5" },
  },
});
const SPIKES = Number(args.spikes);
const TASKS = Number(args.tasks);
const COLDS = Number(args.colds);

if ((process.env["HEARTH_KUBECONFIG"] ?? "") === "") {
  console.error("HEARTH_KUBECONFIG is not set: run through `node hack/with-cluster.ts node_modules/.bin/node bench/autoscale.ts`");
  process.exit(2);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

/** Polls `read` every 2 ms until `ok`; the time it became true (ms, performance clock). */
async function until(read: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await read()) return performance.now();
    if (performance.now() > deadline) throw new Error("timed out");
    await sleep(2);
  }
}

const ns = `bench-as-${randomBytes(3).toString("hex")}`;
const admin = await testClient();
await admin.apply(namespaces, { metadata: { name: ns } });
const stack = await startStack(ns);
const { client, gateway } = stack;
const headers = { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json" };
try {
  // ---- 1. reaction -------------------------------------------------------------------------
  await client.apply(functionsResource, slowFunction(ns, "spiky", { minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 0 }));
  await until(async () => (await getFunction(client, ns, "spiky"))?.status?.conditions?.some((c) => c.type === "Autoscaling" && c.status === "True") === true, 60_000);
  await until(async () => (await fetch(`${gateway.url}/v1/namespaces/${ns}/functions/spiky/stats`, { headers })).ok, 30_000);
  // The runner would start workers for this pool: stop it, this part measures decisions only.
  await stack.runner.stop();
  const fnRaised: number[] = [];
  const depRaised: number[] = [];
  for (let i = 0; i < SPIKES; i++) {
    const inputs = Array.from({ length: TASKS }, (_, k) => ({ i: k, ms: 1 }));
    const t0 = performance.now();
    const res = await fetch(`${gateway.url}/v1/namespaces/${ns}/functions/spiky:pushMany`, { method: "POST", headers, body: JSON.stringify({ inputs }) });
    if (res.status !== 202) throw new Error(`pushMany ${res.status}: ${await res.text()}`);
    const tFn = await until(async () => ((await getFunction(client, ns, "spiky"))?.spec?.warmPool?.replicas ?? 0) > 1);
    const tDep = await until(async () => ((await deploymentReplicas(client, ns, "spiky")).spec ?? 0) > 1);
    fnRaised.push(tFn - t0);
    depRaised.push(tDep - t0);
    await fetch(`${gateway.url}/v1/namespaces/${ns}/functions/spiky/tasks`, { method: "DELETE", headers });
    await until(async () => (await getFunction(client, ns, "spiky"))?.spec?.warmPool?.replicas === 1 && (await deploymentReplicas(client, ns, "spiky")).spec === 1);
  }
  // Baseline: an external autoscaler's write, straight to the scale subresource.
  await client.apply(functionsResource, slowFunction(ns, "manual", { minReplicas: 1, maxReplicas: 10, autoscaler: "external" }));
  await until(async () => (await deploymentReplicas(client, ns, "manual")).spec === 1, 60_000);
  const direct: number[] = [];
  for (let i = 0; i < SPIKES; i++) {
    const t0 = performance.now();
    await client.scale(functionsResource, "manual", ns, 10);
    const t = await until(async () => (await deploymentReplicas(client, ns, "manual")).spec === 10);
    direct.push(t - t0);
    await client.scale(functionsResource, "manual", ns, 1);
    await until(async () => (await deploymentReplicas(client, ns, "manual")).spec === 1);
  }
  console.log(`reaction: step 0 → ${TASKS} queued tasks on a pool at 1, ${SPIKES} spikes`);
  console.log(`  push → Function warmPool.replicas raised   p50 ${fmt(pct(fnRaised, 50))}  p99 ${fmt(pct(fnRaised, 99))}  (goal p99 ≤ 1000 ms)`);
  console.log(`  push → Deployment spec.replicas raised      p50 ${fmt(pct(depRaised, 50))}  p99 ${fmt(pct(depRaised, 99))}`);
  console.log(`  baseline: scale PATCH → Deployment raised   p50 ${fmt(pct(direct, 50))}  p99 ${fmt(pct(direct, 99))}`);
  console.log(`  Hearth's push + decision over the baseline  p50 ${fmt(pct(depRaised, 50) - pct(direct, 50))}`);
  console.log(`  anchors (not measured): Knative KPA 2 s tick / 6 s panic window, HPA 15 s sync, KEDA 30 s polling`);

  // ---- 2. cold start from zero (real worker processes) -------------------------------------
  // Part 1's pools go first: the runner below plays every pod of the namespace, and the "cold"
  // pool must be the only one with workers (a cold start means no process at all).
  await client.delete(functionsResource, "spiky", ns);
  await client.delete(functionsResource, "manual", ns);
  const runner2 = (await import("../src/dev/runner.ts")).LocalRunner;
  const { repoRoot } = await import("../test/support/autoscale.ts");
  const { pino } = await import("pino");
  const runner = new runner2({ client, namespaces: [ns], logger: pino({ level: "warn" }), tools: { repoRoot, node: process.execPath, python: "python3" }, intervalMs: 250, output: () => {} });
  runner.start();
  const coldWorkers = (): number => runner.running.filter((p) => p.startsWith(`${ns}/cold-pool-`)).length;
  await client.apply(functionsResource, slowFunction(ns, "cold", { minReplicas: 0, maxReplicas: 2, scaleDownDelaySeconds: 3 }));
  await until(async () => (await fetch(`${gateway.url}/v1/namespaces/${ns}/functions/cold/stats`, { headers })).ok, 30_000);
  const rows: { total: number; raised: number; lease: number; warm: number }[] = [];
  for (let i = 0; i < COLDS; i++) {
    // Back at zero: no pod, no process (the scale-down waits for demand 0; the runner drains).
    await until(async () => ((await getFunction(client, ns, "cold"))?.spec?.warmPool?.replicas ?? 0) === 0 && (await deploymentReplicas(client, ns, "cold")).status === 0 && coldWorkers() === 0, 120_000);
    await sleep(11_000); // the gateway forgets the stopped worker (workerTimeout 10 s): a true cold start
    const t0 = performance.now();
    const pushed = await fetch(`${gateway.url}/v1/namespaces/${ns}/functions/cold:push`, { method: "POST", headers, body: JSON.stringify({ i, ms: 0 }) });
    if (pushed.status !== 202) throw new Error(`cold push ${pushed.status}: ${await pushed.text()}`);
    const { id } = (await pushed.json()) as { id: string };
    const done = (async () => {
      for (;;) {
        const r = await fetch(`${gateway.url}/v1/tasks/${id}?wait=60s`, { headers });
        const doc = (await r.json()) as { status: string; createdAt: string; startedAt?: string };
        if (["succeeded", "failed", "cancelled"].includes(doc.status)) return { doc, at: performance.now() };
      }
    })();
    const tRaised = await until(async () => ((await deploymentReplicas(client, ns, "cold")).spec ?? 0) >= 1, 60_000);
    const { doc, at: tDone } = await done;
    if (doc.status !== "succeeded" || doc.startedAt === undefined) throw new Error(`cold call ended ${JSON.stringify(doc)}`);
    // Queued → leased, by the gateway's own clock (the cold start the gateway records).
    const lease = Date.parse(doc.startedAt) - Date.parse(doc.createdAt);
    // Warm baseline: the pool is still up (scaleDownDelaySeconds 3 keeps it through this call).
    const w0 = performance.now();
    const warm = await fetch(`${gateway.url}/v1/namespaces/${ns}/functions/cold:run?timeout=60s`, { method: "POST", headers, body: JSON.stringify({ i, ms: 0 }) });
    const tWarm = performance.now() - w0;
    if (!warm.ok) throw new Error(`warm run ${warm.status}`);
    rows.push({ total: tDone - t0, raised: tRaised - t0, lease, warm: tWarm });
    console.log(`  cold ${i + 1}/${COLDS}: total ${fmt(tDone - t0)}, raised ${fmt(tRaised - t0)}, queued → lease ${fmt(lease)}, warm ${fmt(tWarm)}`);
  }
  const med = (k: keyof (typeof rows)[number]): number => pct(rows.map((r) => r[k]), 50);
  const hearth = med("raised") + Math.max(0, med("total") - med("lease"));
  console.log(`cold start from zero to first result (dev mode, real worker process), ${COLDS} runs, medians`);
  console.log(`  total (push → result)                       ${fmt(med("total"))}`);
  console.log(`  Hearth: push → Deployment raised            ${fmt(med("raised"))}`);
  console.log(`  queued → first lease (gateway's cold start) ${fmt(med("lease"))}`);
  console.log(`  not Hearth: pod + process start + setup()   ${fmt(med("lease") - med("raised"))}  (ReplicaSet, scheduler, kwok, runner poll ≤ 250 ms, Node start, setup)`);
  console.log(`  Hearth: lease → result                      ${fmt(med("total") - med("lease"))}`);
  console.log(`  Hearth's own share                          ${fmt(hearth)} = ${((100 * hearth) / med("total")).toFixed(1)} % of the total`);
  console.log(`  baseline: the same call on the warm pool    ${fmt(med("warm"))}`);
  await runner.stop();
} finally {
  await stack.stop();
  await client.delete(namespaces, ns).catch(() => false);
}
