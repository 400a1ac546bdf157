// The gateway with real worker processes (no cluster): the "done means" list of issue #5.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient, HearthError } from "../../src/client/index.ts";
import { freePort, startGateway, startGatewayProcess, startWorker, tempDir, until, type WorkerProcess } from "./harness.ts";
import { NODE_HANDLERS } from "./protocol-cases.ts";

async function stopAll(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => w.kill()));
}

describe("warm workers through the gateway", () => {
  it("answers run() from state loaded in setup(), which ran once per worker across 100 calls", async () => {
    const gw = await startGateway([{ name: "model" }]);
    const workers = [0, 1].map(() => startWorker({ gatewayUrl: gw.gateway.url, fn: "default/model", handler: "stateful:Model" }));
    try {
      const fn = gw.client.function("default/model");
      const outputs = await Promise.all(Array.from({ length: 100 }, (_, i) => fn.run(i) as Promise<{ y: number; pid: number; setups: number }>));
      outputs.forEach((o, i) => assert.equal(o.y, i * 3));
      assert.ok(outputs.every((o) => o.setups === 1), "setup() ran more than once in some worker");
      const pids = new Set(outputs.map((o) => o.pid));
      assert.ok(pids.size >= 1 && pids.size <= 2, `answers came from ${pids.size} processes`);
    } finally {
      await stopAll(workers);
      await gw.stop();
    }
  });

  it("completes 1,000 push()es", async () => {
    const gw = await startGateway([{ name: "model" }]);
    const workers = [0, 1].map(() => startWorker({ gatewayUrl: gw.gateway.url, fn: "default/model", handler: "stateful:Model", env: { HEARTH_CONCURRENCY: "8" } }));
    try {
      const fn = gw.client.function("default/model");
      const tasks = await Promise.all(Array.from({ length: 1000 }, (_, i) => fn.push(i)));
      assert.equal(new Set(tasks.map((t) => t.id)).size, 1000);
      const results = (await Promise.all(tasks.map((t) => t.result()))) as { y: number }[];
      results.forEach((r, i) => assert.equal(r.y, i * 3));
      const stats = await fn.stats();
      assert.equal(stats.queueDepth, 0);
      assert.equal(stats.inFlight, 0);
    } finally {
      await stopAll(workers);
      await gw.stop();
    }
  });

  it("retries a task whose worker was killed mid-task, without counting the attempt, and records its result once", async () => {
    const dir = tempDir("kill");
    const record = join(dir.path, "record.txt");
    writeFileSync(record, "");
    const gw = await startGateway([{ name: "slow", retries: { maxRetries: 0, initialBackoffSeconds: 0, maxBackoffSeconds: 0, multiplier: 1 } }], { engine: { workerTimeoutMs: 1000 } });
    const env = { HEARTH_E2E_RECORD: record };
    const a = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/slow", handler: "slow:record", env });
    let b: WorkerProcess | undefined;
    try {
      const fn = gw.client.function("default/slow");
      const task = await fn.push(["only-once", 1500]);
      await until(() => readFileSync(record, "utf8").includes("only-once"), "the first attempt to start");
      await a.kill();
      b = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/slow", handler: "slow:record", env });
      const out = (await task.result({ timeoutMs: 20_000 })) as { tag: string; pid: number };
      assert.equal(out.tag, "only-once");
      const runs = readFileSync(record, "utf8").trim().split("\n");
      assert.equal(runs.length, 2, "two executions: the killed one and the retry");
      assert.notEqual(runs[0]?.split(" ")[1], runs[1]?.split(" ")[1]);
      const doc = await task.status();
      assert.equal(doc.status, "succeeded");
      // maxRetries is 0: the retry happened only because a disruption is not an attempt.
      assert.equal(doc.attempts, 1);
    } finally {
      await stopAll([a, ...(b === undefined ? [] : [b])]);
      await gw.stop();
      dir.remove();
    }
  });

  for (const restartOnError of [true, false]) {
    it(`restartOnError=${restartOnError}: after a user error the worker ${restartOnError ? "re-spawns its child (fresh setup)" : "keeps its child"}`, async () => {
      const gw = await startGateway([{ name: "flaky" }]);
      const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/flaky", handler: "flaky:Flaky", env: { HEARTH_RESTART_ON_ERROR: String(restartOnError) } });
      try {
        const fn = gw.client.function("default/flaky");
        const before = (await fn.run({})) as { pid: number; setups: number };
        await assert.rejects(fn.run({ fail: true }), (err: unknown) => err instanceof HearthError && err.type === "UserError" && err.exitCode === 1 && err.status === 500);
        const after = (await fn.run({})) as { pid: number; setups: number };
        if (restartOnError) assert.notEqual(after.pid, before.pid, "a fresh child process");
        else assert.equal(after.pid, before.pid, "the same child process");
        assert.equal(after.setups, 1);
        assert.equal(w.proc.exitCode, null, "the worker itself kept running");
      } finally {
        await w.kill();
        await gw.stop();
      }
    });
  }

  it("FatalError fails the attempt as Fatal (75), retries it by policy, and the worker exits 75 for a container restart", async () => {
    const gw = await startGateway([{ name: "flaky", retries: { maxRetries: 1, initialBackoffSeconds: 0, maxBackoffSeconds: 0, multiplier: 1 } }]);
    const workers = [0, 1].map(() => startWorker({ gatewayUrl: gw.gateway.url, fn: "default/flaky", handler: "flaky:Flaky" }));
    try {
      const fn = gw.client.function("default/flaky");
      await fn.run({});
      await assert.rejects(fn.run({ fatal: true }), (err: unknown) => {
        assert.ok(err instanceof HearthError);
        assert.equal(err.type, "Fatal");
        assert.equal(err.exitCode, 75);
        assert.equal(err.attempt, 2);
        assert.match(err.message, /device lost/);
        return true;
      });
      const codes = await Promise.all(workers.map((w) => w.exited));
      assert.deepEqual(codes, [75, 75], "both workers that ran an attempt exited 75");
    } finally {
      await stopAll(workers);
      await gw.stop();
    }
  });

  it("reports a timeout (124) and re-spawns the child; progress updates extend the deadline", async () => {
    const gw = await startGateway([{ name: "timing", timeoutSeconds: 1 }]);
    const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/timing", handler: "timing:steps", codePath: NODE_HANDLERS });
    try {
      const fn = gw.client.function("default/timing");
      // 5 × 0.5 s against a 1 s deadline: only the progress updates keep it alive.
      const started = Date.now();
      const out = await fn.run({ steps: 5, seconds: 0.5 });
      assert.deepEqual(out, { steps: 5 });
      assert.ok(Date.now() - started >= 2500);
      // Without progress (one step longer than the deadline) it times out.
      await assert.rejects(fn.run({ steps: 1, seconds: 3 }), (err: unknown) => err instanceof HearthError && err.type === "Timeout" && err.exitCode === 124 && err.status === 504);
      // …and the worker is back (fresh child) for the next call.
      assert.deepEqual(await fn.run({ steps: 1, seconds: 0.1 }), { steps: 1 });
    } finally {
      await w.kill();
      await gw.stop();
    }
  });

  it("a spinning handler times out too: the supervisor kills the child from outside", async () => {
    const gw = await startGateway([{ name: "busy", timeoutSeconds: 1 }]);
    const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/busy", handler: "timing:busy", codePath: NODE_HANDLERS });
    try {
      const fn = gw.client.function("default/busy");
      const started = Date.now();
      await assert.rejects(fn.run({ seconds: 30 }), (err: unknown) => err instanceof HearthError && err.type === "Timeout");
      assert.ok(Date.now() - started < 10_000);
      assert.deepEqual(await fn.run({ seconds: 0 }), { spun: 0 });
    } finally {
      await w.kill();
      await gw.stop();
    }
  });

  it("bad input is 400 InputRejected (65) and the worker keeps its child", async () => {
    const gw = await startGateway([{ name: "model" }]);
    const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/model", handler: "stateful:Model" });
    try {
      const fn = gw.client.function("default/model");
      const before = (await fn.run(1)) as { pid: number };
      await assert.rejects(fn.run([1, 2, 3]), (err: unknown) => {
        assert.ok(err instanceof HearthError);
        assert.equal(err.status, 400);
        assert.equal(err.type, "InputRejected");
        assert.equal(err.exitCode, 65);
        assert.match(err.message, /at most 1/);
        return true;
      });
      const after = (await fn.run(2)) as { pid: number; y: number };
      assert.equal(after.pid, before.pid);
      assert.equal(after.y, 6);
    } finally {
      await w.kill();
      await gw.stop();
    }
  });

  it("a handler that cannot load makes the function NotReady (409) with the worker's reason", async () => {
    const gw = await startGateway([{ name: "broken" }]);
    const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/broken", handler: "broken:Model" });
    try {
      const fn = gw.client.function("default/broken");
      const err = await until(async () => {
        try {
          await fn.push(1);
          return false;
        } catch (e) {
          return e instanceof HearthError ? e : false;
        }
      }, "the function to be NotReady");
      assert.equal(err.status, 409);
      assert.equal(err.type, "NotReady");
      assert.match(err.message, /BadConfiguration: .*missing dependency on purpose/);
      // No hot restart loop: the worker stays up, reporting the failure.
      await sleep(500);
      assert.equal(w.proc.exitCode, null);
    } finally {
      await w.kill();
      await gw.stop();
    }
  });

  it("drains on SIGTERM: in-flight tasks finish and are reported, then the worker exits 0", async () => {
    const gw = await startGateway([{ name: "slow" }]);
    const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/slow", handler: "slow:record" });
    try {
      const fn = gw.client.function("default/slow");
      const task = await fn.push(["drain", 800]);
      await until(async () => (await task.status()).status === "running", "the task to start");
      w.proc.kill("SIGTERM");
      assert.equal(await w.exited, 0);
      const out = (await task.result({ timeoutMs: 5000 })) as { tag: string };
      assert.equal(out.tag, "drain");
      // It stopped leasing: a new task stays queued.
      const next = await fn.push(["late", 1]);
      await sleep(300);
      assert.equal((await next.status()).status, "queued");
    } finally {
      await w.kill();
      await gw.stop();
    }
  });

  it("streams progress events and cancels a running task", async () => {
    const gw = await startGateway([{ name: "steps", timeoutSeconds: 10 }]);
    const w = startWorker({ gatewayUrl: gw.gateway.url, fn: "default/steps", handler: "timing:steps", codePath: NODE_HANDLERS });
    try {
      const fn = gw.client.function("default/steps");
      const task = await fn.push({ steps: 4, seconds: 0.2 });
      const seen: number[] = [];
      for await (const p of task.progress()) seen.push(p.value);
      assert.deepEqual(seen, [0.25, 0.5, 0.75, 1]);
      assert.deepEqual(await task.result(), { steps: 4 });

      const long = await fn.push({ steps: 50, seconds: 0.2 });
      await until(async () => (await long.status()).progress !== undefined, "progress");
      const doc = await long.cancel();
      assert.equal(doc.status, "cancelled");
      await assert.rejects(long.result(), (err: unknown) => err instanceof HearthError && err.type === "Cancelled");
    } finally {
      await w.kill();
      await gw.stop();
    }
  });
});

describe("durability", () => {
  it("loses none of 1,000 queued tasks when the gateway is killed with kill -9", async () => {
    const dir = tempDir("durable");
    const store = join(dir.path, "gateway.db");
    const port = await freePort();
    let gw = await startGatewayProcess(dir.path, store, [{ name: "model" }], port);
    const workers: WorkerProcess[] = [];
    const client = createClient({ url: gw.url });
    try {
      const fn = client.function("default/model");
      const tasks = [];
      for (let i = 0; i < 1000; i += 100) tasks.push(...(await Promise.all(Array.from({ length: 100 }, (_, j) => fn.push(i + j)))));
      assert.equal(tasks.length, 1000);
      await gw.kill("SIGKILL");
      gw = await startGatewayProcess(dir.path, store, [{ name: "model" }], port);
      workers.push(...[0, 1].map(() => startWorker({ gatewayUrl: gw.url, fn: "default/model", handler: "stateful:Model", env: { HEARTH_CONCURRENCY: "8" } })));
      const results = (await Promise.all(tasks.map((t) => t.result({ timeoutMs: 60_000 })))) as { y: number }[];
      results.forEach((r, i) => assert.equal(r.y, i * 3));
    } finally {
      await stopAll(workers);
      await gw.kill("SIGTERM");
      client.close();
      dir.remove();
    }
  });
});
