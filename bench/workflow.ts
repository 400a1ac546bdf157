// bench/workflow: workflows through one gateway process with real worker processes, each beside
// its client-side baseline measured in the same run.
//   (a) a 3-step linear workflow of no-op steps: runs/s (N runs in flight) and per-step added
//       latency (sequential runs) beside the same three calls made one after another by a client.
//       Goal ≥ 300 runs/s on 2 cores.
//   (b) map-reduce over ITEMS items (split → embed → sum): wall time beside pushing the same
//       ITEMS tasks in one :pushMany and reducing on the client. Goal ≤ 1.2× the baseline.
//   node bench/workflow.ts [--runs 2000] [--seq 300] [--inflight 64] [--items 1000] [--concurrency 16]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "../src/client/index.ts";
import { freePort, startGatewayProcess, startWorker, type GatewayProcess, type WorkerProcess } from "../test/e2e/harness.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "2000" },
    seq: { type: "string", default: "300" },
    inflight: { type: "string", default: "64" },
    items: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "16" },
  },
});
const RUNS = Number(values.runs);
const SEQ = Number(values.seq);
const IN_FLIGHT = Number(values.inflight);
const ITEMS = Number(values.items);
const CONCURRENCY = String(Number(values.concurrency));

const wf = (name: string, spec: object): object => ({ apiVersion: "hearth.dev/v1alpha1", kind: "Workflow", metadata: { name, namespace: "default" }, spec });
const DOCS = [
  wf("linear", {
    start: "a",
    steps: [
      { name: "a", functionRef: { name: "noop" }, next: ["b"] },
      { name: "b", functionRef: { name: "noop" }, next: ["c"] },
      { name: "c", functionRef: { name: "noop" } },
    ],
  }),
  wf("mapsum", {
    start: "split",
    steps: [
      { name: "split", functionRef: { name: "split" }, map: true, next: ["embed"] },
      { name: "embed", functionRef: { name: "embed" }, next: ["sum"] },
      { name: "sum", functionRef: { name: "add" }, accumulate: { initial: 0 } },
    ],
  }),
];

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

async function pool(n: number, inflight: number, one: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inflight, n) }, async () => {
      while (next < n) await one(next++);
    }),
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "hearth-bench-wf-"));
  let gw: GatewayProcess | undefined;
  const workers: WorkerProcess[] = [];
  try {
    gw = await startGatewayProcess(dir, join(dir, "gw.db"), ["noop", "split", "embed", "add"].map((name) => ({ name })), await freePort(), DOCS);
    const env = { HEARTH_CONCURRENCY: CONCURRENCY };
    for (const [fn, handler] of [["noop", "noop"], ["split", "split"], ["embed", "embed"], ["add", "add"]] as const) {
      workers.push(startWorker({ gatewayUrl: gw.url, fn: `default/${fn}`, handler: `wf:${handler}`, env }));
    }
    const client = createClient({ url: gw.url, maxSockets: IN_FLIGHT + 8 });
    const noop = client.function("default/noop");
    const linear = client.workflow("default/linear");
    // Warm up: workers ready, connections open.
    for (let i = 0; i < 20; i++) {
      await noop.run(i);
      await linear.run(i);
    }

    console.log(`(a) 3-step linear workflow of no-op steps`);
    const base: number[] = [];
    const flow: number[] = [];
    for (let i = 0; i < SEQ; i++) {
      base.push((await timed(async () => noop.run(await noop.run(await noop.run(i)))))[1]);
      flow.push((await timed(() => linear.run(i)))[1]);
    }
    base.sort((x, y) => x - y);
    flow.sort((x, y) => x - y);
    console.log(`  sequential, ${SEQ} each: client 3 calls p50 ${pct(base, 50).toFixed(2)} ms p99 ${pct(base, 99).toFixed(2)} ms | workflow run p50 ${pct(flow, 50).toFixed(2)} ms p99 ${pct(flow, 99).toFixed(2)} ms`);
    console.log(`  per-step added latency (p50): ${((pct(flow, 50) - pct(base, 50)) / 3).toFixed(3)} ms`);
    const baseMs = await pool(RUNS, IN_FLIGHT, async (i) => noop.run(await noop.run(await noop.run(i))));
    const flowMs = await pool(RUNS, IN_FLIGHT, (i) => linear.run(i));
    console.log(`  throughput, ${RUNS} with ${IN_FLIGHT} in flight: client 3 calls ${((RUNS * 1000) / baseMs).toFixed(0)} chains/s | workflow ${((RUNS * 1000) / flowMs).toFixed(0)} runs/s (goal ≥ 300)`);

    console.log(`(b) map-reduce over ${ITEMS} items`);
    const items = Array.from({ length: ITEMS }, (_, i) => `item-${i}`);
    const expected = items.reduce((s, w) => s + w.length, 0);
    const embed = client.function("default/embed");
    const [clientSum, clientMs] = await timed(async () => {
      const handles = await embed.pushMany(items);
      const outs = (await Promise.all(handles.map((h) => h.result()))) as number[];
      return outs.reduce((s, x) => s + x, 0);
    });
    const [flowSum, mapMs] = await timed(() => client.workflow("default/mapsum").run({ text: items }, { timeoutMs: 600_000 }));
    if (clientSum !== expected || flowSum !== expected) throw new Error(`wrong sums: client ${clientSum}, workflow ${String(flowSum)}, expected ${expected}`);
    console.log(`  push ${ITEMS} + client-side reduce: ${clientMs.toFixed(0)} ms | workflow: ${mapMs.toFixed(0)} ms | ratio ${(mapMs / clientMs).toFixed(2)}× (goal ≤ 1.2×)`);
    client.close();
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await gw?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
