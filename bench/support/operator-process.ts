// `hearth operator` as a child process for the benches (bench/reconcile, bench/jobs), as deployed:
// its RSS, CPU and /metrics are its own. An unexpected exit ends the bench with the operator's last
// output.
import { spawn, spawnSync } from "node:child_process";
import { buildNative } from "../../hack/build-native.ts";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { OperatorConfigInput } from "../../src/operator/config.ts";
import { parse } from "yaml";
import { z } from "zod";
import { parseMetrics } from "../../test/support/operator.ts";
import { smapsSummary } from "./smaps.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export type Metrics = ReturnType<typeof parseMetrics>;

export interface OperatorProcess {
  url: string;
  pid: number | undefined;
  metrics(): Promise<Metrics>;
  /** A metric summed over the series whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** A counter summed by the values of some of its labels ("verb resource", "controller"). */
  sumBy(name: string, labels: readonly string[]): Promise<Map<string, number>>;
  rssMiB(): Promise<number>;
  /** Where the RSS is: anonymous vs file-backed (smaps_rollup), V8 spaces, external memory, mappings by kind (MiB). */
  memoryBreakdown(): Promise<string>;
  stop(): Promise<void>;
}

export interface OperatorProcessOptions {
  config: OperatorConfigInput;
  kubeconfig: string;
  /** The operator's identity (`--id`). */
  id: string;
  /** V8 flags for the operator, e.g. "--max-semi-space-size=1" (space-separated, as NODE_OPTIONS). */
  nodeOptions?: string;
  /** Extra environment of the operator (the chart's operator.extraEnv). */
  env?: Record<string, string>;
  /** How long to wait for its metrics server's URL in its log. */
  startTimeoutMs?: number;
  /**
   * Run with a warm compile cache (NODE_COMPILE_CACHE), as the image does: the type-stripped
   * modules come from the cache, so the TypeScript stripper (a wasm module) is never loaded.
   * Default true; false measures the operator as `node src/cli/main.ts operator` runs cold.
   */
  compileCache?: boolean;
  /** Also append the operator's stdout and stderr to this file (e.g. with --trace-gc in nodeOptions). */
  outputFile?: string;
  /**
   * The malloc_trim addon, as the image has it (native/malloc-trim.c, built here if a C compiler
   * is found; src/operator/malloc-trim.ts). Default true; false runs the operator without it.
   */
  mallocTrim?: boolean;
}

/** How the Helm chart runs the operator process (charts/hearth/values.yaml): what the benches run by default. */
export function chartOperatorSettings(): { nodeOptions: string; env: Record<string, string> } {
  const values = chartValues.parse(parse(readFileSync(fileURLToPath(new URL("../../charts/hearth/values.yaml", import.meta.url)), "utf8")));
  return { nodeOptions: values.operator.nodeOptions ?? "", env: Object.fromEntries((values.operator.extraEnv ?? []).map((e) => [e.name, e.value])) };
}

const chartValues = z.object({
  operator: z.object({ nodeOptions: z.string().optional(), extraEnv: z.array(z.object({ name: z.string(), value: z.string() })).nullish() }),
});

/** The compile cache shared by the benches' operators, warmed once per flag set (`hearth operator --help` imports every module). */
function warmCompileCache(nodeFlags: readonly string[]): string {
  const dir = join(tmpdir(), "hearth-bench-compile-cache");
  const r = spawnSync(process.execPath, [...nodeFlags, MAIN, "operator", "--help"], { env: { ...process.env, NODE_COMPILE_CACHE: dir }, stdio: "ignore" });
  if (r.status !== 0) throw new Error(`warming the compile cache failed (exit ${String(r.status)})`);
  return dir;
}

export async function startOperatorProcess(opts: OperatorProcessOptions): Promise<OperatorProcess> {
  const dir = mkdtempSync(join(tmpdir(), "hearth-bench-operator-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(opts.config));
  const nodeFlags = (opts.nodeOptions ?? "").split(" ").filter((f) => f !== "");
  const env = { ...process.env, ...opts.env };
  delete env["NODE_COMPILE_CACHE"];
  if (opts.compileCache !== false) env["NODE_COMPILE_CACHE"] = warmCompileCache(nodeFlags);
  if (opts.mallocTrim === false) env["HEARTH_MALLOC_TRIM_ADDON"] = join(dir, "no-malloc-trim.node");
  else {
    const built = buildNative();
    if ("why" in built) process.stderr.write(`[bench] the operator runs without the malloc_trim addon: ${built.why}\n`);
  }
  const child = spawn(process.execPath, [...nodeFlags, MAIN, "operator", "--config", join(dir, "config.json"), "--kubeconfig", opts.kubeconfig, "--id", opts.id, "--log-level", "info"], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let out = "";
  let stopping = false;
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-200_000);
    if (opts.outputFile !== undefined) appendFileSync(opts.outputFile, d);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("exit", (code, signal) => {
    if (stopping) return;
    process.stderr.write(`operator exited unexpectedly (code ${String(code)}, signal ${String(signal)}); its last output:\n${out.slice(-4000)}\n`);
    process.exit(1);
  });
  let url: string | undefined;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  while (url === undefined && Date.now() < deadline) {
    url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
    if (child.exitCode !== null) throw new Error(`operator exited: ${out}`);
    if (url === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  if (url === undefined) throw new Error(`operator did not start: ${out}`);
  const base = url;
  const metrics = async (): Promise<Metrics> => parseMetrics(await (await fetch(`${base}/metrics`)).text());
  return {
    url: base,
    pid: child.pid,
    metrics,
    metric: async (name, labels = {}) =>
      ((await metrics()).get(name) ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0),
    sumBy: async (name, labels) => {
      const by = new Map<string, number>();
      for (const s of (await metrics()).get(name) ?? []) {
        const k = labels.map((l) => s.labels[l] ?? "?").join(" ");
        by.set(k, (by.get(k) ?? 0) + s.value);
      }
      return by;
    },
    // /proc is the ground truth for RSS; the process metric says the same on Linux.
    rssMiB: async () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid ?? 0}/status`, "utf8"))?.[1] ?? 0) / 1024,
    memoryBreakdown: async () => {
      const rollup = readFileSync(`/proc/${child.pid ?? 0}/smaps_rollup`, "utf8");
      const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0) / 1024;
      const m = await metrics();
      const by = (name: string): Map<string, number> => new Map((m.get(name) ?? []).map((s) => [s.labels["space"] ?? "", s.value / 1048576]));
      const used = by("hearth_operator_nodejs_heap_space_size_used_bytes");
      const total = by("hearth_operator_nodejs_heap_space_size_total_bytes");
      const spaces = [...total.entries()]
        .filter(([, t]) => t >= 0.5)
        .map(([space, t]) => `${space} ${(used.get(space) ?? 0).toFixed(0)}/${t.toFixed(0)}`)
        .join(", ");
      const external = ((m.get("hearth_operator_nodejs_external_memory_bytes") ?? [])[0]?.value ?? 0) / 1048576;
      const reclaims = ((m.get("hearth_operator_memory_reclaims_total") ?? [])[0]?.value ?? 0).toFixed(0);
      const pause = ((m.get("hearth_operator_memory_reclaim_pause_seconds") ?? [])[0]?.value ?? 0) * 1000;
      return `anon ${kb("Anonymous").toFixed(0)}, file ${(kb("Rss") - kb("Anonymous")).toFixed(0)}; V8 spaces used/total: ${spaces}; external ${external.toFixed(0)}; mappings: ${smapsSummary(child.pid ?? 0)}; idle reclaims ${reclaims} (last pause ${pause.toFixed(0)} ms)`;
    },
    stop: async () => {
      stopping = true;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
