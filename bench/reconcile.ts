// bench/reconcile: N Functions applied at once → time until every Deployment exists and every
// Function is Ready, beside a baseline measured in the same run on the same cluster: a bare
// client creating the same N Deployments (same pod template) and awaiting them. Also the
// operator's RSS once N and then M Functions are Ready.
//
//   node hack/with-cluster.ts node_modules/.bin/node bench/reconcile.ts [--functions 1000] [--total 5000]
//   HEARTH_KUBECONFIG=… node_modules/.bin/node bench/reconcile.ts --functions 200 --total 0 --skip-baseline
//   (cluster from `node hack/cluster.ts up --profiling`) … --apiserver-pprof /tmp/prof: the apiserver's
//   CPU profiles of each phase (baseline-*.pb.gz, operator-*.pb.gz; `go tool pprof -top` merges them)
//
// Like with like: the baseline POSTs its Deployments, so by default the Functions are POSTed too —
// what `kubectl create -f` does, and `kubectl apply -f` (client-side, its default) for an object
// that does not exist yet. `--create apply` creates them by server-side apply instead
// (`kubectl apply --server-side`, Argo CD's server-side sync): the apiserver then also runs
// structured-merge over each new Function, which the baseline's Deployments never pay.
//
// The operator runs as a real child process (`hearth operator`), so its RSS is its own.
import { randomBytes } from "node:crypto";
import { readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { functionStatus } from "../src/api/v1alpha1/index.ts";
import { desiredObjects } from "../src/controllers/function/desired.ts";
import { endpointOf, FIELD_MANAGER } from "../src/controllers/function/names.ts";
import { observePool } from "../src/controllers/function/observe.ts";
import { selectorString } from "../src/controllers/function/plan.ts";
import { computeStatus } from "../src/controllers/function/status.ts";
import { workerSelector } from "../src/workload/labels.ts";
import { fakeNode } from "../src/devcluster/nodes.ts";
import { SystemClock } from "../src/kube/clock.ts";
import { KubeClient, Transport } from "../src/kube/client.ts";
import { Informer } from "../src/kube/informer.ts";
import { loadConnection } from "../src/kube/kubeconfig.ts";
import type { Deployment, Unstructured } from "../src/kube/objects.ts";
import { deployments, hearthFunctions, namespaces, nodes, pods } from "../src/kube/resources.ts";
import { parseOperatorConfig, type OperatorConfigInput } from "../src/operator/config.ts";
import { aFunction } from "../test/support/function-builder.ts";
import { installCrds } from "../test/support/operator.ts";
import { chartOperatorSettings, startOperatorProcess, type OperatorProcess } from "./support/operator-process.ts";
import { apiserverCounts, countsSince, countTotals, formatCounts, type ApiserverCounts } from "./support/apiserver-counts.ts";
import { ApiserverProfiler } from "./support/apiserver-profile.ts";
import { clusterCpu, cpuSeconds, cpuSince, formatCpu } from "./support/cpu.ts";

const { values: args } = parseArgs({
  options: {
    functions: { type: "string", default: "1000" },
    total: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "32" },
    "skip-baseline": { type: "boolean", default: false },
    "pods-per-node": { type: "string", default: "1000" },
    /** V8 flags for the operator process (as NODE_OPTIONS passes them); default the chart's operator.nodeOptions. */
    "operator-node-options": { type: "string" },
    /** Extra environment of the operator, NAME=VALUE,…; default the chart's operator.extraEnv ("" for none). */
    "operator-env": { type: "string" },
    /** Seconds to wait after everything is Ready before reading RSS again (steady state). */
    settle: { type: "string", default: "20" },
    /** controllers.function.concurrency of the operator (default: the config's default). */
    "operator-concurrency": { type: "string" },
    /** Run the operator without its idle reclaim (memory.reclaimIdleSeconds: 0; src/operator/memory.ts). */
    "no-reclaim": { type: "boolean", default: false },
    /** Run the operator without the malloc_trim addon (native/malloc-trim.c; src/operator/malloc-trim.ts). */
    "no-malloc-trim": { type: "boolean", default: false },
    /** Run the operator without a warm compile cache (the image has one: see the Dockerfile). */
    "no-compile-cache": { type: "boolean", default: false },
    /**
     * Write V8 heap snapshots of the operator into this directory, after the RSS readings of each
     * point. Writing one leaves native memory behind: RSS read after a snapshot is inflated, so
     * take snapshots and RSS figures from separate runs, or only at the last point.
     */
    "heap-snapshots": { type: "string" },
    /** Where to take them: any of idle, n, total (comma-separated). */
    "heap-snapshots-at": { type: "string", default: "idle,n,total" },
    /** Write the apiserver's CPU profiles of the baseline, the first operator phase and the floor here (bench/support/apiserver-profile.ts). */
    "apiserver-pprof": { type: "string" },
    /** How the bench creates its Functions: post (default, like the baseline's Deployments) or apply (server-side apply, field manager bench-user). */
    create: { type: "string", default: "post" },
    /**
     * Also measure the floor, right after the baseline: the same Functions made Ready by a
     * zero-cost operator (the bench itself makes the operator's two writes — the same Deployment,
     * owned by the Function, and the same Ready status by server-side apply — with no reconcile,
     * cache or watch of its own). Its ratio to the baseline is the most any operator can reach on
     * this cluster; the operator's ratio to it is what the operator itself costs.
     */
    floor: { type: "boolean", default: false },
  },
});
if (args.create !== "post" && args.create !== "apply") throw new Error(`--create ${args.create}: expected post or apply`);
const chart = chartOperatorSettings();
const operatorNodeOptions = args["operator-node-options"] ?? chart.nodeOptions;
const operatorEnv: Record<string, string> =
  args["operator-env"] === undefined ? chart.env : Object.fromEntries(args["operator-env"].split(",").filter((kv) => kv.includes("=")).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const N = Number(args.functions);
const TOTAL = Number(args.total);
const CONCURRENCY = Number(args.concurrency);
const PODS_PER_NODE = Number(args["pods-per-node"]);
const kubeconfig = process.env["HEARTH_KUBECONFIG"] ?? process.env["KUBECONFIG"];
if (kubeconfig === undefined) throw new Error("set HEARTH_KUBECONFIG (or run through hack/with-cluster.ts)");

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const id = randomBytes(3).toString("hex");
const clock = new SystemClock();
const silent = pino({ level: "silent" });
const connection = await loadConnection({ kubeconfig });
const transport = new Transport({ connection, clock, qps: 0, maxSockets: CONCURRENCY });
const pprofDir = args["apiserver-pprof"];
const profiler = pprofDir === undefined ? undefined : new ApiserverProfiler({ connection, dir: pprofDir, log });
const client = new KubeClient(transport, "hearth-bench");
/** The floor phase's writes, under the operator's field manager (its status is owned as the operator's is). */
const operatorClient = client.as(FIELD_MANAGER);
const SIGNING_KEY = "bench-signing-key-0123456789abcdef";

/** Small pods: the bench measures control-plane work, not capacity. */
const benchFunction = (name: string, ns: string) =>
  aFunction(name, ns).handler("app.echo:Echo").with({ resources: { cpu: "1m", memory: "8Mi", ephemeralStorage: "8Mi" } }).replicas(1);

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++];
        if (item !== undefined) await fn(item);
      }
    }),
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** p50/p99 of `to − from` over the names both maps know (ms → s): one stage of the path to Ready. */
function stage(names: readonly string[], from: Map<string, number>, to: Map<string, number>): string {
  const xs = names.flatMap((n) => {
    const a = from.get(n);
    const b = to.get(n);
    return a !== undefined && b !== undefined ? [b - a] : [];
  });
  xs.sort((a, b) => a - b);
  return `p50 ${(percentile(xs, 50) / 1000).toFixed(2)} s, p99 ${(percentile(xs, 99) / 1000).toFixed(2)} s`;
}

async function ensureNodes(pods: number): Promise<void> {
  const count = Math.ceil((pods * 1.1) / PODS_PER_NODE) + 1;
  log(`creating ${count} fake nodes with ${PODS_PER_NODE} pod slots each`);
  await pool(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const node = fakeNode({ name: `bench-${id}-${i}`, cpu: "10000", memory: "64Ti", pods: PODS_PER_NODE });
      await client.create(nodes, node as unknown as { metadata: { name: string } });
    },
  );
}

async function newNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${id}`;
  await client.apply(namespaces, { metadata: { name } });
  // Pods are rejected until the ServiceAccount controller made `default`.
  const sa = { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, schema: namespaces.schema };
  for (let i = 0; i < 200 && (await client.get(sa, "default", name)) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
  return name;
}

async function deleteNamespace(name: string): Promise<void> {
  await client.delete(namespaces, name);
  const t0 = Date.now();
  for (;;) {
    const left = (await client.list(pods, { namespace: name, limit: 1 })).items.length;
    if (left === 0 && (await client.get(namespaces, name)) === undefined) break;
    if (Date.now() - t0 > 600_000) {
      log(`namespace ${name} still terminating after 10 min; continuing`);
      break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  log(`namespace ${name} gone after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const config = parseOperatorConfig({ workerTokens: { signingKey: SIGNING_KEY } });

/** Baseline: the same Deployments (same template) created by a bare client, awaited through a watch. */
async function baseline(): Promise<{ seconds: number; p50: number; p99: number; cpu: Map<string, number>; stages: string; api: ApiserverCounts }> {
  const ns = await newNamespace("bench-base");
  const ready = new Map<string, number>();
  const seen = new Map<string, number>();
  const created = new Map<string, number>();
  const inf = new Informer({ client, resource: deployments, clock, logger: silent, namespaces: [ns] });
  const track = (d: Deployment): void => {
    if (!seen.has(d.metadata.name)) seen.set(d.metadata.name, Date.now());
    if (d.status.readyReplicas === 1 && !ready.has(d.metadata.name)) ready.set(d.metadata.name, Date.now());
  };
  inf.on({ add: track, update: (_, d) => track(d) });
  inf.start();
  await inf.waitForSync();
  const api0 = await apiserverCounts(transport);
  const t0 = Date.now();
  const cpu0 = cpuSeconds(kubeconfig ?? "");
  profiler?.start("baseline");
  const names = Array.from({ length: N }, (_, i) => `f${i}`);
  await pool(names, CONCURRENCY, async (name) => {
    const fn = benchFunction(name, ns).uid("00000000-0000-0000-0000-000000000000").build();
    const d = desiredObjects(fn, config, { setReplicas: true });
    if (!d.ok) throw new Error(d.message);
    const dep = d.objects.deployment;
    // Same Deployment minus the owner reference (no Function owns it here).
    const meta = { ...dep.metadata };
    delete meta["ownerReferences"];
    created.set(name, Date.now());
    await client.create(deployments, { ...dep, metadata: { ...meta, name: dep.metadata.name } });
  });
  const createdAll = Date.now();
  while (ready.size < N) await new Promise((r) => setTimeout(r, 100));
  const seconds = (Date.now() - t0) / 1000;
  const cpu = cpuSince(cpu0, cpuSeconds(kubeconfig ?? ""));
  const api = countsSince(api0, await apiserverCounts(transport));
  await profiler?.stop();
  await inf.stop();
  const lat = [...ready.entries()].map(([n, t]) => t - (created.get(n.replace(/-pool$/, "")) ?? t0)).sort((a, b) => a - b);
  const byFunction = (m: Map<string, number>): Map<string, number> => new Map([...m].map(([n, t]) => [n.replace(/-pool$/, ""), t]));
  const stages = `create → Deployment seen ${stage(names, created, byFunction(seen))}; → Deployment ready ${stage(names, byFunction(seen), byFunction(ready))}`;
  log(`baseline: ${N} Deployments created in ${((createdAll - t0) / 1000).toFixed(1)} s, all ready after ${seconds.toFixed(1)} s`);
  await deleteNamespace(ns);
  return { seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), cpu, stages, api };
}

/** `hearth operator` with this bench's config (bench/support/operator-process.ts). */
async function startOperator(ns: string): Promise<OperatorProcess> {
  const cfg: OperatorConfigInput = {
    namespaces: [ns],
    workerTokens: { signingKey: SIGNING_KEY },
    server: { host: "127.0.0.1", port: 0 },
    // The Helm chart's timings (charts/hearth/values.yaml): the config defaults (6/4/1 s) are for
    // fast failover in tests and lose the lease on a loaded 2-core machine.
    leaderElection: { enabled: true, namespace: ns, name: "hearth-operator", leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 },
    logLevel: "warn",
    ...(args["no-reclaim"] ? { memory: { reclaimIdleSeconds: 0 } } : {}),
  };
  // No gateway runs here: without the finalizer (it would wait for one on every deletion).
  cfg.controllers = { function: { gatewayFinalizer: false, ...(args["operator-concurrency"] !== undefined ? { concurrency: Number(args["operator-concurrency"]) } : {}) } };
  const snapshots = args["heap-snapshots"];
  const nodeOptions = snapshots === undefined ? operatorNodeOptions : `${operatorNodeOptions} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}`;
  return startOperatorProcess({ config: cfg, kubeconfig: kubeconfig ?? "", id: `bench-${id}`, nodeOptions, env: operatorEnv, startTimeoutMs: 30_000, compileCache: !args["no-compile-cache"], mallocTrim: !args["no-malloc-trim"] });
}

/** With --heap-snapshots: SIGUSR2 → the operator writes a snapshot (--heapsnapshot-signal); waits until it is complete. */
async function snapshot(op: OperatorProcess, point: "idle" | "n" | "total", label: string): Promise<void> {
  const dir = args["heap-snapshots"];
  if (dir === undefined || op.pid === undefined || !args["heap-snapshots-at"].split(",").includes(point)) return;
  const before = new Set(readdirSync(dir));
  process.kill(op.pid, "SIGUSR2");
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith(".heapsnapshot"));
    // The snapshot is written in one go on the main thread: /metrics answers again once it is done.
    if (file !== undefined && (await op.metric("hearth_operator_nodejs_heap_size_used_bytes").then(() => true, () => false))) {
      renameSync(join(dir, file), join(dir, `operator-${label}.heapsnapshot`));
      log(`heap snapshot ${label}: ${join(dir, `operator-${label}.heapsnapshot`)}`);
      return;
    }
  }
}

interface Phase {
  seconds: number;
  deploymentsSeconds: number;
  p50: number;
  p99: number;
  /** Where apply→Ready went: create → Deployment seen → Deployment ready → Function Ready (p50/p99). */
  stages: string;
}

/** What stands in for the operator in the floor phase: told of each created Function and each Deployment update. */
interface StandIn {
  created(fn: Unstructured): void;
  deployment(d: Deployment): void;
}

/** Applies Functions `from`..`to`-1 and waits until each has a Deployment and is Ready. */
async function operatorPhase(ns: string, from: number, to: number, fns: Informer<Unstructured>, deps: Informer<Deployment>, standIn?: StandIn): Promise<Phase> {
  const readyAt = new Map<string, number>();
  const appliedAt = new Map<string, number>();
  const isReady = (o: Unstructured): boolean => functionStatus.safeParse(o["status"] ?? {}).data?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
  const track = (o: Unstructured): void => {
    if (isReady(o) && !readyAt.has(o.metadata.name)) readyAt.set(o.metadata.name, Date.now());
  };
  fns.on({ add: track, update: (_, o) => track(o) });
  const names = Array.from({ length: to - from }, (_, i) => `f${from + i}`);
  const want = new Set(names);
  const depSeenAt = new Map<string, number>();
  const depReadyAt = new Map<string, number>();
  const trackDeployment = (d: Deployment): void => {
    const fn = d.metadata.name.replace(/-pool$/, "");
    if (!want.has(fn)) return;
    if (!depSeenAt.has(fn)) depSeenAt.set(fn, Date.now());
    if (d.status.readyReplicas === 1 && !depReadyAt.has(fn)) depReadyAt.set(fn, Date.now());
    standIn?.deployment(d);
  };
  deps.on({ add: trackDeployment, update: (_, d) => trackDeployment(d) });
  const t0 = Date.now();
  await pool(names, CONCURRENCY, async (name) => {
    appliedAt.set(name, Date.now());
    const manifest = benchFunction(name, ns).manifest();
    const made = args.create === "apply" ? await client.apply(hearthFunctions, manifest, { fieldManager: "bench-user" }) : await client.create(hearthFunctions, manifest);
    standIn?.created(made);
  });
  log(`${args.create === "apply" ? "applied (server-side)" : "created (POST)"} ${names.length} Functions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let deploymentsSeconds = Number.NaN;
  for (;;) {
    if (Number.isNaN(deploymentsSeconds) && names.every((n) => deps.getByName(ns, `${n}-pool`) !== undefined)) deploymentsSeconds = (Date.now() - t0) / 1000;
    const done = [...want].filter((n) => readyAt.has(n)).length;
    if (done === want.size && !Number.isNaN(deploymentsSeconds)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (Date.now() - t0) / 1000;
  const lat = names.map((n) => (readyAt.get(n) ?? 0) - (appliedAt.get(n) ?? 0)).sort((a, b) => a - b);
  const stages = `create → Deployment seen ${stage(names, appliedAt, depSeenAt)}; → Deployment ready ${stage(names, depSeenAt, depReadyAt)}; → Function Ready ${stage(names, depReadyAt, readyAt)}`;
  return { seconds, deploymentsSeconds, p50: percentile(lat, 50), p99: percentile(lat, 99), stages };
}

/**
 * The floor: Functions made Ready by the bench standing in for an operator that costs nothing —
 * per Function the operator's own two writes and nothing else: its Deployment (desiredObjects,
 * owned by the Function), created as soon as the Function's POST answers, and its Ready status
 * (computeStatus, the operator's own code, from the ready Deployment), applied under the
 * operator's field manager as soon as the Deployment is ready. Runs right after the baseline.
 */
async function floorPhase(): Promise<{ phase: Phase; cpu: Map<string, number>; api: ApiserverCounts }> {
  const ns = await newNamespace("bench-floor");
  const fns = new Informer({ client, resource: hearthFunctions, clock, logger: silent, namespaces: [ns] });
  const deps = new Informer({ client, resource: deployments, clock, logger: silent, namespaces: [ns] });
  fns.start();
  deps.start();
  await Promise.all([fns.waitForSync(), deps.waitForSync()]);
  const statusWritten = new Set<string>();
  const writes: Promise<unknown>[] = [];
  const standIn: StandIn = {
    created: (made) => {
      const fn = benchFunction(made.metadata.name, ns).uid(made.metadata.uid ?? "").build();
      const d = desiredObjects(fn, config, { setReplicas: true });
      if (!d.ok) throw new Error(d.message);
      writes.push(operatorClient.create(deployments, d.objects.deployment));
    },
    deployment: (d) => {
      const name = d.metadata.name.replace(/-pool$/, "");
      if (d.status.readyReplicas !== 1 || statusWritten.has(name)) return;
      statusWritten.add(name);
      const status = computeStatus({
        generation: 1,
        namespace: ns,
        name,
        endpoint: endpointOf(ns, name),
        deployment: d.metadata.name,
        gpu: undefined,
        selector: selectorString(workerSelector(name, "warm")),
        situation: { kind: "pool", pool: observePool(d, []), minReplicas: 1 },
        previous: undefined,
        now: new Date().toISOString(),
      });
      writes.push(operatorClient.applyStatus(hearthFunctions, { name, namespace: ns }, status));
    },
  };
  const api0 = await apiserverCounts(transport);
  const cpu0 = cpuSeconds(kubeconfig ?? "");
  profiler?.start("floor");
  const phase = await operatorPhase(ns, 0, N, fns, deps, standIn);
  const cpu = cpuSince(cpu0, cpuSeconds(kubeconfig ?? ""));
  const api = countsSince(api0, await apiserverCounts(transport));
  await profiler?.stop();
  await Promise.all(writes);
  await fns.stop();
  await deps.stop();
  await deleteNamespace(ns);
  return { phase, cpu, api };
}

async function main(): Promise<void> {
  await installCrds(client);
  await ensureNodes(Math.max(N, TOTAL));
  const base = args["skip-baseline"] ? undefined : await baseline();
  if (args.floor) log("floor: the same Functions, the bench making the operator's two writes (no operator)");
  const floor = args.floor ? await floorPhase() : undefined;

  const ns = await newNamespace("bench-op");
  const op = await startOperator(ns);
  const fns = new Informer({ client, resource: hearthFunctions, clock, logger: silent, namespaces: [ns] });
  const deps = new Informer({ client, resource: deployments, clock, logger: silent, namespaces: [ns] });
  fns.start();
  deps.start();
  await Promise.all([fns.waitForSync(), deps.waitForSync()]);
  const rssIdle = await op.rssMiB();
  const memIdle = await op.memoryBreakdown();
  await snapshot(op, "idle", "idle");

  const settle = Number(args.settle) * 1000;
  const api0 = await apiserverCounts(transport);
  const cpu0 = cpuSeconds(kubeconfig ?? "", { operator: op.pid });
  profiler?.start("operator");
  const first = await operatorPhase(ns, 0, N, fns, deps);
  const cpuN = cpuSince(cpu0, cpuSeconds(kubeconfig ?? "", { operator: op.pid }));
  const apiN = countsSince(api0, await apiserverCounts(transport));
  const informerEvents = await op.sumBy("hearth_informer_events_total", ["resource"]);
  const queueWait = async (): Promise<string> => {
    const sum = await op.metric("hearth_workqueue_queue_duration_seconds_sum", { name: "function" });
    const count = await op.metric("hearth_workqueue_queue_duration_seconds_count", { name: "function" });
    const rsum = await op.metric("hearth_controller_reconcile_duration_seconds_sum", { controller: "function" });
    const rcount = await op.metric("hearth_controller_reconcile_duration_seconds_count", { controller: "function" });
    return `function queue: mean wait ${((sum / Math.max(1, count)) * 1000).toFixed(0)} ms over ${count} reconciles, mean reconcile ${((rsum / Math.max(1, rcount)) * 1000).toFixed(0)} ms`;
  };
  const queueAtN = await queueWait();
  const rssPeakN = await op.rssMiB();
  await profiler?.stop();
  await new Promise((r) => setTimeout(r, settle));
  const rssAtN = await op.rssMiB();
  const heap = async (): Promise<string> =>
    `${((await op.metric("hearth_operator_nodejs_heap_size_used_bytes")) / 1048576).toFixed(0)}/${((await op.metric("hearth_operator_nodejs_heap_size_total_bytes")) / 1048576).toFixed(0)}`;
  const heapAtN = await heap();
  const memAtN = await op.memoryBreakdown();
  let heapAtTotal: string | undefined;
  let memAtTotal: string | undefined;
  const writesAtN = await op.metric("hearth_kube_requests_total");
  const byKindAtN = await op.sumBy("hearth_kube_requests_total", ["verb", "resource"]);
  log(`operator: ${N} Functions Ready after ${first.seconds.toFixed(1)} s; RSS ${rssPeakN.toFixed(0)} → ${rssAtN.toFixed(0)} MiB`);
  await snapshot(op, "n", String(N));

  let rssAtTotal: number | undefined;
  let rssPeakTotal: number | undefined;
  let second: Phase | undefined;
  if (TOTAL > N) {
    second = await operatorPhase(ns, N, TOTAL, fns, deps);
    rssPeakTotal = await op.rssMiB();
    await new Promise((r) => setTimeout(r, settle));
    rssAtTotal = await op.rssMiB();
    heapAtTotal = await heap();
    memAtTotal = await op.memoryBreakdown();
    log(`operator: ${TOTAL} Functions Ready; RSS ${rssAtTotal.toFixed(0)} MiB; heap used/total ${heapAtTotal} MiB`);
    await snapshot(op, "total", String(TOTAL));
  }
  const gcSeconds = await op.metric("hearth_operator_nodejs_gc_duration_seconds_sum");
  const operatorCpu = await op.metric("hearth_operator_process_cpu_seconds_total");
  const reconciles = await op.metric("hearth_controller_reconcile_total");
  const errors = await op.metric("hearth_controller_reconcile_errors_total");
  const byController = await op.sumBy("hearth_controller_reconcile_total", ["controller"]);
  await fns.stop();
  await deps.stop();
  await op.stop();

  const rate = N / first.seconds;
  const lines = [
    `bench/reconcile — ${N} Functions (1 warm worker each) created by ${args.create === "apply" ? "server-side apply" : "POST, as the baseline's Deployments"}, concurrency ${CONCURRENCY}, operator node flags: ${operatorNodeOptions || "(none)"}, env: ${Object.entries(operatorEnv).map(([k, v]) => `${k}=${v}`).join(" ") || "(none)"}${args["no-compile-cache"] ? ", no compile cache" : ", warm compile cache"}${args["no-reclaim"] ? ", no idle reclaim" : ""}${args["no-malloc-trim"] ? ", no malloc_trim" : ", malloc_trim addon"}, ${new Date().toISOString()}`,
    "",
    "                                   seconds   per second   apply→Ready p50   p99",
  ];
  if (base !== undefined) lines.push(`baseline: bare client, ${N} Deployments   ${base.seconds.toFixed(1).padStart(7)}   ${(N / base.seconds).toFixed(1).padStart(10)}   ${base.p50.toFixed(0).padStart(12)} ms   ${base.p99.toFixed(0)} ms`);
  lines.push(`operator: ${N} Functions → Ready     ${first.seconds.toFixed(1).padStart(7)}   ${rate.toFixed(1).padStart(10)}   ${first.p50.toFixed(0).padStart(12)} ms   ${first.p99.toFixed(0)} ms`);
  lines.push(`          every Deployment existed after ${first.deploymentsSeconds.toFixed(1)} s`);
  if (base !== undefined) lines.push(`stages, baseline: ${base.stages}`);
  lines.push(`stages, operator: ${first.stages}`);
  if (base !== undefined) lines.push(`throughput ratio operator/baseline: ${(rate / (N / base.seconds)).toFixed(2)}× (goal ≥ 0.9×, issue 9)`);
  if (second !== undefined) lines.push(`operator: +${TOTAL - N} Functions → Ready ${second.seconds.toFixed(1)} s (p50 ${second.p50.toFixed(0)} ms, p99 ${second.p99.toFixed(0)} ms)`);
  lines.push(`operator V8 heap used/total (MiB, not after a forced GC): ${N}: ${heapAtN}; ${TOTAL}: ${heapAtTotal ?? "-"}`);
  lines.push(`operator memory idle (MiB): ${memIdle}`);
  lines.push(`operator memory at ${N} (MiB): ${memAtN}`);
  if (memAtTotal !== undefined) lines.push(`operator memory at ${TOTAL} (MiB): ${memAtTotal}`);
  lines.push(`operator CPU ${operatorCpu.toFixed(1)} s in all, GC pauses (wall time, main thread) ${gcSeconds.toFixed(1)} s`);
  lines.push(`operator RSS (MiB): idle ${rssIdle.toFixed(0)}; ${N} Functions: ${rssPeakN.toFixed(0)} when all Ready, ${rssAtN.toFixed(0)} after ${args.settle} s`);
  if (rssAtTotal !== undefined) lines.push(`                   ${TOTAL} Functions: ${(rssPeakTotal ?? 0).toFixed(0)} when all Ready, ${rssAtTotal.toFixed(0)} after ${args.settle} s (goal ≤ 150)`);
  lines.push(`operator API requests for the first ${N}: ${writesAtN} (${(writesAtN / N).toFixed(1)} per Function, goal ≤ 3); reconciles total ${reconciles} for ${TOTAL || N} Functions (${(reconciles / (TOTAL || N)).toFixed(1)} per Function, goal ≤ 5), errors ${errors}`);
  const breakdown = (by: Map<string, number>, per: number): string =>
    [...by.entries()]
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v} (${(v / per).toFixed(2)})`)
      .join(", ");
  lines.push(`          requests by verb and resource (per Function): ${breakdown(byKindAtN, N)}`);
  lines.push(`          reconciles by controller (per Function): ${breakdown(byController, TOTAL || N)}`);
  lines.push(`          ${queueAtN} (first ${N})`);
  lines.push(`          operator watch events received per Function (first ${N}): ${breakdown(informerEvents, N)}`);
  if (base !== undefined) lines.push(`baseline ${formatCounts(base.api, N, "Deployment")}`);
  lines.push(`operator ${formatCounts(apiN, N, "Function")}`);
  if (base !== undefined) {
    const b = countTotals(base.api, N);
    const o = countTotals(apiN, N);
    lines.push(`operator/baseline apiserver work per object (counts, not load-sensitive): writes ${(o.writes / b.writes).toFixed(2)}×, requests ${(o.requests / b.requests).toFixed(2)}×, watch events sent ${(o.watchEvents / b.watchEvents).toFixed(2)}×`);
  }
  if (base !== undefined) lines.push(`CPU seconds, baseline (${N} Deployments → ready): ${formatCpu(base.cpu)}`);
  lines.push(`CPU seconds, operator (${N} Functions → Ready): ${formatCpu(cpuN)}`);
  const perObject = (cpu: Map<string, number>): number => (1000 * clusterCpu(cpu)) / N;
  if (base !== undefined) {
    lines.push(
      `CPU per object, control plane + operator: bare Deployment ${perObject(base.cpu).toFixed(1)} ms, Function ${perObject(cpuN).toFixed(1)} ms (${(perObject(cpuN) / perObject(base.cpu)).toFixed(2)}×; ` +
        `were the machine's CPU all that limits the rate, the rate ratio would be ${(perObject(base.cpu) / perObject(cpuN)).toFixed(2)}×)`,
    );
  }
  await deleteNamespace(ns);
  if (floor !== undefined) {
    const floorRate = N / floor.phase.seconds;
    lines.push(`floor: ${N} Functions → Ready, zero-cost operator ${floor.phase.seconds.toFixed(1)} s, ${floorRate.toFixed(1)}/s, apply→Ready p50 ${floor.phase.p50.toFixed(0)} ms, p99 ${floor.phase.p99.toFixed(0)} ms`);
    lines.push(`stages, floor: ${floor.phase.stages}`);
    if (base !== undefined) {
      lines.push(`floor throughput ratio /baseline: ${(floorRate / (N / base.seconds)).toFixed(2)}× (what the CRD itself costs: no operator can do better here); operator/floor ${(rate / floorRate).toFixed(2)}×`);
      lines.push(`CPU per object, control plane: floor ${perObject(floor.cpu).toFixed(1)} ms (${(perObject(floor.cpu) / perObject(base.cpu)).toFixed(2)}× the bare Deployment's)`);
    }
    lines.push(`floor ${formatCounts(floor.api, N, "Function")}`);
    lines.push(`CPU seconds, floor: ${formatCpu(floor.cpu)}`);
  }
  console.log(lines.join("\n"));
  const leftover = (await client.list(nodes, { labelSelector: "" })).items.filter((n) => n.metadata.name.startsWith(`bench-${id}-`));
  await pool(leftover, 8, async (n) => void (await client.delete(nodes, n.metadata.name)));
  transport.close();
}

await main();
