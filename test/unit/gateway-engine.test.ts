import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { StaticRegistry, staticFunction, type FunctionSettings } from "../../src/gateway/registry.ts";
import { backoffMs, planFailure } from "../../src/gateway/retry.ts";
import { TaskStore } from "../../src/gateway/store.ts";
import { EngineError, renderTask, TaskEngine, type EngineOptions } from "../../src/gateway/tasks.ts";
import { FakeClock, flushMicrotasks } from "../../src/kube/clock.ts";

const RETRY3 = { maxRetries: 2, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 };

function setup(fn: Partial<FunctionSettings> = {}, opts: Partial<EngineOptions> = {}, storePath = ":memory:") {
  const clock = new FakeClock();
  const settings = staticFunction({ namespace: "ns", name: "fn", timeoutSeconds: 10, ...fn });
  const registry = new StaticRegistry([settings]);
  const store = new TaskStore(storePath);
  const engine = new TaskEngine({ store, registry, clock, ...opts });
  return { clock, settings, registry, store, engine };
}

/** What a store's writer answers for a commit that failed (both its moments fail). */
function failedCommit(err: Error): { written: Promise<void>; synced: Promise<number> } {
  const synced = Promise.reject(err);
  synced.catch(() => undefined);
  const written = synced.then(() => undefined);
  written.catch(() => undefined);
  return { written, synced };
}

/**
 * Holds back the "on the disk" moment of every commit of a :memory: store until release(): what a
 * file store at sync=full does while the writer thread syncs the WAL.
 */
function holdSyncs(store: TaskStore): { release: () => void } {
  const w = (store as unknown as { writer: { write: (...a: unknown[]) => { written: Promise<void>; synced: Promise<number> } } }).writer;
  const real = w.write.bind(w);
  let release = (): void => {};
  const gate = new Promise<void>((r) => (release = r));
  w.write = (...a: unknown[]) => {
    const c = real(...a);
    return { written: c.written, synced: gate.then(() => c.synced) };
  };
  return { release };
}

function isEngineError(type: string) {
  return (err: unknown) => err instanceof EngineError && err.type === type;
}

describe("retry policy", () => {
  it("backs off exponentially up to the maximum", () => {
    const policy = { maxRetries: 10, initialBackoffSeconds: 1, maxBackoffSeconds: 5, multiplier: 2 };
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(policy, n)), [1000, 2000, 4000, 5000, 5000]);
  });

  it("follows the contract's table", () => {
    const base = { attempts: 1, disruptions: 0, policy: RETRY3, maxDisruptions: 5 };
    assert.deepEqual(planFailure({ ...base, type: "UserError" }), { action: "retry", delayMs: 1000, countAttempt: true });
    assert.deepEqual(planFailure({ ...base, type: "Timeout", attempts: 2 }), { action: "retry", delayMs: 2000, countAttempt: true });
    assert.deepEqual(planFailure({ ...base, type: "Fatal", attempts: 3 }), { action: "fail", countAttempt: true });
    assert.deepEqual(planFailure({ ...base, type: "InputRejected" }), { action: "fail", countAttempt: true });
    assert.deepEqual(planFailure({ ...base, type: "BadConfiguration" }), { action: "fail", countAttempt: true });
    assert.deepEqual(planFailure({ ...base, type: "Disrupted", attempts: 9 }), { action: "retry", delayMs: 0, countAttempt: false });
    assert.deepEqual(planFailure({ ...base, type: "Disrupted", disruptions: 5 }), { action: "fail", countAttempt: false });
  });
});

describe("TaskEngine", () => {
  it("leases a queued task with its input, attempt and deadline", async () => {
    const { engine, settings, clock } = setup();
    const { task } = await engine.submit(settings, '{"x":1}', "json");
    const grants = await engine.lease(settings, "w1", 5, 0);
    assert.equal(grants.length, 1);
    assert.deepEqual(grants[0], { id: task.id, attempt: 1, leaseId: grants[0]?.leaseId, input: '{"x":1}', encoding: "json", deadline: clock.now() + 10_000, timeoutSeconds: 10 });
    assert.equal(engine.get(task.id)?.status, "running");
  });

  it("hands tasks submitted in one turn to a waiting long-poll as one batch", async () => {
    const { engine, settings } = setup();
    const pending = engine.lease(settings, "w1", 10, 30_000);
    const ids = (await Promise.all([1, 2, 3].map((i) => engine.submit(settings, String(i), "json")))).map((r) => r.task.id);
    const grants = await pending;
    assert.deepEqual(
      grants.map((g) => g.id),
      ids,
    );
  });

  it("answers an empty list when the long-poll's wait passes", async () => {
    const { engine, settings, clock } = setup();
    const pending = engine.lease(settings, "w1", 1, 5000);
    await clock.advance(5000);
    assert.deepEqual(await pending, []);
  });

  it("records a result once: a second complete or a stale lease is a Conflict", async () => {
    const { engine, settings } = setup();
    const { task } = await engine.submit(settings, "1", "json");
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    const waiting = engine.waitForTerminal(task.id, 60_000);
    assert.throws(() => engine.complete(task.id, "not-the-lease", "2"), isEngineError("Conflict"));
    const completing = engine.complete(task.id, g.leaseId, "2");
    assert.equal(engine.get(task.id)?.status, "running", "not visible before the commit");
    assert.equal(await engine.complete(task.id, g.leaseId, "2"), await completing, "the same answer again waits for the same commit");
    assert.throws(() => engine.complete(task.id, g.leaseId, "3"), isEngineError("Conflict"));
    const done = await waiting;
    assert.equal(done?.status, "succeeded");
    assert.equal(done?.output, "2");
    assert.throws(() => engine.complete("no-such-task", "x", "1"), isEngineError("NotFound"));
  });

  it("retries user errors by the Function's backoff, then fails with the last attempt", async () => {
    const { engine, settings, clock } = setup({ retries: RETRY3 });
    const { task } = await engine.submit(settings, "1", "json");
    for (const [attempt, backoff] of [
      [1, 1000],
      [2, 2000],
    ] as const) {
      const [g] = await engine.lease(settings, "w1", 1, 0);
      assert.equal(g?.attempt, attempt);
      await engine.fail(task.id, g.leaseId, "UserError", "boom");
      assert.equal(engine.get(task.id)?.status, "queued");
      await clock.advance(backoff - 1);
      engine.tick();
      assert.deepEqual(await engine.lease(settings, "w1", 1, 0), [], "not before the backoff");
      await clock.advance(1);
      engine.tick();
      await flushMicrotasks();
    }
    const [g3] = await engine.lease(settings, "w1", 1, 0);
    assert.equal(g3?.attempt, 3);
    await engine.fail(task.id, g3.leaseId, "UserError", "boom");
    const t = engine.get(task.id);
    assert.equal(t?.status, "failed");
    assert.deepEqual(t?.error, { type: "UserError", message: "boom", attempt: 3 });
  });

  it("never retries rejected input", async () => {
    const { engine, settings } = setup({ retries: RETRY3 });
    const { task } = await engine.submit(settings, "1", "json");
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    await engine.fail(task.id, g.leaseId, "InputRejected", "bad");
    assert.equal(engine.get(task.id)?.status, "failed");
  });

  it("declares Timeout when the deadline (plus grace) passes without a report; progress moves the deadline", async () => {
    const { engine, settings, clock, store } = setup({}, { deadlineGraceMs: 1000 });
    const { task } = await engine.submit(settings, "1", "json");
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    await clock.advance(9000);
    const { deadline } = engine.progress(task.id, g.leaseId, 0.5, "half");
    assert.equal(deadline, clock.now() + 10_000);
    assert.deepEqual(engine.get(task.id)?.progress, { value: 0.5, message: "half" });
    await clock.advance(5000);
    engine.heartbeat(settings, "w1", { state: "ready" });
    await clock.advance(5500);
    engine.heartbeat(settings, "w1", { state: "ready" });
    engine.tick();
    assert.equal(engine.get(task.id)?.status, "running", "inside deadline + grace");
    await clock.advance(1000);
    engine.heartbeat(settings, "w1", { state: "ready" });
    engine.tick();
    await store.committed();
    await flushMicrotasks();
    const t = engine.get(task.id);
    assert.equal(t?.status, "failed");
    assert.equal(t?.error?.type, "Timeout");
    assert.throws(() => engine.progress(task.id, g.leaseId, 0.6, undefined), isEngineError("Conflict"));
  });

  it("re-queues the tasks of a silent worker at the front without counting the attempt, up to maxDisruptions", async () => {
    const { engine, settings, clock, store } = setup({}, { workerTimeoutMs: 10_000, maxDisruptions: 2 });
    const { task } = await engine.submit(settings, "1", "json");
    const other = (await engine.submit(settings, "2", "json")).task;
    for (let i = 1; i <= 3; i++) {
      const [g] = await engine.lease(settings, `w${i}`, 1, 0);
      assert.equal(g?.id, task.id, "the disrupted task goes first");
      assert.equal(g.attempt, 1);
      await clock.advance(10_001);
      engine.tick();
      await flushMicrotasks();
    }
    await store.committed();
    await flushMicrotasks();
    const t = engine.get(task.id);
    assert.equal(t?.status, "failed");
    assert.equal(t?.error?.type, "Disrupted");
    assert.equal(t?.attempts, 0);
    assert.equal(engine.get(other.id)?.status, "queued");
  });

  it("a heartbeat that does not list a leased task re-queues it after the receipt window", async () => {
    const { engine, settings, clock } = setup({}, { leaseReceiptMs: 5000 });
    const { task } = await engine.submit(settings, "1", "json");
    await engine.lease(settings, "w1", 1, 0);
    engine.heartbeat(settings, "w1", { state: "ready", tasks: [] });
    assert.equal(engine.get(task.id)?.status, "running", "too early to tell");
    await clock.advance(5001);
    engine.heartbeat(settings, "w1", { state: "ready", tasks: [] });
    assert.equal(engine.get(task.id)?.status, "queued");
    assert.equal(engine.get(task.id)?.attempts, 0);
  });

  it("cancels queued and running tasks; the worker hears of it on its next heartbeat", async () => {
    const { engine, settings } = setup();
    const running = (await engine.submit(settings, "1", "json")).task;
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    const queued = (await engine.submit(settings, "2", "json")).task;
    assert.equal((await engine.cancel(queued.id))?.status, "cancelled");
    assert.equal((await engine.cancel(running.id))?.status, "cancelled");
    assert.deepEqual(engine.heartbeat(settings, "w1", { state: "ready" }), { cancel: [running.id] });
    assert.deepEqual(engine.heartbeat(settings, "w1", { state: "ready" }), { cancel: [] });
    assert.throws(() => engine.complete(running.id, g.leaseId, "1"), isEngineError("Conflict"));
    assert.deepEqual(await engine.lease(settings, "w1", 5, 0), [], "a cancelled task is never leased");
    assert.deepEqual(engine.stats("ns", "fn"), { queueDepth: 0, inFlight: 0, warmWorkers: 1, busyWorkers: 0 });
  });

  it("refuses work beyond the queue limit, counting tasks still committing", async () => {
    const { engine, settings } = setup({}, { maxQueue: 2 });
    const first = engine.submit(settings, "1", "json");
    const second = engine.submit(settings, "2", "json");
    await assert.rejects(engine.submit(settings, "3", "json"), isEngineError("QueueFull"));
    await Promise.all([first, second]);
  });

  it("returns the same task for a repeated idempotency key, also while the first commits; another input is a Conflict", async () => {
    const { engine, settings } = setup();
    const firstP = engine.submit(settings, "1", "json", { idempotencyKey: "key-1" });
    const racing = engine.submit(settings, "1", "json", { idempotencyKey: "key-1" });
    await assert.rejects(engine.submit(settings, "2", "json", { idempotencyKey: "key-1" }), isEngineError("Conflict"));
    const first = await firstP;
    assert.equal((await racing).task.id, first.task.id);
    assert.equal((await racing).repeat, true);
    const again = await engine.submit(settings, "1", "json", { idempotencyKey: "key-1" });
    assert.equal(again.repeat, true);
    assert.equal(again.task.id, first.task.id);
    await assert.rejects(engine.submit(settings, "2", "json", { idempotencyKey: "key-1" }), isEngineError("Conflict"));
    assert.equal((await engine.submit(settings, "1", "json", { idempotencyKey: "key-2" })).repeat, false);
  });

  it("remembers idempotency keys for their window, independent of the result TTL", async () => {
    const { engine, settings, clock, store } = setup({}, { resultTtlMs: 60_000, idempotencyWindowMs: 600_000, recentLimit: 0 });
    const { task } = await engine.submit(settings, "1", "json", { idempotencyKey: "k" });
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    await engine.complete(task.id, g.leaseId, "1");
    await clock.advance(120_000);
    engine.tick();
    await store.committed();
    await flushMicrotasks();
    assert.equal(engine.get(task.id), undefined, "the result expired");
    await assert.rejects(engine.submit(settings, "1", "json", { idempotencyKey: "k" }), (err: unknown) => err instanceof EngineError && err.type === "Conflict" && /expired/.test(err.message));
    await clock.advance(600_000);
    engine.tick();
    await new Promise((r) => setImmediate(r));
    await flushMicrotasks();
    const later = await engine.submit(settings, "2", "json", { idempotencyKey: "k" });
    assert.equal(later.repeat, false, "after the window the key is free again");
    assert.notEqual(later.task.id, task.id);
  });

  it("a failed commit on submit leaves nothing queued; a failed commit of a result keeps it unseen and retries", async () => {
    const { engine, settings, store, clock } = setup({}, { commitRetryMs: 1000 });
    const breakStore = (times: number): void => {
      const w = (store as unknown as { writer: { write: (...a: unknown[]) => unknown } }).writer;
      const real = w.write.bind(w);
      let left = times;
      w.write = (...a: unknown[]) => (left-- > 0 ? failedCommit(new Error("disk full")) : real(...a));
    };
    breakStore(1);
    await assert.rejects(engine.submit(settings, "1", "json"), isEngineError("Unavailable"));
    assert.deepEqual(await engine.lease(settings, "w1", 5, 0), [], "the refused task never runs");
    assert.deepEqual(engine.stats("ns", "fn").queueDepth, 0);
    const { task } = await engine.submit(settings, "2", "json");
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    breakStore(1);
    let acked = false;
    const ack = engine.complete(task.id, g.leaseId, "20").then((t) => ((acked = true), t));
    await new Promise((r) => setImmediate(r));
    await flushMicrotasks();
    assert.equal(acked, false);
    assert.equal(engine.get(task.id)?.status, "running", "an uncommitted result is not visible");
    await clock.advance(1000);
    assert.equal((await ack).output, "20");
    assert.equal(engine.get(task.id)?.status, "succeeded");
    assert.equal(store.get(task.id)?.output, "20");
  });

  it("a keyless :run's outcome is published once written, before its fsync; other outcomes wait for the fsync", async () => {
    const { engine, settings, store } = setup();
    const { task: pushed } = await engine.submit(settings, "1", "json");
    const { task: run } = await engine.submit(settings, "2", "json", { dispatchAtOnce: true });
    const grants = await engine.lease(settings, "w1", 2, 0);
    const leaseOf = (id: string): string => grants.find((g) => g.id === id)?.leaseId ?? "";
    const syncs = holdSyncs(store);
    let pushDone = false;
    const pushAck = engine.complete(pushed.id, leaseOf(pushed.id), "10").then((t) => ((pushDone = true), t));
    const runDone = await engine.complete(run.id, leaseOf(run.id), "20");
    assert.equal(runDone.status, "succeeded");
    assert.equal((await engine.waitForTerminal(run.id, 0))?.output, "20", "the run's waiter sees it");
    await new Promise((r) => setImmediate(r));
    await flushMicrotasks();
    assert.equal(pushDone, false, "the push's outcome waits for the fsync");
    assert.equal(engine.get(pushed.id)?.status, "running");
    syncs.release();
    assert.equal((await pushAck).output, "10");
    assert.equal(engine.get(pushed.id)?.status, "succeeded");
  });

  it("a :run task (dispatchAtOnce) is leased before any commit and costs one commit, its outcome's", async () => {
    const { engine, settings, store, clock } = setup({}, { runStageMs: 20 });
    const commits: number[] = [];
    (store as unknown as { opts: { onCommit: (rows: number) => void } }).opts.onCommit = (rows) => commits.push(rows);
    const { task } = await engine.submit(settings, "1", "json", { dispatchAtOnce: true });
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.equal(g?.id, task.id, "leased at once");
    assert.equal(store.get(task.id), undefined, "nothing staged yet");
    assert.ok(g !== undefined);
    const done = await engine.complete(task.id, g.leaseId, "2");
    assert.equal(done.status, "succeeded");
    assert.deepEqual(commits, [1], "one commit holds the whole row");
    assert.equal(store.get(task.id)?.status, "succeeded");
    await clock.advance(100);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(commits, [1], "the stage timer was dropped");

    // A longer one is staged after runStageMs (it survives a restart like any task).
    const long = (await engine.submit(settings, "3", "json", { dispatchAtOnce: true })).task;
    await engine.lease(settings, "w1", 1, 0);
    await clock.advance(20);
    await store.committed();
    assert.equal(store.get(long.id)?.status, "running", "staged (a restart queues it again)");
    // With an idempotency key the key (and so the task) commits first, as for :push.
    const keyed = (await engine.submit(settings, "4", "json", { dispatchAtOnce: true, idempotencyKey: "k" })).task;
    assert.equal(store.get(keyed.id)?.status, "queued");
  });

  it("a :run (dispatchAtOnce) reaches a waiting long-poll in the call that queues it; tasks queued after it in that turn go as one batch", async () => {
    const { engine, settings } = setup();
    const first = engine.lease(settings, "w1", 10, 30_000);
    let firstGrants: string[] | undefined;
    void first.then((g) => (firstGrants = g.map((x) => x.id)));
    const { task: run } = await engine.submit(settings, "1", "json", { dispatchAtOnce: true });
    assert.equal(engine.get(run.id)?.status, "running", "leased before submit returned, not at the end of the turn");
    assert.deepEqual(firstGrants, [run.id]);
    const second = engine.lease(settings, "w1", 10, 30_000);
    const turn = [2, 3, 4].map((i) => engine.submit(settings, String(i), "json", { dispatchAtOnce: true }));
    const ids = (await Promise.all(turn)).map((r) => r.task.id);
    assert.deepEqual(
      (await second).map((g) => g.id),
      ids.slice(0, 1),
      "the first of the turn went at once",
    );
    assert.deepEqual(
      ids.slice(1).map((id) => engine.get(id)?.status),
      ["queued", "queued"],
    );
    assert.deepEqual(
      (await engine.lease(settings, "w1", 10, 30_000)).map((g) => g.id),
      ids.slice(1),
      "the rest are one batch",
    );
  });

  it("with a file store, a keyless :run's outcome is published from the run log, before any SQLite commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hearth-engine-runlog-"));
    const { engine, settings, store } = setup({}, {}, join(dir, "t.db"));
    try {
      const commits: number[] = [];
      (store as unknown as { opts: { onCommit: (rows: number) => void } }).opts.onCommit = (rows) => commits.push(rows);
      const { task } = await engine.submit(settings, "1", "json", { dispatchAtOnce: true });
      const [g] = await engine.lease(settings, "w1", 1, 0);
      assert.ok(g !== undefined);
      const done = await engine.complete(task.id, g.leaseId, "2");
      assert.equal(done.status, "succeeded");
      assert.deepEqual(commits, [], "answered before the row's commit started");
      await store.committed();
      assert.deepEqual(commits, [1], "then one commit writes the row");
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("honours a task's own timeoutSeconds and retry policy over the Function's", async () => {
    const { engine, settings, clock } = setup({ timeoutSeconds: 10 });
    const { task } = await engine.submit(settings, "1", "json", { timeoutSeconds: 3, retries: { ...RETRY3, maxRetries: 1 } });
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.equal(g?.timeoutSeconds, 3);
    assert.equal(g.deadline, clock.now() + 3000);
    await engine.fail(task.id, g.leaseId, "UserError", "x");
    assert.equal(engine.get(task.id)?.status, "queued", "one retry allowed");
    await clock.advance(1000);
    engine.tick();
    const [g2] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g2 !== undefined);
    await engine.fail(task.id, g2.leaseId, "UserError", "x");
    assert.equal(engine.get(task.id)?.status, "failed");
  });

  it("gives undelivered leases back at the front with the attempt restored", async () => {
    const { engine, settings } = setup();
    const a = (await engine.submit(settings, "1", "json")).task;
    await engine.submit(settings, "2", "json");
    const grants = await engine.lease(settings, "w1", 1, 0);
    engine.unlease(grants);
    const [again] = await engine.lease(settings, "w1", 1, 0);
    assert.equal(again?.id, a.id);
    assert.equal(again.attempt, 1);
  });

  it("reports a function whose every worker failed with BadConfiguration as degraded", async () => {
    const { engine, settings } = setup();
    assert.equal(engine.degraded("ns", "fn"), undefined);
    engine.heartbeat(settings, "w1", { state: "failed", error: { type: "BadConfiguration", message: "no module" } });
    assert.deepEqual(engine.degraded("ns", "fn"), { type: "BadConfiguration", message: "no module" });
    engine.heartbeat(settings, "w2", { state: "setup" });
    assert.equal(engine.degraded("ns", "fn"), undefined);
  });

  it("renders the task document with the output spliced in", async () => {
    const { engine, settings } = setup();
    const { task } = await engine.submit(settings, "1", "json");
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    engine.progress(task.id, g.leaseId, 1, undefined);
    await engine.complete(task.id, g.leaseId, '{"a":[1,2]}');
    const doc = JSON.parse(renderTask(task)) as Record<string, unknown>;
    assert.deepEqual(doc["output"], { a: [1, 2] });
    assert.equal(doc["status"], "succeeded");
    assert.equal(doc["attempts"], 1);
    assert.deepEqual(doc["function"], { namespace: "ns", name: "fn" });
    for (const k of ["createdAt", "startedAt", "finishedAt"]) assert.match(String(doc[k]), /^\d{4}-\d\d-\d\dT/);
  });

  it("after a restart re-queues what was queued or leased, keeping counted attempts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hearth-engine-"));
    try {
      const path = join(dir, "g.db");
      const first = setup({ retries: RETRY3 }, {}, path);
      const a = (await first.engine.submit(first.settings, "1", "json")).task;
      const b = (await first.engine.submit(first.settings, "2", "json")).task;
      const c = (await first.engine.submit(first.settings, "3", "json")).task;
      const [ga] = await first.engine.lease(first.settings, "w1", 1, 0);
      assert.ok(ga !== undefined);
      await first.engine.fail(a.id, ga.leaseId, "UserError", "x"); // counted attempt 1, queued for retry
      await first.engine.lease(first.settings, "w1", 1, 0); // b leased: not written
      const [gc] = await first.engine.lease(first.settings, "w1", 1, 0);
      assert.ok(gc !== undefined);
      await first.engine.complete(c.id, gc.leaseId, "9");
      // No close(): as after kill -9, only what was committed counts.

      const second = setup({ retries: RETRY3 }, {}, path);
      assert.equal(second.engine.recover(), 2);
      assert.equal(second.engine.get(a.id)?.attempts, 1);
      assert.equal(second.engine.get(b.id)?.status, "queued");
      assert.equal(second.engine.get(c.id)?.output, "9");
      await second.clock.advance(2000);
      second.engine.tick();
      const grants = await second.engine.lease(second.settings, "w9", 10, 0);
      assert.deepEqual(new Set(grants.map((g) => g.id)), new Set([a.id, b.id]));
      assert.equal(grants.find((g) => g.id === a.id)?.attempt, 2);
      await second.store.close();
      await first.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("forgets finished tasks after the result TTL", async () => {
    const { engine, settings, clock } = setup({}, { resultTtlMs: 60_000, recentLimit: 0 });
    const { task } = await engine.submit(settings, "1", "json");
    const [g] = await engine.lease(settings, "w1", 1, 0);
    assert.ok(g !== undefined);
    await engine.complete(task.id, g.leaseId, "1");
    await clock.advance(40_000);
    engine.tick();
    assert.equal(engine.get(task.id)?.status, "succeeded");
    await clock.advance(40_000);
    engine.tick();
    await flushMicrotasks();
    assert.equal(engine.get(task.id), undefined);
  });
});
