// The startup deadline end to end (Node runtime): real gateway, real `hearth worker` processes.
// A setup() that hangs past startupTimeoutSeconds makes the worker exit 124 with the reason
// (SetupTimeout) in its log, its termination message and the gateway's setup summary; one that
// keeps reporting progress outlives the bare deadline, becomes ready and serves calls; the
// gateway shows setup progress while it loads, then how long setup took.
import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { MAIN, E2E_HANDLERS, startGateway, startWorker, tempDir, until } from "./harness.ts";

interface SetupSummary {
  namespace: string;
  name: string;
  starting: number;
  progress?: { value: number; message?: string; worker: string };
  lastDurationSeconds?: number;
  lastFailure?: { reason: string; message: string; worker: string };
}

async function setupOf(url: string, name: string): Promise<SetupSummary | undefined> {
  const res = await fetch(`${url}/v1/setup`);
  const body = (await res.json()) as { functions: SetupSummary[] };
  return body.functions.find((f) => f.name === name);
}

it("a setup() hanging past startupTimeoutSeconds exits 124 (SetupTimeout) with the reason", { timeout: 120_000 }, async (t) => {
  const gw = await startGateway([{ name: "hangs" }]);
  t.after(() => gw.stop());
  const dir = tempDir("startup");
  t.after(() => dir.remove());
  const log = join(dir.path, "termination-log");
  const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/hangs", handler: "startup:Hangs", env: { HEARTH_STARTUP_TIMEOUT_SECONDS: "4", HEARTH_TERMINATION_LOG: log } });
  t.after(() => w.kill());
  const started = Date.now();
  const code = await w.exited;
  const took = Date.now() - started;
  assert.equal(code, 124, w.stderr());
  // The progress at 0.1 came once: the deadline is 4 s from it, not forever. (4 s, not less: the
  // deadline also covers starting the child and loading the handler, slow on a loaded machine.)
  assert.ok(took >= 3900, `exited after ${took} ms`);
  assert.match(w.stderr(), /SetupTimeout: setup\(\) did not finish within startupTimeoutSeconds=4 \(last progress: 10% downloading weights\)/);
  const doc = JSON.parse(readFileSync(log, "utf8")) as { error: { type: string; reason: string; message: string } };
  assert.equal(doc.error.type, "Timeout");
  assert.equal(doc.error.reason, "SetupTimeout");
  const summary = await until(async () => (await setupOf(gw.gateway.url, "hangs"))?.lastFailure, "the gateway's setup failure", 60_000);
  assert.equal(summary.reason, "SetupTimeout");
  assert.match(summary.message, /10% downloading weights/);
  const metrics = await (await fetch(`${gw.gateway.url}/metrics`)).text();
  assert.match(metrics, /hearth_gateway_worker_setup_failures_total\{namespace="default",function="hangs",reason="SetupTimeout"\} 1/);
});

for (const handler of ["startup:ReportsThroughContext", "startup:ReportsThroughModule"]) {
  it(`progress from setup() extends the startup deadline (${handler})`, { timeout: 120_000 }, async (t) => {
    const gw = await startGateway([{ name: "loads" }]);
    t.after(() => gw.stop());
    // 16 steps × 500 ms = 8 s of setup against a 5 s deadline (which also covers starting the
    // child process and importing the handler: slow on a loaded machine).
    const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/loads", handler, env: { HEARTH_STARTUP_TIMEOUT_SECONDS: "5", SETUP_STEPS: "16", SETUP_STEP_MS: "500" } });
    t.after(() => w.kill());
    const during = await until(async () => (await setupOf(gw.gateway.url, "loads"))?.progress, "setup progress at the gateway", 60_000);
    assert.ok(during.value > 0 && during.value < 1);
    assert.match(during.message ?? "", /shard|layer/);
    const result = await gw.client.function("default/loads").run(null, { timeoutMs: 30_000 });
    assert.ok(result !== undefined);
    const after = await until(async () => {
      const s = await setupOf(gw.gateway.url, "loads");
      return s?.lastDurationSeconds !== undefined ? s : undefined;
    }, "the setup duration", 60_000);
    assert.ok((after.lastDurationSeconds ?? 0) >= 8, `setup took ${after.lastDurationSeconds}s, past the 5 s bare deadline`);
    assert.equal(after.lastFailure, undefined);
    assert.equal(after.starting, 0);
    assert.match(w.stderr(), /setup \d+% (weights shard|layer)/);
    assert.match(w.stderr(), /setup\(\) finished in \d+\.\d\ds/);
    const metrics = await (await fetch(`${gw.gateway.url}/metrics`)).text();
    assert.match(metrics, /hearth_gateway_worker_setup_seconds_count\{namespace="default",function="loads"\} 1/);
    assert.equal(w.proc.exitCode, null);
  });
}

it("oneshot (isolated Jobs) applies the startup deadline to setup: exit 124, SetupTimeout document", { timeout: 120_000 }, async (t) => {
  const dir = tempDir("startup-oneshot");
  t.after(() => dir.remove());
  const log = join(dir.path, "termination-log");
  const proc = spawn(process.execPath, [MAIN, "worker"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      PATH: process.env["PATH"] ?? "",
      HEARTH_MODE: "oneshot",
      HEARTH_HANDLER: "startup:Hangs",
      HEARTH_CODE_PATH: E2E_HANDLERS,
      HEARTH_STARTUP_TIMEOUT_SECONDS: "1",
      HEARTH_TERMINATION_LOG: log,
    },
  });
  let err = "";
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
  assert.equal(code, 124, err);
  const doc = JSON.parse(readFileSync(log, "utf8")) as { error: { type: string; reason: string; message: string } };
  assert.deepEqual([doc.error.type, doc.error.reason], ["Timeout", "SetupTimeout"]);
  assert.match(doc.error.message, /startupTimeoutSeconds=1 /);
});
