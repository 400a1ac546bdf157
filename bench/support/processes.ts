// What the invoke benches share: their child processes (killed, and their scratch directory removed,
// when the bench exits) and sequential round-trip timing.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface BenchProcesses {
  /** A scratch directory, removed on exit. */
  dir: string;
  /** Every process started, in order. */
  all: ChildProcess[];
  /** Starts `cmd` with only PATH and `env` in its environment; its stderr is the bench's. */
  start: (cmd: string, args: string[], env?: Record<string, string>) => ChildProcess;
}

export function benchProcesses(prefix: string): BenchProcesses {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const all: ChildProcess[] = [];
  process.on("exit", () => {
    for (const p of all) if (p.exitCode === null) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    all,
    start: (cmd, args, env = {}) => {
      const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"], env: { PATH: process.env["PATH"] ?? "", ...env } });
      all.push(p);
      return p;
    },
  };
}

/**
 * The baseline of the invoke benches: a bare node:http server on `port` that answers each request
 * with its body, as its own process (so its CPU can be read from /proc).
 */
export function startBareEcho(bench: BenchProcesses, port: number): { url: string; process: ChildProcess } {
  const src = join(bench.dir, "bare.mjs");
  writeFileSync(
    src,
    `import { createServer } from "node:http";
createServer((req, res) => { const c = []; req.on("data", (d) => c.push(d)); req.on("end", () => { const b = Buffer.concat(c); res.writeHead(200, { "content-type": "application/json", "content-length": b.length }); res.end(b); }); })
  .listen(${port}, "127.0.0.1");`,
  );
  return { url: `http://127.0.0.1:${port}`, process: bench.start(process.execPath, [src]) };
}

/** The median (the upper one of an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}

export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** `n` sequential calls of `once` after min(`maxWarmup`, n/5) warm-up calls: p50, p99 and mean in ms. */
export async function roundTrips(n: number, once: () => Promise<unknown>, maxWarmup: number): Promise<{ p50: number; p99: number; mean: number }> {
  for (let i = 0; i < Math.min(maxWarmup, n / 5); i++) await once();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), mean: times.reduce((a, b) => a + b, 0) / n };
}
