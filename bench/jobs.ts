// bench/jobs: N isolated Hearth Jobs → time until all are Complete, beside N batch Jobs created
// and awaited by a bare client in the same run, on the same cluster and node.
//
//   node hack/with-cluster.ts node_modules/.bin/node bench/jobs.ts [--jobs 500] [--rounds 1] [--delay 1s]
//   (or HEARTH_KUBECONFIG=<path> node_modules/.bin/node bench/jobs.ts …)
//
// Both sides run the same pod (same template rendered by the same code, same annotations: exit 0
// after --delay, same resources, same node) through kube-controller-manager's Job controller; the
// Hearth side adds the operator — a real `hearth operator` child process with every controller,
// as deployed — rendering the batch Job, writing status and Events. Reported: wall time from the
// first create to the last Complete, the rate, create → pod Running latency (p50/p99, as seen by
// this process's watches), the operator's API writes and the Job controller's reconciles per Job
// (from the operator's /metrics), and CPU seconds per process. Rounds alternate which side goes
// first. Not part of the test suite.
//
// --apiserver-pprof DIR (a cluster from `node hack/cluster.ts up --profiling`, through
// HEARTH_KUBECONFIG): the apiserver's CPU profiles while each side runs, <side>-<n>.pb.gz
// (bench/support/apiserver-profile.ts; `go tool pprof -top DIR/hearth-*.pb.gz` merges a side's).
import { parseArgs } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { hearthFunction, hearthJob } from "../src/api/v1alpha1/index.ts";
import { LABEL_JOB, renderBatchJob } from "../src/controllers/job/batch-job.ts";
import { FIELD_MANAGER as JOB_FIELD_MANAGER, jobPodsResource } from "../src/controllers/job/controller.ts";
import { createFakeNode, fakePodAnnotations, removeFakeNodes } from "../src/devcluster/index.ts";
import { createClient } from "../src/kube/client.ts";
import { SystemClock } from "../src/kube/clock.ts";
import { Informer } from "../src/kube/informer.ts";
import { fromKubeconfigFile } from "../src/kube/kubeconfig.ts";
import type { Unstructured } from "../src/kube/objects.ts";
import { hearthFunctions, hearthJobs, namespaces, untyped } from "../src/kube/resources.ts";
import { parseOperatorConfig, type OperatorConfig, type OperatorConfigInput } from "../src/operator/config.ts";
import { installCrds } from "../test/support/operator.ts";
import { apiserverCounts, countsSince, countTotals, formatCounts } from "./support/apiserver-counts.ts";
import { ApiserverProfiler } from "./support/apiserver-profile.ts";
import { clusterCpu, cpuSeconds, cpuSince, formatCpu } from "./support/cpu.ts";
import { startOperatorProcess, type Metrics, type OperatorProcess } from "./support/operator-process.ts";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "500" },
    rounds: { type: "string", default: "1" },
    delay: { type: "string", default: "1s" },
    concurrency: { type: "string", default: "16" },
    /** The Job controller's reconcile concurrency (default: the controller's). */
    "operator-concurrency": { type: "string" },
    /** The operator's statusDebounceSeconds (default: the controller's). */
    debounce: { type: "string" },
    /** Run one side only (profiling); no ratio is printed. */
    only: { type: "string" },
    /**
     * Also a third side, the floor: a zero-cost operator. The client creates each Hearth Job and
     * its batch Job (owned by it) and, once the batch Job is Complete, applies the Hearth Job's end
     * status (the document the operator wrote in this round's Hearth side): the operator's writes
     * and nothing else. Its ratio to the bare side is the most any operator can reach here.
     */
    owned: { type: "boolean", default: false },
    /** V8 flags for the operator process, e.g. "--operator-node-options=--cpu-prof --cpu-prof-dir=/tmp/prof" (with "="). */
    "operator-node-options": { type: "string", default: "" },
    /** Write the apiserver's CPU profiles of each side here (see the header). */
    "apiserver-pprof": { type: "string" },
  },
});
const N = Number(args.jobs);
const ROUNDS = Number(args.rounds);
const CREATE_CONCURRENCY = Number(args.concurrency);

const kubeconfigPath = process.env["HEARTH_KUBECONFIG"];
if (kubeconfigPath === undefined || kubeconfigPath === "") {
  console.error("HEARTH_KUBECONFIG is not set: run through `node hack/with-cluster.ts node_modules/.bin/node bench/jobs.ts`");
  process.exit(2);
}

const clock = new SystemClock();
const logger = pino({ level: process.env["HEARTH_BENCH_LOG"] ?? "warn" });
const connection = await fromKubeconfigFile(kubeconfigPath);
const client = createClient({ connection, clock, fieldManager: "hearth-bench", qps: 1000, burst: 2000 });
const kc = new KubeConfig();
kc.loadFromFile(kubeconfigPath);
const core = kc.makeApiClient(CoreV1Api);
/** The floor side's writes, under the Job controller's field manager. */
const jobControllerClient = client.as(JOB_FIELD_MANAGER);
/** A Hearth Job's end status as the operator wrote it (this round's Hearth side): what the floor side applies. */
let endStatus: Record<string, unknown> | undefined;
const batchJobsUntyped = untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true });

const say = (line: string): void => void process.stderr.write(line + "\n");
const pprofDir = args["apiserver-pprof"];
const profiler = pprofDir === undefined ? undefined : new ApiserverProfiler({ connection, dir: pprofDir, log: say, seconds: 5 });

/** The operator child process while one runs (its CPU is reported beside the cluster's). */
let operatorPid: number | undefined;

/** CPU seconds used so far by each cluster process, the operator and this one (the driver). */
const cpuNow = (): Map<string, number> => cpuSeconds(kubeconfigPath ?? "", { operator: operatorPid });

function cpuDelta(before: Map<string, number>): Map<string, number> {
  return cpuSince(before, cpuNow());
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++];
        if (item !== undefined) await fn(item);
      }
    }),
  );
}

async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withNamespace<T>(prefix: string, fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `${prefix}-${Date.now().toString(36)}`;
  await client.create(namespaces, { metadata: { name: ns } });
  await until("default ServiceAccount", 30_000, async () => (await core.listNamespacedServiceAccount({ namespace: ns })).items.some((s) => s.metadata?.name === "default"));
  try {
    return await fn(ns);
  } finally {
    const t0 = performance.now();
    await client.delete(namespaces, ns);
    // The next measurement must not share the cluster with this namespace's teardown.
    await until(`namespace ${ns} deleted`, 300_000, async () => (await client.get(namespaces, ns)) === undefined);
    say(`  (namespace ${ns} cleaned up in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

interface Result {
  side: "bare batch Jobs" | "Hearth Jobs" | "bare, owned";
  seconds: number;
  rate: number;
  runningP50: number;
  runningP99: number;
  writesPerJob?: number;
  reconcilesPerJob?: number;
  /** What the apiserver counted per Job, from every client (bench/support/apiserver-counts.ts). */
  api: { writes: number; requests: number; watchEvents: number };
  /** CPU ms per Job of the control plane and the operator (bench/support/cpu.ts clusterCpu). */
  cpuMsPerJob: number;
}

/**
 * Times one side: `create(i)` makes object i; `jobOfPod` names the job a pod belongs to;
 * `complete` watches the objects that turn Complete; `onBatchJob` (the floor's stand-in for the
 * operator) is told of every batch Job this side's own batch Job watch sees.
 */
async function measure(
  side: Result["side"],
  ns: string,
  podJobLabel: string,
  completion: Informer<Unstructured>,
  isComplete: (o: Unstructured) => boolean,
  create: (name: string) => Promise<void>,
  onBatchJob?: (b: Unstructured) => void,
): Promise<Result> {
  const createdAt = new Map<string, number>();
  const runningAt = new Map<string, number>();
  const completed = new Set<string>();
  const pods = new Informer({ client, resource: jobPodsResource, clock, logger, namespaces: [ns], labelSelector: podJobLabel, name: "bench-pods" });
  pods.on({
    update: (_, p) => {
      const job = p.metadata.labels?.[podJobLabel];
      if (job !== undefined && p.status?.phase === "Running" && !runningAt.has(job)) runningAt.set(job, performance.now());
    },
  });
  const onComplete = (o: Unstructured): void => {
    if (isComplete(o)) completed.add(o.metadata.name);
  };
  completion.on({ add: onComplete, update: (_, o) => onComplete(o) });
  // When each stage finished for the last Job: batch Job exists, pod exists, pod Running.
  let lastBatchJob = 0;
  let lastPod = 0;
  const batch = new Informer<Unstructured>({ client, resource: batchJobsUntyped, clock, logger, namespaces: [ns], name: "bench-stage-batch" });
  const batchAt = new Map<string, number>();
  const batchDoneAt = new Map<string, number>();
  /** When kube-controller-manager decided the end (SuccessCriteriaMet), before it marks Complete. */
  const batchDecidedAt = new Map<string, number>();
  const batchDone = (b: Unstructured): void => {
    const job = b.metadata.labels?.[LABEL_JOB];
    if (job === undefined) return;
    if (!batchDecidedAt.has(job) && (conditionTrue(b, "SuccessCriteriaMet") || conditionTrue(b, "Complete"))) batchDecidedAt.set(job, performance.now());
    if (!batchDoneAt.has(job) && conditionTrue(b, "Complete")) batchDoneAt.set(job, performance.now());
  };
  const doneAt = new Map<string, number>();
  completion.on({
    add: (o) => void (isComplete(o) && !doneAt.has(o.metadata.name) && doneAt.set(o.metadata.name, performance.now())),
    update: (_, o) => void (isComplete(o) && !doneAt.has(o.metadata.name) && doneAt.set(o.metadata.name, performance.now())),
  });
  batch.on({
    add: (b) => {
      lastBatchJob = performance.now();
      const job = b.metadata.labels?.[LABEL_JOB];
      if (job !== undefined) batchAt.set(job, lastBatchJob);
      batchDone(b);
      onBatchJob?.(b);
    },
    update: (_, b) => {
      batchDone(b);
      onBatchJob?.(b);
    },
  });
  const podAt = new Map<string, number>();
  pods.on({
    add: (p) => {
      lastPod = performance.now();
      const job = p.metadata.labels?.[podJobLabel];
      if (job !== undefined && !podAt.has(job)) podAt.set(job, lastPod);
    },
  });
  pods.start();
  completion.start();
  batch.start();
  await Promise.all([pods.waitForSync(), completion.waitForSync(), batch.waitForSync()]);

  const names = Array.from({ length: N }, (_, i) => `j${String(i).padStart(4, "0")}`);
  const api0 = await apiserverCounts(client.transport);
  const cpu0 = cpuNow();
  profiler?.start(side === "Hearth Jobs" ? "hearth" : side === "bare batch Jobs" ? "bare" : "owned");
  const t0 = performance.now();
  await pool(names, CREATE_CONCURRENCY, async (name) => {
    createdAt.set(name, performance.now());
    await create(name);
  });
  const created = performance.now();
  await until(`${side}: all Complete (${completed.size}/${N})`, 900_000, () => completed.size >= N);
  const seconds = (performance.now() - t0) / 1000;
  const api = countsSince(api0, await apiserverCounts(client.transport));
  await profiler?.stop();
  await Promise.all([pods.stop(), completion.stop(), batch.stop()]);
  const at = (t: number): string => ((t - t0) / 1000).toFixed(1);
  const lastRunning = Math.max(...runningAt.values());
  const latencies = names.flatMap((n) => {
    const c = createdAt.get(n);
    const r = runningAt.get(n);
    return c !== undefined && r !== undefined ? [(r - c) / 1000] : [];
  });
  const stage = (from: Map<string, number>, to: Map<string, number>): number[] =>
    names.flatMap((n) => {
      const a = from.get(n);
      const b = to.get(n);
      return a !== undefined && b !== undefined ? [(b - a) / 1000] : [];
    });
  const toBatch = stage(createdAt, batchAt);
  const p50p99 = (xs: number[]): string => `p50 ${median(xs).toFixed(2)} s, p99 ${quantile(xs, 0.99).toFixed(2)} s`;
  say(`  ${side}: create → batch Job ${p50p99(toBatch)}; batch Job → pod ${p50p99(stage(batchAt, podAt))}; pod → Running ${p50p99(stage(podAt, runningAt))}`);
  say(
    `  ${side}: Running → batch Job SuccessCriteriaMet ${p50p99(stage(runningAt, batchDecidedAt))}; → Complete ${p50p99(stage(batchDecidedAt, batchDoneAt))}; ` +
      `batch Job Complete → ${side === "Hearth Jobs" ? "Hearth Job Complete" : "seen"} ${p50p99(stage(batchDoneAt, doneAt))}`,
  );
  say(
    `  ${side}: last create at ${at(created)} s, last batch Job ${at(lastBatchJob)} s, last pod ${at(lastPod)} s, last Running ${at(lastRunning)} s, all Complete ${seconds.toFixed(1)} s (${latencies.length} Running seen)`,
  );
  const cpu = cpuDelta(cpu0);
  say(`  CPU seconds: ${formatCpu(cpu)}`);
  say(`  ${formatCounts(api, N, "Job")}`);
  return { side, seconds, rate: N / seconds, runningP50: median(latencies), runningP99: quantile(latencies, 0.99), api: countTotals(api, N), cpuMsPerJob: (1000 * clusterCpu(cpu)) / N };
}

const conditionTrue = (o: Unstructured, type: string): boolean =>
  (((o["status"] as { conditions?: { type: string; status: string }[] } | undefined)?.conditions) ?? []).some((c) => c.type === type && c.status === "True");

/** The pod's input: the same small document on both sides (a pod annotation, mounted as a file). */
const inputOf = (name: string): Record<string, unknown> => ({ item: name });

/**
 * The bare side creates the very batch Job the operator would (same pod template, rendered by
 * the same code from the operator's own config, same input annotation) minus the owner
 * reference, so the difference measured is the operator's work and not the size of the pods.
 */
async function runBare(config: OperatorConfig, annotations: Record<string, string>, owned = false): Promise<Result> {
  return withNamespace("bench-bare", async (ns) => {
    const fn = hearthFunction.parse({ apiVersion: "hearth.dev/v1alpha1", kind: "Function", metadata: { name: "bench", namespace: ns }, spec: benchFunctionSpec(annotations) });
    const completion = new Informer<Unstructured>({ client, resource: owned ? hearthJobs : batchJobsUntyped, clock, logger, namespaces: [ns], name: "bench-batch" });
    // The floor's stand-in for the operator's one end-of-Job status write (told by measure's batch Job watch).
    const ended = new Set<string>();
    const writes: Promise<unknown>[] = [];
    const end = (b: Unstructured): void => {
      const job = b.metadata.labels?.[LABEL_JOB];
      if (job === undefined || ended.has(job) || !conditionTrue(b, "Complete")) return;
      ended.add(job);
      const now = new Date().toISOString();
      const status = { ...endStatus, conditions: (endStatus?.["conditions"] as Record<string, unknown>[] | undefined)?.map((c) => ({ ...c, lastTransitionTime: now })) };
      writes.push(jobControllerClient.applyStatus(hearthJobs, { name: job, namespace: ns }, status));
    };
    if (owned && endStatus === undefined) throw new Error("--owned: no Hearth Job end status to copy (the Hearth side runs first in each round)");
    const result = await measure(owned ? "bare, owned" : "bare batch Jobs", ns, LABEL_JOB, completion, (o) => conditionTrue(o, "Complete"), async (name) => {
      const spec = { functionRef: { name: "bench" }, input: inputOf(name) };
      // --owned: the client also creates the Hearth Job and makes it the batch Job's owner, as the
      // operator would, and writes its end status (above), but nothing reconciles it: what the
      // CR, its owner reference and its one status write cost alone.
      const uid = owned ? (await client.create(hearthJobs, { metadata: { name, namespace: ns }, spec })).metadata.uid : "none";
      const job = hearthJob.parse({ apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name, namespace: ns, uid }, spec });
      const data = JSON.stringify(inputOf(name));
      const rendered = renderBatchJob(job, fn, config, { kind: "annotation", data }, { maxRetries: 0, timeoutSeconds: 300, deadlineSlackSeconds: 600, ttlSecondsAfterFinished: undefined });
      if (!rendered.ok) throw new Error(rendered.message);
      const { ownerReferences: owners, ...metadata } = rendered.batchJob.metadata ?? {};
      await client.create(batchJobsUntyped, { ...(rendered.batchJob as Record<string, unknown>), metadata: { ...metadata, name, ...(owned ? { ownerReferences: owners } : {}) } });
    }, owned ? end : undefined);
    await Promise.all(writes);
    return result;
  });
}

function benchFunctionSpec(annotations: Record<string, string>): Record<string, unknown> {
  return {
    image: "registry.example.com/bench:1",
    handler: "app:Model",
    invocation: "isolated",
    resources: { cpu: "10m", memory: "16Mi", ephemeralStorage: "16Mi" },
    podMetadata: { annotations },
  };
}

const SIGNING_KEY = "bench-signing-key-0123456789abcdef";

/** The operator's config: one namespace, every controller as deployed, the bench node. */
function operatorConfigInput(ns: string, selector: Record<string, string>): OperatorConfigInput {
  const job: Record<string, number> = {};
  if (args["operator-concurrency"] !== undefined) job["concurrency"] = Number(args["operator-concurrency"]);
  if (args.debounce !== undefined) job["statusDebounceSeconds"] = Number(args.debounce);
  return {
    namespaces: [ns],
    workerTokens: { signingKey: SIGNING_KEY },
    server: { host: "127.0.0.1", port: 0 },
    // The Helm chart's timings (charts/hearth/values.yaml), as bench/reconcile: the config defaults
    // (6/4/1 s) are for fast failover in tests; on a loaded 2-core machine a renewal can take over
    // 4 s, the operator then loses the lease and stops, and the bench with it.
    leaderElection: { enabled: true, namespace: ns, name: "hearth-operator", leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 },
    logLevel: "warn",
    pod: { nodeSelector: selector },
    // No gateway runs here: no Function finalizer (it would wait for one on deletion).
    controllers: { function: { gatewayFinalizer: false }, job },
  };
}

/** `hearth operator` as a child process (bench/support/operator-process.ts), leading before the clock starts. */
async function startOperator(cfg: OperatorConfigInput): Promise<OperatorProcess> {
  const op = await startOperatorProcess({ config: cfg, kubeconfig: kubeconfigPath ?? "", id: "bench-jobs-operator", nodeOptions: args["operator-node-options"] });
  operatorPid = op.pid;
  await until("operator leads", 60_000, async () => ((await op.metrics()).get("hearth_leader_is_leader") ?? []).some((s) => s.value === 1));
  return {
    ...op,
    stop: async () => {
      operatorPid = undefined;
      await op.stop();
    },
  };
}

const WRITE_VERBS = new Set(["create", "update", "patch", "apply", "delete"]);

/** The operator's requests by "verb resource" (leases excluded: leader election, not Jobs): writes, or reads. */
function requestsByKind(m: Metrics, writes = true): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of m.get("hearth_kube_requests_total") ?? []) {
    const verb = s.labels["verb"] ?? "";
    const resource = s.labels["resource"] ?? "";
    if (WRITE_VERBS.has(verb) !== writes || resource.includes("lease")) continue;
    const k = `${verb} ${resource}`;
    out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

const jobReconciles = (m: Metrics): number =>
  (m.get("hearth_controller_reconcile_total") ?? []).filter((s) => s.labels["controller"] === "job").reduce((a, s) => a + s.value, 0);

async function runHearth(selector: Record<string, string>, annotations: Record<string, string>): Promise<Result> {
  return withNamespace("bench-hearth", async (ns) => {
    const op = await startOperator(operatorConfigInput(ns, selector));
    try {
      await client.create(hearthFunctions, { metadata: { name: "bench", namespace: ns }, spec: benchFunctionSpec(annotations) });
      const completion = new Informer<Unstructured>({ client, resource: hearthJobs, clock, logger, namespaces: [ns], name: "bench-hjobs" });
      const complete = (o: Unstructured): boolean => {
        const j = hearthJob.safeParse(o);
        return j.success && (j.data.status?.conditions ?? []).some((c) => c.type === "Complete" && c.status === "True");
      };
      const before = await op.metrics();
      const r = await measure("Hearth Jobs", ns, LABEL_JOB, completion, complete, async (name) => {
        await client.create(hearthJobs, { metadata: { name, namespace: ns }, spec: { functionRef: { name: "bench" }, input: inputOf(name) } });
      });
      endStatus = (await client.get(hearthJobs, "j0000", ns))?.["status"] as Record<string, unknown> | undefined;
      // Events are sent in batches after the fact: give the recorder a moment to flush them.
      await new Promise((res) => setTimeout(res, 3000));
      const after = await op.metrics();
      const delta = (writes: boolean): (readonly [string, number])[] => {
        const r0 = requestsByKind(before, writes);
        return [...requestsByKind(after, writes)].map(([k, v]) => [k, v - (r0.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
      };
      const perKind = delta(true);
      say(`  operator reads during the run: ${delta(false).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`);
      const writes = perKind.reduce((a, [, v]) => a + v, 0);
      const reconciles = jobReconciles(after) - jobReconciles(before);
      say(`  operator writes per Job: ${perKind.map(([k, v]) => `${k} ${(v / N).toFixed(2)}`).join(", ")}`);
      const byResult = (m: Metrics, result: string): number =>
        (m.get("hearth_controller_reconcile_total") ?? []).filter((x) => x.labels["controller"] === "job" && x.labels["result"] === result).reduce((a, x) => a + x.value, 0);
      const results = ["success", "requeue", "error", "terminal", "timeout"].map((k) => `${k} ${((byResult(after, k) - byResult(before, k)) / N).toFixed(2)}`);
      say(`  Job controller reconciles per Job: ${(reconciles / N).toFixed(2)} (${results.join(", ")})`);
      // What the operator's watches delivered (every event is parsed, and some become reconciles).
      const perLabel = (name: string, label: string): string => {
        const sum = (m: Metrics): Map<string, number> => {
          const out = new Map<string, number>();
          for (const x of m.get(name) ?? []) out.set(x.labels[label] ?? "?", (out.get(x.labels[label] ?? "?") ?? 0) + x.value);
          return out;
        };
        const b0 = sum(before);
        return [...sum(after)].map(([k, v]) => [k, (v - (b0.get(k) ?? 0)) / N] as const).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
      };
      say(`  operator watch events per Job: ${perLabel("hearth_informer_events_total", "resource")}`);
      // Means over the run (sum/count deltas): where a reconcile's time goes.
      const mean = (name: string, match: (l: Record<string, string>) => boolean): string => {
        const tot = (m: Metrics, suffix: string): number =>
          (m.get(name + suffix) ?? []).filter((x) => match(x.labels)).reduce((a, x) => a + x.value, 0);
        const n = tot(after, "_count") - tot(before, "_count");
        return n === 0 ? "-" : `${((1000 * (tot(after, "_sum") - tot(before, "_sum"))) / n).toFixed(1)} ms`;
      };
      say(
        `  operator means: queue wait ${mean("hearth_workqueue_queue_duration_seconds", (l) => l["name"] === "job")}, reconcile ${mean("hearth_controller_reconcile_duration_seconds", (l) => l["controller"] === "job")}, ` +
          ["create", "apply", "get"].map((v) => `${v} ${mean("hearth_kube_request_duration_seconds", (l) => l["verb"] === v)}`).join(", "),
      );
      return { ...r, writesPerJob: writes / N, reconcilesPerJob: reconciles / N };
    } finally {
      await op.stop();
    }
  });
}

async function main(): Promise<void> {
  await installCrds(client);
  const node = `bench-jobs-${Date.now().toString(36)}`;
  const selector = { "hearth.dev/bench-node": node };
  await createFakeNode(core, { name: node, cpu: "1000", memory: "4Ti", pods: N + 50, labels: selector });
  // The bare side renders with the operator's own config, so both pods are the same.
  const config = parseOperatorConfig(operatorConfigInput("bench", selector), "bench operator config");
  const annotations = fakePodAnnotations({ exitCode: 0, delay: args.delay, message: JSON.stringify({ output: { ok: true } }) });
  const results: Result[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      say(`round ${round + 1}/${ROUNDS}`);
      const bare = (): Promise<Result> => runBare(config, annotations);
      const hearth = (): Promise<Result> => runHearth(selector, annotations);
      const both = round % 2 === 0 ? [bare, hearth] : [hearth, bare];
      const owned = (): Promise<Result> => runBare(config, annotations, true);
      // The floor copies the end status the Hearth side's operator wrote: it goes after both.
      const order = args.only === "hearth" ? [hearth] : args.only === "bare" ? [bare] : args.owned ? [...both, owned] : both;
      for (const run of order) results.push(await run());
    }
  } finally {
    await removeFakeNodes(core, [node], 120_000);
    client.transport.close();
  }
  const of = (side: Result["side"]) => results.filter((r) => r.side === side);
  const bare = of("bare batch Jobs");
  const hearth = of("Hearth Jobs");
  const row = (label: string, rs: Result[]): string =>
    `${label.padEnd(16)} ${median(rs.map((r) => r.seconds)).toFixed(1).padStart(8)} s ${median(rs.map((r) => r.rate)).toFixed(1).padStart(8)} /s ` +
    `${median(rs.map((r) => r.runningP50)).toFixed(2).padStart(8)} s ${median(rs.map((r) => r.runningP99)).toFixed(2).padStart(8)} s` +
    ` ${median(rs.map((r) => r.api.writes)).toFixed(1).padStart(8)} ${median(rs.map((r) => r.api.requests)).toFixed(1).padStart(9)} ${median(rs.map((r) => r.api.watchEvents)).toFixed(1).padStart(8)}` +
    (rs[0]?.side === "bare, owned" ? "   (floor: the client makes the operator's 2 writes per Job, no operator)" : rs[0]?.writesPerJob !== undefined
      ? `   ${median(rs.map((r) => r.writesPerJob ?? NaN)).toFixed(2)} operator writes/Job, ${median(rs.map((r) => r.reconcilesPerJob ?? NaN)).toFixed(2)} reconciles/Job`
      : "   (client: 1 create per Job, 0 reconciles)");
  console.log(`\nbench/jobs: ${N} Jobs, pods exit 0 after ${args.delay}, ${ROUNDS} round(s) (medians), ${new Date().toISOString()}`);
  console.log(`${"".padEnd(16)} ${"all done".padStart(10)} ${"rate".padStart(11)} ${"→Running p50".padStart(10)} ${"p99".padStart(10)}   apiserver, per Job, all clients: writes, requests, watch events sent`);
  console.log(row("bare batch Jobs", bare));
  console.log(row("Hearth Jobs", hearth));
  if (args.owned) console.log(row("bare, owned", of("bare, owned")));
  if (bare.length > 0 && hearth.length > 0) {
    const ratio = median(hearth.map((r) => r.rate)) / median(bare.map((r) => r.rate));
    console.log(`Hearth/bare rate: ${ratio.toFixed(2)}× (goal ≥ 0.90×, issue 9)`);
    const of2 = (rs: Result[], k: keyof Result["api"]): number => median(rs.map((r) => r.api[k]));
    console.log(
      `Hearth/bare apiserver work per Job (counts, not load-sensitive): writes ${(of2(hearth, "writes") / of2(bare, "writes")).toFixed(2)}×, ` +
        `requests ${(of2(hearth, "requests") / of2(bare, "requests")).toFixed(2)}×, watch events sent ${(of2(hearth, "watchEvents") / of2(bare, "watchEvents")).toFixed(2)}×`,
    );
    const cpuOf = (rs: Result[]): number => median(rs.map((r) => r.cpuMsPerJob));
    console.log(
      `CPU per Job, control plane + operator: bare ${cpuOf(bare).toFixed(1)} ms, Hearth ${cpuOf(hearth).toFixed(1)} ms (${(cpuOf(hearth) / cpuOf(bare)).toFixed(2)}×; ` +
        `were the machine's CPU all that limits the rate, the rate ratio would be ${(cpuOf(bare) / cpuOf(hearth)).toFixed(2)}×)`,
    );
  }
}

await main();
