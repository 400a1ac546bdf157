import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { FakeClock, flushMicrotasks } from "../../src/kube/clock.ts";
import { KubeError } from "../../src/kube/errors.ts";
import { QueueMetrics, TerminalError, WorkQueue, type ReconcileContext, type ReconcileHandler, type WorkQueueOptions } from "../../src/kube/queue.ts";

const silent = pino({ level: "silent" });

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function setup(handler: ReconcileHandler, opts: Partial<WorkQueueOptions> = {}) {
  const clock = new FakeClock();
  const registry = new Registry();
  const q = new WorkQueue({ name: "test", clock, logger: silent, random: () => 0, metrics: new QueueMetrics(registry), ...opts }, handler);
  return { clock, q, registry };
}

describe("WorkQueue", () => {
  it("dedups keys added before they are processed", async () => {
    const seen: string[] = [];
    const { q, clock } = setup(async ({ key }) => void seen.push(key));
    q.add("a");
    q.add("a");
    q.add("b");
    q.add("a");
    assert.equal(q.depth, 2);
    q.start();
    await clock.advance(0);
    assert.deepEqual(seen, ["a", "b"]);
  });

  it("never runs one key twice at once; an add during processing runs again afterwards", async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const gate = deferred();
    const { q, clock } = setup(async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (calls === 1) await gate.promise;
      running--;
    });
    q.start();
    q.add("k");
    await clock.advance(0);
    q.add("k");
    q.add("k");
    await clock.advance(0);
    assert.equal(calls, 1, "the second add waits for the first reconcile");
    gate.resolve();
    await clock.advance(0);
    assert.equal(calls, 2, "re-queued once, not twice");
    assert.equal(maxRunning, 1);
  });

  it("runs at most `concurrency` reconciles", async () => {
    let running = 0;
    let maxRunning = 0;
    const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
    const { q, clock } = setup(
      async ({ key }) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const g = deferred();
        gates.set(key, g);
        await g.promise;
        running--;
      },
      { concurrency: 3 },
    );
    q.start();
    for (let i = 0; i < 10; i++) q.add(`k${i}`);
    await clock.advance(0);
    assert.equal(running, 3);
    assert.equal(q.depth, 7);
    for (let round = 0; round < 5; round++) {
      for (const g of gates.values()) g.resolve();
      await clock.advance(0);
    }
    assert.equal(maxRunning, 3);
    assert.equal(q.depth, 0);
    assert.equal(gates.size, 10);
  });

  it("backs off per key exponentially and resets after a success", async () => {
    const times: number[] = [];
    let fail = 3;
    const { q, clock } = setup(async () => {
      times.push(clock.now());
      if (fail-- > 0) throw new Error("boom");
    });
    const t0 = clock.now();
    q.start();
    q.add("k");
    await clock.advance(1_000);
    assert.deepEqual(
      times.map((t) => t - t0),
      [0, 50, 150, 350],
    );
    assert.equal(q.failuresOf("k"), 0);
  });

  it("caps retries with a global token bucket", async () => {
    const times: number[] = [];
    const { q, clock } = setup(
      async ({ key }) => {
        times.push(clock.now());
        if (key !== "") throw new Error("always");
      },
      { retryRate: { qps: 2, burst: 1 }, backoff: { baseMs: 1, jitter: 0 } },
    );
    q.start();
    for (const k of ["a", "b", "c", "d"]) q.add(k);
    await clock.advance(0);
    assert.equal(times.length, 4);
    await clock.advance(1_000);
    // Per-key backoff alone would retry all four after ~1 ms; the bucket spaces them 500 ms apart.
    assert.deepEqual(
      times.slice(4).map((t) => t - (times[0] ?? 0)),
      [1, 500, 1000],
    );
  });

  it("honours requeueAfterMs", async () => {
    let calls = 0;
    const { q, clock } = setup(async () => (++calls === 1 ? { requeueAfterMs: 5_000 } : undefined));
    q.start();
    q.add("k");
    await clock.advance(4_999);
    assert.equal(calls, 1);
    await clock.advance(1);
    assert.equal(calls, 2);
  });

  it("does not retry a TerminalError", async () => {
    let calls = 0;
    const { q, clock, registry } = setup(async () => {
      calls++;
      throw new TerminalError("bad spec");
    });
    q.start();
    q.add("k");
    await clock.advance(60_000);
    assert.equal(calls, 1);
    assert.match(await registry.metrics(), /hearth_controller_reconcile_total\{controller="test",result="terminal"\} 1/);
  });

  it("waits at least the server's Retry-After", async () => {
    const times: number[] = [];
    const { q, clock } = setup(async () => {
      times.push(clock.now());
      if (times.length === 1) throw new KubeError({ code: 429, reason: "TooManyRequests", message: "slow down", retryAfterSeconds: 3 });
    });
    q.start();
    q.add("k");
    await clock.advance(10_000);
    assert.equal((times[1] ?? 0) - (times[0] ?? 0), 3_000);
  });

  it("aborts a reconcile at its timeout and retries it", async () => {
    const signals: AbortSignal[] = [];
    const { q, clock, registry } = setup(
      async (ctx: ReconcileContext) => {
        signals.push(ctx.signal);
        if (signals.length === 1) {
          await new Promise<void>((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error)));
        }
      },
      { timeoutMs: 1_000 },
    );
    q.start();
    q.add("k");
    await clock.advance(999);
    assert.equal(signals[0]?.aborted, false);
    await clock.advance(1);
    assert.equal(signals[0]?.aborted, true);
    await clock.advance(100);
    assert.equal(signals.length, 2, "retried after the timeout");
    assert.match(await registry.metrics(), /result="timeout"\} 1/);
  });

  it("frees the slot of a reconcile that ignores its signal, but keeps its key blocked", async () => {
    const hang = deferred();
    const calls: string[] = [];
    const { q, clock } = setup(
      async ({ key }) => {
        calls.push(key);
        if (key === "stuck" && calls.filter((k) => k === "stuck").length === 1) await hang.promise;
      },
      { timeoutMs: 1_000, abandonAfterMs: 500, concurrency: 1 },
    );
    q.start();
    q.add("stuck");
    q.add("other");
    await clock.advance(1_400);
    assert.deepEqual(calls, ["stuck"], "the only slot is still held");
    await clock.advance(200);
    assert.deepEqual(calls, ["stuck", "other"], "slot freed after timeout + abandon delay");
    q.add("stuck");
    await clock.advance(10_000);
    assert.equal(calls.filter((k) => k === "stuck").length, 1, "the key stays blocked while its reconcile still runs");
    hang.resolve();
    await clock.advance(10_000);
    assert.equal(calls.filter((k) => k === "stuck").length, 2);
  });

  it("survives handlers that throw synchronously or throw non-errors", async () => {
    let calls = 0;
    const handler: ReconcileHandler = () => {
      calls++;
      if (calls === 1) throw "a string"; // eslint-disable-line @typescript-eslint/only-throw-error
      return Promise.resolve();
    };
    const { q, clock } = setup(handler);
    q.start();
    q.add("k");
    await clock.advance(1_000);
    assert.equal(calls, 2);
  });

  it("reports depth, adds and queue latency", async () => {
    const { q, clock, registry } = setup(async () => undefined);
    q.add("a");
    q.add("b");
    let text = await registry.metrics();
    assert.match(text, /hearth_workqueue_depth\{name="test"\} 2/);
    await clock.advance(250);
    q.start();
    await flushMicrotasks();
    text = await registry.metrics();
    assert.match(text, /hearth_workqueue_depth\{name="test"\} 0/);
    assert.match(text, /hearth_workqueue_adds_total\{name="test"\} 2/);
    assert.match(text, /hearth_workqueue_queue_duration_seconds_sum\{name="test"\} 0\.5/);
    assert.match(text, /hearth_controller_reconcile_total\{controller="test",result="success"\} 2/);
  });

  it("shutdown waits for running reconciles and ignores new keys", async () => {
    const gate = deferred();
    let done = false;
    const { q, clock } = setup(async () => {
      await gate.promise;
      done = true;
    });
    q.start();
    q.add("k");
    await clock.advance(0);
    const stopped = q.shutdown(10_000);
    q.add("late");
    assert.equal(q.depth, 0);
    gate.resolve();
    await stopped;
    assert.equal(done, true);
  });
});
