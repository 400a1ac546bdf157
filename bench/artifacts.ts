// bench/artifacts: cold start of a warm worker with a URL artifact, as a pod starts on a node —
// the fetch init step (`hearth artifacts fetch`, its own process, into the node's cache) and then
// the worker (`hearth worker`) until the gateway counts it warm — beside a worker with no
// artifact measured in the same run:
//   first  = the first pod on a node (an empty cache: the download)
//   second = the next pod on that node (the cache hit: nothing downloaded)
// Goal (issue 14): second − no artifact ≤ 1 s. The model is served by a local HTTP server.
//   node bench/artifacts.ts [--mb 200] [--rounds 5]
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cacheKey } from "../src/artifacts/fetch.ts";
import { createClient } from "../src/client/index.ts";
import { freePort } from "../src/dev/dev.ts";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const HANDLERS = fileURLToPath(new URL("../test/protocol/handlers/node/", import.meta.url));
const { values } = parseArgs({ options: { mb: { type: "string", default: "200" }, rounds: { type: "string", default: "5" } } });
const MB = Number(values.mb);
const ROUNDS = Number(values.rounds);

const procs: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), "hearth-bench-artifacts-"));
process.on("exit", () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});


function start(args: string[], env: Record<string, string>): ChildProcess {
  const p = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "ignore", "inherit"], env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", ...env } });
  procs.push(p);
  return p;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  // The "model": MB of random bytes (not compressible), served from memory over loopback.
  const model = randomBytes(MB * 1_000_000);
  const sha = createHash("sha256").update(model).digest("hex");
  const http = createHttpServer((_req, res) => {
    res.writeHead(200, { "content-length": String(model.length), "content-type": "application/octet-stream" });
    res.end(model);
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  const a = http.address();
  const href = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/model.bin`;

  // One Function per measurement, so a stopped worker never counts for the next one.
  const names = ["plain", "first", "second"].flatMap((k) => Array.from({ length: ROUNDS }, (_, i) => `${k}-${i}`));
  const manifest = join(dir, "fns.yaml");
  writeFileSync(manifest, names.map((n) => `apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: ${n}, namespace: bench}\nspec: {image: none, handler: binding:identity, runtime: node}\n`).join("---\n"));
  const port = await freePort();
  start(["gateway", "--port", String(port), "--host", "127.0.0.1", "--store", join(dir, "gw.db"), "--functions", manifest, "--log-level", "warn", "--insecure-open"], {});
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      if (i > 400) throw new Error("the gateway did not start");
    }
    await sleep(50);
  }
  const client = createClient({ url });

  /** Init step (when `cache` is given) then the worker, until the gateway counts it warm; seconds. */
  const coldStart = async (name: string, cache: string | undefined): Promise<number> => {
    const t0 = performance.now();
    const env: Record<string, string> = {};
    if (cache !== undefined) {
      const fetcher = start(["artifacts", "fetch"], { HEARTH_ARTIFACT_SPECS: JSON.stringify([{ name: "model", href, sha256: sha }]), HEARTH_ARTIFACT_CACHE: cache, HEARTH_TERMINATION_LOG: "/dev/null" });
      const code = await new Promise<number | null>((r) => fetcher.once("exit", r));
      if (code !== 0) throw new Error(`hearth artifacts fetch exited ${code}`);
      env["HEARTH_ARTIFACTS"] = JSON.stringify({ model: join(cache, cacheKey(href, sha)) });
    }
    const worker = start(["worker"], { ...env, HEARTH_HANDLER: "binding:identity", HEARTH_CODE_PATH: HANDLERS, HEARTH_FUNCTION: `bench/${name}`, HEARTH_GATEWAY_URL: url, HEARTH_HEALTH_PORT: "0", HEARTH_WORKER_ID: name, HEARTH_HEARTBEAT_MS: "100" });
    const fn = client.function(`bench/${name}`);
    while ((await fn.stats()).warmWorkers < 1) await sleep(20);
    const seconds = (performance.now() - t0) / 1000;
    worker.kill("SIGKILL");
    return seconds;
  };

  const plain: number[] = [];
  const first: number[] = [];
  const second: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // A fresh node cache per round: "first" downloads, "second" finds it.
    const cache = mkdtempSync(join(dir, "node-cache-"));
    // Alternate the order of the baseline so drift on a noisy machine hits both sides.
    if (i % 2 === 0) plain.push(await coldStart(`plain-${i}`, undefined));
    first.push(await coldStart(`first-${i}`, cache));
    second.push(await coldStart(`second-${i}`, cache));
    if (i % 2 === 1) plain.push(await coldStart(`plain-${i}`, undefined));
    rmSync(cache, { recursive: true, force: true });
  }
  client.close();
  http.close();
  const f = (s: number): string => `${s.toFixed(2)} s`;
  console.log(`cold start of a warm worker, ${MB} MB URL artifact (sha256-verified), ${ROUNDS} rounds, medians:`);
  console.log(`  no artifact (baseline, same run)   ${f(median(plain))}`);
  console.log(`  first pod on the node (download)   ${f(median(first))}   (+${f(median(first) - median(plain))}; ${(MB / Math.max(0.001, median(first) - median(plain))).toFixed(0)} MB/s incl. verify)`);
  console.log(`  second pod on the node (cache hit) ${f(median(second))}   (+${f(median(second) - median(plain))}; goal ≤ +1.00 s)`);
  process.exit(0);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
