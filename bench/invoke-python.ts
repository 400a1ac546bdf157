// bench/invoke-python: the Python warm worker on the worker channel vs on lease/results requests
// (HEARTH_WORKER_CHANNEL=off), in the same run through one gateway: two no-op Functions, one
// Python worker each (`python -m hearth.runtime`, supervisor + child), measured in alternating
// rounds so machine noise hits both alike, beside a bare node:http echo (the baseline).
//   run():  sequential round trips, p50/p99 (median of rounds), and what hearth adds to the echo
//   push(): tasks/s completed by the worker, N in flight
//   per run() and per pushed task: the supervisor's and the child's CPU µs and voluntary context
//   switches (thread wake-ups), from /proc
//   node bench/invoke-python.ts [--runs 600] [--pushes 3000] [--concurrency 8] [--inflight 32] [--rounds 3] [--sync full|normal]
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ChildProcess } from "node:child_process";
import { createClient, type RemoteFunction } from "../src/client/index.ts";
import { HttpClient } from "../src/client/http.ts";
import { freePort } from "../src/dev/dev.ts";
import { childPids, processCpuMs, wakeups } from "./support/proc-cpu.ts";
import { benchProcesses, median, roundTrips, startBareEcho } from "./support/processes.ts";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const SDK = fileURLToPath(new URL("../sdk/python/", import.meta.url));
const HANDLERS = fileURLToPath(new URL("../test/protocol/handlers/python/", import.meta.url));

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "600" },
    pushes: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "8" },
    inflight: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
    sync: { type: "string", default: "full" },
    python: { type: "string", default: "python3" },
  },
});
const RUNS = Number(values.runs);
const PUSHES = Number(values.pushes);
const CONCURRENCY = Number(values.concurrency);
const IN_FLIGHT = Number(values.inflight);
const ROUNDS = Number(values.rounds);
const SYNC = values.sync === "normal" ? "normal" : "full";

const bench = benchProcesses("hearth-bench-py-");
const { dir, start } = bench;

/** Sequential round trips after up to 100 warm-up calls. */
async function latency(n: number, once: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const { p50, p99 } = await roundTrips(n, once, 100);
  return { p50, p99 };
}

async function drained(fn: RemoteFunction): Promise<void> {
  for (;;) {
    const s = await fn.stats();
    if (s.queueDepth === 0 && s.inFlight === 0) return;
    await sleep(5);
  }
}

/** push() with IN_FLIGHT outstanding until n are accepted, then until all are done: completed/s. */
async function throughput(fn: RemoteFunction, n: number): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await fn.push({ x: next++ });
    }),
  );
  await drained(fn);
  return (n / (performance.now() - t)) * 1000;
}

async function workerRequests(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/hearth_gateway_requests_total\{route="(lease|channel|results|complete|fail|heartbeat)",code="\d+"\} (\d+)/g)) {
    out.set(m[1] ?? "", (out.get(m[1] ?? "") ?? 0) + Number(m[2]));
  }
  return out;
}

/** The worker's processes: the supervisor and its child (the process that runs user code). */
interface Usage {
  cpuMs: number;
  wakeups: number;
}
function usage(worker: ChildProcess): { supervisor: Usage; child: Usage } {
  const pid = worker.pid ?? 0;
  const kids = childPids(pid);
  const sum = (pids: number[]): Usage => ({ cpuMs: pids.reduce((a, p) => a + processCpuMs(p), 0), wakeups: pids.reduce((a, p) => a + wakeups(p), 0) });
  return { supervisor: sum([pid]), child: sum(kids) };
}
function perCall(before: { supervisor: Usage; child: Usage }, after: { supervisor: Usage; child: Usage }, n: number): string {
  const f = (b: Usage, a: Usage): string => `${(((a.cpuMs - b.cpuMs) * 1000) / n).toFixed(0).padStart(4)} µs ${((a.wakeups - b.wakeups) / n).toFixed(1).padStart(5)} wake-ups`;
  return `supervisor ${f(before.supervisor, after.supervisor)}   child ${f(before.child, after.child)}`;
}

const med = median;

async function main(): Promise<void> {
  // Baseline: the same request shape to a bare node:http server that echoes its body.
  const bare = new HttpClient(startBareEcho(bench, await freePort()).url, { maxSockets: IN_FLIGHT });
  const port = await freePort();
  const manifest = join(dir, "fns.yaml");
  const fnDoc = (name: string): string => `apiVersion: hearth.dev/v1alpha1
kind: Function
metadata: {name: ${name}, namespace: bench}
spec: {image: none, handler: binding:identity, runtime: python, timeoutSeconds: 60, concurrency: ${CONCURRENCY}}
`;
  writeFileSync(manifest, `${fnDoc("py-channel")}---\n${fnDoc("py-requests")}`);
  start(process.execPath, [MAIN, "gateway", "--port", String(port), "--host", "127.0.0.1", "--store", join(dir, "gw.db"), "--store-sync", SYNC, "--functions", manifest, "--log-level", "warn", "--insecure-open"], {});
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 400) throw new Error("the gateway did not come up");
    await sleep(50);
  }
  const modes = [
    { name: "py-channel", label: "worker channel", channel: "on" },
    { name: "py-requests", label: "lease/results requests (channel off)", channel: "off" },
  ];
  const workers: ChildProcess[] = [];
  for (const m of modes) {
    workers.push(start(values.python, ["-m", "hearth.runtime"], {
      PYTHONPATH: SDK,
      PYTHONDONTWRITEBYTECODE: "1",
      HEARTH_MODE: "warm",
      HEARTH_HANDLER: "binding:identity",
      HEARTH_CODE_PATH: HANDLERS,
      HEARTH_FUNCTION: `bench/${m.name}`,
      HEARTH_GATEWAY_URL: url,
      HEARTH_HEALTH_PORT: "0",
      HEARTH_CONCURRENCY: String(CONCURRENCY),
      HEARTH_WORKER_ID: `bench-${m.name}`,
      HEARTH_WORKER_CHANNEL: m.channel,
    }));
  }
  const client = createClient({ url, maxSockets: IN_FLIGHT });
  const fns = modes.map((m) => client.function(`bench/${m.name}`));
  for (const fn of fns) {
    while ((await fn.stats()).warmWorkers < 1) await sleep(100);
  }
  console.log(`bench/invoke-python: 1 Python worker per mode × concurrency ${CONCURRENCY}, store sync=${SYNC}, ${RUNS} runs and ${PUSHES} pushes (${IN_FLIGHT} in flight) per mode, ${ROUNDS} alternating rounds`);

  for (let i = 0; i < 200; i++) await bare.request({ method: "POST", path: "/", body: JSON.stringify({ x: 1 }), headers: { "content-type": "application/json" } });
  const lat = modes.map(() => ({ p50: [] as number[], p99: [] as number[] }));
  const bareLat = { p50: [] as number[], p99: [] as number[] };
  const rate = modes.map(() => [] as number[]);
  const requests = modes.map(() => new Map<string, number>());
  const runCost = modes.map(() => [] as string[]);
  const pushCost = modes.map(() => [] as string[]);
  const body = JSON.stringify({ x: 1 });
  for (let r = 0; r < ROUNDS; r++) {
    const b = await latency(Math.ceil(RUNS / ROUNDS), () => bare.request({ method: "POST", path: "/", body, headers: { "content-type": "application/json" } }));
    bareLat.p50.push(b.p50);
    bareLat.p99.push(b.p99);
    for (let i = 0; i < modes.length; i++) {
      const fn = fns[i];
      const worker = workers[i];
      if (fn === undefined || worker === undefined) continue;
      const before = await workerRequests(url);
      const u0 = usage(worker);
      const runs = Math.ceil(RUNS / ROUNDS);
      const l = await latency(runs, () => fn.run({ x: 1 }));
      const u1 = usage(worker);
      runCost[i]?.push(perCall(u0, u1, runs + Math.min(100, runs / 5)));
      lat[i]?.p50.push(l.p50);
      lat[i]?.p99.push(l.p99);
      const pushes = Math.ceil(PUSHES / ROUNDS);
      rate[i]?.push(await throughput(fn, pushes));
      pushCost[i]?.push(perCall(u1, usage(worker), pushes));
      const after = await workerRequests(url);
      for (const [route, n] of after) requests[i]?.set(route, (requests[i]?.get(route) ?? 0) + n - (before.get(route) ?? 0));
    }
  }
  const b50 = med(bareLat.p50);
  const b99 = med(bareLat.p99);
  console.log("\nPython worker                                  run() p50   run() p99   push completed/s   worker requests");
  console.log(`  ${"bare node:http echo (baseline)".padEnd(44)} ${b50.toFixed(3).padStart(7)} ms ${b99.toFixed(3).padStart(8)} ms`);
  for (let i = 0; i < modes.length; i++) {
    const reqs = [...(requests[i] ?? new Map<string, number>())].filter(([route, n]) => n > 0 && route !== "heartbeat").map(([route, n]) => `${route} ${n}`);
    console.log(
      `  ${(modes[i]?.label ?? "").padEnd(44)} ${med(lat[i]?.p50 ?? []).toFixed(3).padStart(7)} ms ${med(lat[i]?.p99 ?? []).toFixed(3).padStart(8)} ms ${med(rate[i] ?? []).toFixed(0).padStart(12)}        ${reqs.join(", ")}`,
    );
  }
  console.log("\nadded by hearth to the bare echo (ms)         p50        p99");
  for (let i = 0; i < modes.length; i++) {
    console.log(`  ${(modes[i]?.label ?? "").padEnd(44)} ${(med(lat[i]?.p50 ?? []) - b50).toFixed(3).padStart(7)}   ${(med(lat[i]?.p99 ?? []) - b99).toFixed(3).padStart(8)}`);
  }
  console.log("\nworker cost (last round), per run() and per pushed task");
  for (let i = 0; i < modes.length; i++) {
    console.log(`  ${modes[i]?.label ?? ""}`);
    console.log(`    run()   ${runCost[i]?.at(-1) ?? ""}`);
    console.log(`    push()  ${pushCost[i]?.at(-1) ?? ""}`);
  }
  const [ch, rq] = [0, 1].map((i) => ({ p50: med(lat[i]?.p50 ?? []), p99: med(lat[i]?.p99 ?? []), rate: med(rate[i] ?? []) }));
  if (ch !== undefined && rq !== undefined) {
    console.log(`  channel / requests                           ${(ch.p50 / rq.p50).toFixed(2).padStart(7)}×  ${(ch.p99 / rq.p99).toFixed(2).padStart(8)}×  ${(ch.rate / rq.rate).toFixed(2).padStart(12)}×`);
  }
  client.close();
}

main().then(
  () => {
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
