// bench/invoke: a no-op Function on warm workers through one gateway, beside a bare Node HTTP
// server measured in the same run.
//   run():  sequential round trips, p50/p99, minus the bare server's → added latency
//           (goal: p50 ≤ 0.5 ms, p99 ≤ 2 ms added)
//   push(): tasks/s accepted and tasks/s completed through one gateway, 64 in flight (goal ≥ 8,000/s)
// Every component is its own process, as deployed: gateway (`hearth gateway`), workers
// (`hearth worker`, supervisor + child), the bare server; this process is the client.
//   node bench/invoke.ts [--runs 3000] [--pushes 20000] [--workers 2] [--concurrency 32] [--sync full|normal] [--channel direct|relay|off] [--profile DIR] [--skip-many] [--hops]
// --hops: after the run() phase, the median time of each hop of a run() (client → gateway → child
// → gateway → writer thread → client; with --channel relay through the supervisor both ways;
// bench/support/hops.ts), then stop.
// During the push phase it reads each process's CPU time and syscall counts from /proc (Linux):
// µs of CPU and syscalls per task for the client, the gateway's threads, the supervisors and their
// children, beside the bare echo's per-request CPU. On 2 cores, ≥8,000 tasks/s needs ≤250 µs in all.
import { type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "../src/client/index.ts";
import { HttpClient } from "../src/client/http.ts";
import { freePort } from "../src/dev/dev.ts";
import { HopMarks, printHops } from "./support/hops.ts";
import { childPids, processCpuMs, processIo, threadCpuMs } from "./support/proc-cpu.ts";
import { benchProcesses, median, roundTrips, startBareEcho } from "./support/processes.ts";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const HANDLERS = fileURLToPath(new URL("../test/protocol/handlers/node/", import.meta.url));

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3000" },
    pushes: { type: "string", default: "20000" },
    workers: { type: "string", default: "2" },
    concurrency: { type: "string", default: "32" },
    inflight: { type: "string", default: "64" },
    sync: { type: "string", default: "full" },
    profile: { type: "string" },
    channel: { type: "string", default: "direct" },
    "skip-many": { type: "boolean", default: false },
    hops: { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const PUSHES = Number(values.pushes);
const WORKERS = Number(values.workers);
const WORKER_CONCURRENCY = Number(values.concurrency);
const IN_FLIGHT = Number(values.inflight);
const SYNC = values.sync === "normal" ? "normal" : "full";
/** direct: the child holds the worker channel (the default; `on` is the same); relay: the supervisor holds it and relays; off: lease/results requests. */
const CHANNEL = values.channel === "off" || values.channel === "relay" ? values.channel : "direct";
/**
 * --profile DIR: the gateway, the workers' supervisors and their children write V8 CPU profiles
 * (.cpuprofile) there; a child's is CPU.<date>.<pid>….cpuprofile (NODE_OPTIONS: its supervisor
 * forks it without its own flags; bench/child-profile.ts lets it write the profile on SIGTERM).
 */
const PROFILE = values.profile;
const profArgs = (name: string): string[] => (PROFILE === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", PROFILE, "--cpu-prof-name", `${name}.cpuprofile`]);
const CHILD_PROFILE = fileURLToPath(new URL("./child-profile.ts", import.meta.url));
/** BENCH_WORKER_NODE_OPTIONS (without --profile): NODE_OPTIONS of the workers' processes, e.g. --perf-basic-prof for `perf`. */
const childProfEnv = (): Record<string, string> => (PROFILE === undefined ? (process.env["BENCH_WORKER_NODE_OPTIONS"] === undefined ? {} : { NODE_OPTIONS: process.env["BENCH_WORKER_NODE_OPTIONS"] }) : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE} --import=${CHILD_PROFILE}` });

const bench = benchProcesses("hearth-bench-");
const { dir, all: procs, start: startProcess } = bench;
/** --hops: every process records its hops there (src/trace/hops.ts); the client's are marked here. */
const HOPS = values.hops ? join(dir, "hops") : undefined;
const clientHops = new HopMarks();
if (HOPS !== undefined) mkdirSync(HOPS);

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return startProcess(process.execPath, args, HOPS === undefined ? env : { ...env, HEARTH_HOP_TRACE: HOPS });
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  throw new Error(`${url} did not come up`);
}

/** Sequential round trips after up to 500 warm-up calls. */
function measure(n: number, once: () => Promise<unknown>): Promise<{ p50: number; p99: number; mean: number }> {
  return roundTrips(n, once, 500);
}

async function main(): Promise<void> {
  // Baseline: the same request shape to a bare node:http server that echoes its body.
  const { url: bareUrl, process: bareServer } = startBareEcho(bench, await freePort());

  const gwPort = await freePort();
  const manifest = join(dir, "fn.yaml");
  writeFileSync(
    manifest,
    `apiVersion: hearth.dev/v1alpha1
kind: Function
metadata: {name: noop, namespace: bench}
spec: {image: none, handler: binding:identity, runtime: node, timeoutSeconds: 60, concurrency: ${WORKER_CONCURRENCY}}
`,
  );
  const gateway = start([...profArgs("gateway"), MAIN, "gateway", "--port", String(gwPort), "--host", "127.0.0.1", "--store", join(dir, "gw.db"), "--store-sync", SYNC, "--functions", manifest, "--log-level", "warn", "--insecure-open"]);
  const gwUrl = `http://127.0.0.1:${gwPort}`;
  await waitHttp(`${gwUrl}/readyz`);
  await waitHttp(bareUrl.replace(/$/, "/"));
  const workers: ChildProcess[] = [];
  for (let i = 0; i < WORKERS; i++) {
    workers.push(start([...profArgs(`worker-${i}`), MAIN, "worker"], {
      HEARTH_HANDLER: "binding:identity",
      HEARTH_CODE_PATH: HANDLERS,
      HEARTH_FUNCTION: "bench/noop",
      HEARTH_GATEWAY_URL: gwUrl,
      HEARTH_HEALTH_PORT: "0",
      HEARTH_CONCURRENCY: String(WORKER_CONCURRENCY),
      HEARTH_WORKER_ID: `bench-${i}`,
      HEARTH_WORKER_CHANNEL: CHANNEL,
      ...childProfEnv(),
    }));
  }
  const client = createClient({ url: gwUrl, maxSockets: IN_FLIGHT });
  const fn = client.function("bench/noop");
  for (;;) {
    const s = await fn.stats();
    if (s.warmWorkers >= WORKERS) break;
    await sleep(100);
  }

  const bare = new HttpClient(bareUrl, { maxSockets: IN_FLIGHT });
  const body = JSON.stringify({ x: 1 });
  console.log(`bench/invoke: ${WORKERS} workers × concurrency ${WORKER_CONCURRENCY}, store sync=${SYNC}, worker channel ${CHANNEL}, node ${process.version}, ${RUNS} runs, ${PUSHES} pushes`);

  // Interleave the two measurements in rounds so machine noise hits both alike.
  const rounds = 3;
  const bareRuns: { p50: number; p99: number; mean: number }[] = [];
  const gwRuns: { p50: number; p99: number; mean: number }[] = [];
  const runOnce = HOPS === undefined
    ? () => fn.run({ x: 1 })
    : async () => {
        clientHops.mark("c.send");
        await fn.run({ x: 1 });
        clientHops.mark("c.recv");
      };
  // CPU and wake-ups of each process during the run() rounds only (counts: far less load-sensitive than latency).
  const runCpu = new Map<string, number>();
  const runIo = new Map<string, IoCounts>();
  for (let r = 0; r < rounds; r++) {
    bareRuns.push(await measure(RUNS / rounds, () => bare.request({ method: "POST", path: "/", body, headers: { "content-type": "application/json" } })));
    const cpu0 = cpuSnapshot(gateway, workers);
    const io0 = ioSnapshot(gateway, workers);
    gwRuns.push(await measure(RUNS / rounds, runOnce));
    addDelta(runCpu, cpu0, cpuSnapshot(gateway, workers));
    addIoDelta(runIo, io0, ioSnapshot(gateway, workers));
  }
  const runCalls = rounds * (RUNS / rounds + Math.min(500, RUNS / rounds / 5));
  const med = median;
  const b50 = med(bareRuns.map((x) => x.p50));
  const b99 = med(bareRuns.map((x) => x.p99));
  const g50 = med(gwRuns.map((x) => x.p50));
  const g99 = med(gwRuns.map((x) => x.p99));
  console.log("\nrun() round trip (ms, median of rounds)      p50      p99");
  console.log(`  bare node:http echo (baseline)          ${b50.toFixed(3).padStart(7)}  ${b99.toFixed(3).padStart(7)}`);
  console.log(`  hearth run() no-op, warm worker         ${g50.toFixed(3).padStart(7)}  ${g99.toFixed(3).padStart(7)}`);
  console.log(`  added by hearth                         ${(g50 - b50).toFixed(3).padStart(7)}  ${(g99 - b99).toFixed(3).padStart(7)}   (goal ≤ 0.500 / ≤ 2.000)`);
  console.log("per run() (sequential): CPU µs, and voluntary context switches (wake-ups)");
  for (const [name, ms] of runCpu) if (ms > 0) console.log(`  ${name.padEnd(38)} ${((ms * 1000) / runCalls).toFixed(1).padStart(7)}`);
  for (const [name, c] of runIo) console.log(`  ${`${name}, wake-ups`.padEnd(38)} ${(c.wakeups / runCalls).toFixed(2).padStart(7)}`);
  if (HOPS !== undefined) {
    client.close();
    bare.close();
    // Each process writes its hops as it exits.
    await stopGently();
    printHops(HOPS, clientHops, Math.min(500, RUNS / rounds / 5));
    return;
  }

  // Throughput: keep IN_FLIGHT requests going.
  async function pump(n: number, once: (i: number) => Promise<unknown>): Promise<number> {
    let next = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < n) await once(next++);
      }),
    );
    return (n / (performance.now() - t)) * 1000;
  }
  const bareCpu = { client: process.cpuUsage(), server: processCpuMs(bareServer.pid ?? 0) };
  const bareRate = await pump(PUSHES, () => bare.request({ method: "POST", path: "/", body, headers: { "content-type": "application/json" } }));
  const bareClient = process.cpuUsage(bareCpu.client);
  const bareCost = { client: (bareClient.user + bareClient.system) / PUSHES, server: ((processCpuMs(bareServer.pid ?? 0) - bareCpu.server) * 1000) / PUSHES };
  const cpu = cpuSnapshot(gateway, workers);
  const io = ioSnapshot(gateway, workers);
  const t0 = performance.now();
  const acceptRate = await pump(PUSHES, (i) => fn.push({ x: i }));
  // Completed: every pushed task left the queue and finished.
  for (;;) {
    const s = await fn.stats();
    if (s.queueDepth === 0 && s.inFlight === 0) break;
    await sleep(5);
  }
  const completeRate = (PUSHES / (performance.now() - t0)) * 1000;
  const cpuAfter = cpuSnapshot(gateway, workers);
  const ioAfter = ioSnapshot(gateway, workers);
  console.log(`\nthroughput (${IN_FLIGHT} requests in flight)              req/s`);
  console.log(`  bare node:http echo (baseline)          ${bareRate.toFixed(0).padStart(7)}`);
  console.log(`  hearth push() accepted (durable)        ${acceptRate.toFixed(0).padStart(7)}`);
  console.log(`  hearth push() → completed by workers    ${completeRate.toFixed(0).padStart(7)}   (goal ≥ 8000 tasks/s)`);
  console.log(`  ratio accepted / bare                   ${(acceptRate / bareRate).toFixed(2).padStart(7)}`);

  console.log(`\nCPU per pushed task, push phase (µs/task; ${((PUSHES / completeRate) * 1000).toFixed(0)} ms wall)`);
  let total = 0;
  for (const [name, ms] of cpuAfter) {
    const used = ms - (cpu.get(name) ?? 0);
    total += used;
    if (used === 0) continue;
    console.log(`  ${name.padEnd(38)} ${((used * 1000) / PUSHES).toFixed(1).padStart(7)}`);
  }
  console.log(`  ${"total".padEnd(38)} ${((total * 1000) / PUSHES).toFixed(1).padStart(7)}   (2 cores at ≥8,000/s: ≤250)`);
  console.log("per pushed task: read / write syscalls, KB written, voluntary context switches");
  for (const [name, after] of ioAfter) {
    const b = io.get(name) ?? { syscr: 0, syscw: 0, wchar: 0, wakeups: 0 };
    const per = (n: number): string => (n / PUSHES).toFixed(2).padStart(6);
    console.log(`  ${name.padEnd(38)} ${per(after.syscr - b.syscr)} / ${per(after.syscw - b.syscw)}, ${per((after.wchar - b.wchar) / 1024)}, ${per(after.wakeups - b.wakeups)}`);
  }
  console.log(`  bare echo, per request: client ${bareCost.client.toFixed(1)}, server ${bareCost.server.toFixed(1)}`);

  // Fan-out: the same number of tasks through pushMany() in batches of 100.
  if (values["skip-many"]) {
    client.close();
    bare.close();
    return;
  }
  const batches = Math.ceil(PUSHES / 100);
  const t1 = performance.now();
  const manyRate = (await pump(batches, () => fn.pushMany(Array.from({ length: 100 }, (_, i) => ({ x: i }))))) * 100;
  for (;;) {
    const s = await fn.stats();
    if (s.queueDepth === 0 && s.inFlight === 0) break;
    await sleep(5);
  }
  const manyComplete = ((batches * 100) / (performance.now() - t1)) * 1000;
  console.log(`  hearth pushMany(100) accepted           ${manyRate.toFixed(0).padStart(7)}`);
  console.log(`  hearth pushMany(100) → completed        ${manyComplete.toFixed(0).padStart(7)}`);

  const metrics = await (await fetch(`${gwUrl}/metrics`)).text();
  const commit = /hearth_gateway_store_commit_seconds_sum ([\d.e-]+)\nhearth_gateway_store_commit_seconds_count (\d+)/.exec(metrics);
  const rows = /hearth_gateway_store_commit_rows_sum (\d+)/.exec(metrics);
  if (commit !== null && rows !== null) {
    const count = Number(commit[2]);
    console.log(`\nstore: ${count} group commits, mean ${((Number(commit[1]) / count) * 1000).toFixed(3)} ms, ${(Number(rows[1]) / count).toFixed(1)} rows per commit`);
  }
  const workerRequests = [...metrics.matchAll(/hearth_gateway_requests_total\{route="(lease|channel|results|heartbeat)",code="\d+"\} (\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
  console.log(`worker requests: ${workerRequests.join(", ")}`);
  client.close();
  bare.close();
}

/** Node's thread names, as /proc shows them (15 characters at most). */
const THREADS: Record<string, string> = { main: "main thread", WorkerThread: "store writer thread", V8Worker: "V8 helper threads (GC)", "v8:ProfEvntProc": "profiler thread" };

/** CPU ms so far of this process (the client), the gateway's threads, each supervisor and its child. */
function cpuSnapshot(gateway: ChildProcess, workers: readonly ChildProcess[]): Map<string, number> {
  const out = new Map<string, number>();
  const self = process.cpuUsage();
  out.set("bench client (all threads)", (self.user + self.system) / 1000);
  const add = (who: string, pid: number): void => {
    for (const [thread, ms] of threadCpuMs(pid)) {
      const key = `${who} ${THREADS[thread] ?? `thread ${thread}`}`;
      out.set(key, (out.get(key) ?? 0) + ms);
    }
  };
  eachProcess(gateway, workers, "gateway", add);
  return out;
}

/** `into[k] += after[k] - before[k]` for every key of `after`. */
function addDelta(into: Map<string, number>, before: Map<string, number>, after: Map<string, number>): void {
  for (const [k, v] of after) into.set(k, (into.get(k) ?? 0) + v - (before.get(k) ?? 0));
}

function addIoDelta(into: Map<string, IoCounts>, before: Map<string, IoCounts>, after: Map<string, IoCounts>): void {
  for (const [k, a] of after) {
    const b = before.get(k) ?? { syscr: 0, syscw: 0, wchar: 0, wakeups: 0 };
    const had = into.get(k) ?? { syscr: 0, syscw: 0, wchar: 0, wakeups: 0 };
    into.set(k, { syscr: had.syscr + a.syscr - b.syscr, syscw: had.syscw + a.syscw - b.syscw, wchar: had.wchar + a.wchar - b.wchar, wakeups: had.wakeups + a.wakeups - b.wakeups });
  }
}

/** Visits the gateway (as `gatewayName`), each worker's supervisor and the supervisors' children. */
function eachProcess(gateway: ChildProcess, workers: readonly ChildProcess[], gatewayName: string, visit: (who: string, pid: number) => void): void {
  if (gateway.pid !== undefined) visit(gatewayName, gateway.pid);
  for (const w of workers) {
    if (w.pid === undefined) continue;
    visit("supervisors", w.pid);
    for (const c of childPids(w.pid)) visit("children", c);
  }
}

type IoCounts = ReturnType<typeof processIo>;

/** Syscall counts so far of the client, the gateway, the supervisors and their children. */
function ioSnapshot(gateway: ChildProcess, workers: readonly ChildProcess[]): Map<string, IoCounts> {
  const out = new Map<string, IoCounts>();
  const add = (key: string, pid: number): void => {
    const now = processIo(pid);
    const had = out.get(key) ?? { syscr: 0, syscw: 0, wchar: 0, wakeups: 0 };
    out.set(key, { syscr: had.syscr + now.syscr, syscw: had.syscw + now.syscw, wchar: had.wchar + now.wchar, wakeups: had.wakeups + now.wakeups });
  };
  add("bench client", process.pid);
  eachProcess(gateway, workers, "gateway (all threads)", add);
  return out;
}

/** Profiles and hops are written on a clean exit only: SIGTERM everything and wait for it. */
async function stopGently(): Promise<void> {
  if (PROFILE === undefined && HOPS === undefined) return;
  const exits = procs
    .filter((p) => p.exitCode === null)
    .map((p) => new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    }));
  await Promise.all(exits);
}

main().then(
  async () => {
    await stopGently();
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
