// bench/jobs: N isolated Hearth Jobs → time until all are Complete, beside N batch Jobs created
// and awaited by a bare client in the same run, on the same cluster and node.
//
//   node hack/with-cluster.ts node_modules/.bin/node bench/jobs.ts [--jobs 500] [--rounds 1] [--delay 1s]
//   (or HEARTH_KUBECONFIG=<path> node_modules/.bin/node bench/jobs.ts …)
//
// Both sides run the same pod (same annotations: exit 0 after --delay, same resources, same
// node) through kube-controller-manager's Job controller; the Hearth side adds the operator:
// input ConfigMap, batch Job rendering, status and Events. Reported: wall time from the first
// create to the last Complete, the rate, create → pod Running latency (p50/p99, as seen by this
// process's watches), and the operator's API writes per Job. Rounds alternate which side goes
// first. Not part of the test suite.
import { parseArgs } from "node:util";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { parse } from "yaml";
import { hearthFunction, hearthJob } from "../src/api/v1alpha1/index.ts";
import { LABEL_JOB, renderBatchJob } from "../src/controllers/job/batch-job.ts";
import { JobController, jobPodsResource } from "../src/controllers/job/controller.ts";
import { createFakeNode, fakePodAnnotations, removeFakeNodes } from "../src/devcluster/index.ts";
import { createClient, type ApplyObject } from "../src/kube/client.ts";
import { SystemClock } from "../src/kube/clock.ts";
import { Informer } from "../src/kube/informer.ts";
import { fromKubeconfigFile } from "../src/kube/kubeconfig.ts";
import type { Unstructured } from "../src/kube/objects.ts";
import { hearthFunctions, hearthJobs, namespaces, untyped } from "../src/kube/resources.ts";
import { Manager } from "../src/operator/manager.ts";
import { workloadConfigSchema, type WorkloadConfig } from "../src/workload/config.ts";

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
const batchJobsUntyped = untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true });
const crds = untyped({ group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false });

const say = (line: string): void => void process.stderr.write(line + "\n");

/** The cluster's processes, when it is a hack/cluster.ts one (state.json beside the kubeconfig). */
function clusterProcesses(): { name: string; pid: number }[] {
  const state = join(dirname(kubeconfigPath ?? ""), "state.json");
  if (!existsSync(state)) return [];
  const parsed = JSON.parse(readFileSync(state, "utf8")) as { processes?: { name: string; pid: number }[] };
  return parsed.processes ?? [];
}

/** CPU seconds used so far by each cluster process and by this one (driver + in-process operator). */
function cpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of clusterProcesses()) {
    try {
      const fields = readFileSync(`/proc/${p.pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      out.set(p.name, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // gone
    }
  }
  const self = process.cpuUsage();
  out.set("bench process", (self.user + self.system) / 1e6);
  return out;
}

function cpuDelta(before: Map<string, number>): string {
  const after = cpuSeconds();
  return [...after].map(([k, v]) => `${k} ${(v - (before.get(k) ?? 0)).toFixed(1)}`).join(", ");
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

async function installCrds(): Promise<void> {
  for (const file of readdirSync(join(import.meta.dirname, "..", "crds"))) {
    const crd = parse(readFileSync(join(import.meta.dirname, "..", "crds", file), "utf8")) as ApplyObject;
    await client.apply(crds, crd, { fieldManager: "hearth-bench-crds" });
  }
  await until("CRDs established", 30_000, async () => {
    const list = await client.list(crds, { fieldSelector: "" });
    const ours = list.items.filter((c) => c.metadata.name.endsWith(".hearth.dev"));
    return ours.length === 3 && ours.every((c) => ((c["status"] as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((x) => x.type === "Established" && x.status === "True"));
  });
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
  side: "bare batch Jobs" | "Hearth Jobs";
  seconds: number;
  rate: number;
  runningP50: number;
  runningP99: number;
  writesPerJob?: number;
}

/**
 * Times one side: `create(i)` makes object i; `jobOfPod` names the job a pod belongs to;
 * `complete` watches the objects that turn Complete.
 */
async function measure(
  side: Result["side"],
  ns: string,
  podJobLabel: string,
  completion: Informer<Unstructured>,
  isComplete: (o: Unstructured) => boolean,
  create: (name: string) => Promise<void>,
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
  batch.on({ add: () => (lastBatchJob = performance.now()) });
  pods.on({ add: () => (lastPod = performance.now()) });
  pods.start();
  completion.start();
  batch.start();
  await Promise.all([pods.waitForSync(), completion.waitForSync(), batch.waitForSync()]);

  const names = Array.from({ length: N }, (_, i) => `j${String(i).padStart(4, "0")}`);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await pool(names, CREATE_CONCURRENCY, async (name) => {
    createdAt.set(name, performance.now());
    await create(name);
  });
  const created = performance.now();
  await until(`${side}: all Complete (${completed.size}/${N})`, 900_000, () => completed.size >= N);
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([pods.stop(), completion.stop(), batch.stop()]);
  const at = (t: number): string => ((t - t0) / 1000).toFixed(1);
  const lastRunning = Math.max(...runningAt.values());
  const latencies = names.flatMap((n) => {
    const c = createdAt.get(n);
    const r = runningAt.get(n);
    return c !== undefined && r !== undefined ? [(r - c) / 1000] : [];
  });
  say(
    `  ${side}: last create at ${at(created)} s, last batch Job ${at(lastBatchJob)} s, last pod ${at(lastPod)} s, last Running ${at(lastRunning)} s, all Complete ${seconds.toFixed(1)} s (${latencies.length} Running seen)`,
  );
  say(`  CPU seconds: ${cpuDelta(cpu0)}`);
  return { side, seconds, rate: N / seconds, runningP50: median(latencies), runningP99: quantile(latencies, 0.99) };
}

const conditionTrue = (o: Unstructured, type: string): boolean =>
  (((o["status"] as { conditions?: { type: string; status: string }[] } | undefined)?.conditions) ?? []).some((c) => c.type === type && c.status === "True");

/**
 * The bare side creates the very batch Job the operator would (same pod template, rendered by
 * the same code) minus the owner reference, so the difference measured is the operator's work
 * and not the size of the pods.
 */
async function runBare(workload: WorkloadConfig, annotations: Record<string, string>): Promise<Result> {
  return withNamespace("bench-bare", async (ns) => {
    const fn = hearthFunction.parse({ apiVersion: "hearth.dev/v1alpha1", kind: "Function", metadata: { name: "bench", namespace: ns }, spec: benchFunctionSpec(annotations) });
    const completion = new Informer<Unstructured>({ client, resource: batchJobsUntyped, clock, logger, namespaces: [ns], name: "bench-batch" });
    return measure("bare batch Jobs", ns, LABEL_JOB, completion, (o) => conditionTrue(o, "Complete"), async (name) => {
      const job = hearthJob.parse({ apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name, namespace: ns, uid: "none" }, spec: { functionRef: { name: "bench" } } });
      const rendered = renderBatchJob(job, fn, workload, { kind: "none" }, { maxRetries: 0, timeoutSeconds: 300, deadlineSlackSeconds: 600, ttlSecondsAfterFinished: undefined });
      if (!rendered.ok) throw new Error(rendered.message);
      const { ownerReferences: _owners, ...metadata } = rendered.batchJob.metadata ?? {};
      await client.create(batchJobsUntyped, { ...(rendered.batchJob as Record<string, unknown>), metadata: { ...metadata, name } });
    });
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

async function runHearth(workload: WorkloadConfig, annotations: Record<string, string>): Promise<Result> {
  return withNamespace("bench-hearth", async (ns) => {
    // The operator gets its own connection and rate limits, as in its own process.
    const opClient = createClient({ connection, clock, fieldManager: "hearth-operator" });
    const manager = new Manager({ client: opClient, clock, logger, registry: new Registry(), identity: "bench-operator", namespaces: [ns] });
    new JobController(manager, {
      workload,
      ...(args.debounce !== undefined ? { config: { statusDebounceMs: Number(args.debounce) * 1000 } } : {}),
      ...(args["operator-concurrency"] !== undefined ? { concurrency: Number(args["operator-concurrency"]) } : {}),
    });
    manager.start();
    await until("operator caches", 30_000, () => manager.synced());
    await client.create(hearthFunctions, { metadata: { name: "bench", namespace: ns }, spec: benchFunctionSpec(annotations) });
    const completion = new Informer<Unstructured>({ client, resource: hearthJobs, clock, logger, namespaces: [ns], name: "bench-hjobs" });
    const complete = (o: Unstructured): boolean => {
      const j = hearthJob.safeParse(o);
      return j.success && (j.data.status?.conditions ?? []).some((c) => c.type === "Complete" && c.status === "True");
    };
    try {
      const r = await measure("Hearth Jobs", ns, LABEL_JOB, completion, complete, async (name) => {
        await client.create(hearthJobs, { metadata: { name, namespace: ns }, spec: { functionRef: { name: "bench" }, input: { item: name } } });
      });
      await manager.recorder.flush();
      const byKind = [...opClient.transport.counts].filter(([k]) => !k.startsWith("watch") && !k.startsWith("list")).map(([k, v]) => `${k} ${(v / N).toFixed(2)}`);
      say(`  operator requests per Job: ${byKind.join(", ")}`);
      return { ...r, writesPerJob: opClient.transport.writes() / N };
    } finally {
      await manager.stop();
      opClient.transport.close();
    }
  });
}

async function main(): Promise<void> {
  await installCrds();
  const node = `bench-jobs-${Date.now().toString(36)}`;
  const selector = { "hearth.dev/bench-node": node };
  await createFakeNode(core, { name: node, cpu: "1000", memory: "4Ti", pods: N + 50, labels: selector });
  const workload = workloadConfigSchema.parse({ pod: { nodeSelector: selector } });
  const annotations = fakePodAnnotations({ exitCode: 0, delay: args.delay, message: JSON.stringify({ output: { ok: true } }) });
  const results: Result[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      say(`round ${round + 1}/${ROUNDS}`);
      const both = round % 2 === 0 ? [runBare, runHearth] : [runHearth, runBare];
      const order = args.only === "hearth" ? [runHearth] : args.only === "bare" ? [runBare] : both;
      for (const run of order) results.push(await run(workload, annotations));
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
    (rs[0]?.writesPerJob !== undefined ? `   ${median(rs.map((r) => r.writesPerJob ?? NaN)).toFixed(1)} operator writes/Job` : "");
  console.log(`\nbench/jobs: ${N} Jobs, pods exit 0 after ${args.delay}, ${ROUNDS} round(s) (medians)`);
  console.log(`${"".padEnd(16)} ${"all done".padStart(10)} ${"rate".padStart(11)} ${"→Running p50".padStart(10)} ${"p99".padStart(10)}`);
  console.log(row("bare batch Jobs", bare));
  console.log(row("Hearth Jobs", hearth));
  if (bare.length > 0 && hearth.length > 0) {
    const ratio = median(hearth.map((r) => r.rate)) / median(bare.map((r) => r.rate));
    console.log(`Hearth/bare rate: ${ratio.toFixed(2)}× (goal ≥ 0.90×)`);
  }
}

await main();
