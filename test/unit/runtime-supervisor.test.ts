// The supervisor's state machine with a scripted child (the real child process is exercised by
// test/e2e): how each way a task or a child ends maps to outcomes, restarts and states.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FromChild, ToChild } from "../../src/runtime/ipc.ts";
import { JOURNAL_POLL_MS, Supervisor, type AdoptedOutcome, type ChildHandle, type SupervisorOptions, type TaskOutcome } from "../../src/runtime/supervisor.ts";
import type { JournalEntry, JournalRead, JournalReader } from "../../src/runtime/task-journal.ts";
import { FakeClock, flushMicrotasks } from "../../src/kube/clock.ts";

/** The child's task journal as the supervisor reads it (task-journal.ts), kept in memory. */
class ScriptedJournal implements JournalReader {
  readonly slots = new Map<number, JournalEntry>();
  /** The next read finds a slot mid-write. */
  torn = false;
  reads = 0;
  read(slots: number): JournalRead {
    this.reads++;
    const entries = [...this.slots.entries()].filter(([i]) => i < slots).sort(([a], [b]) => a - b).map(([, e]) => e);
    const complete = !this.torn;
    this.torn = false;
    return { entries, complete };
  }
  close(): void {}
}

class ScriptedChild implements ChildHandle {
  journal?: ScriptedJournal;
  readonly pid: number;
  readonly sent: ToChild[] = [];
  /** Direct mode: the connections handed over (their messages). */
  readonly handed: ToChild[] = [];
  killed: "SIGKILL" | "SIGTERM" | undefined;
  private onMsg: ((m: unknown) => void) | undefined;
  private onExitFn: ((code: number | null, signal: string | null) => void) | undefined;

  constructor(pid: number) {
    this.pid = pid;
  }

  send(msg: ToChild): void {
    this.sent.push(msg);
  }
  kill(): void {
    this.killed = "SIGKILL";
    this.onExitFn?.(null, "SIGKILL");
  }
  terminate(): void {
    this.killed = "SIGTERM";
    this.onExitFn?.(0, null);
  }
  onMessage(fn: (msg: unknown) => void): void {
    this.onMsg = fn;
  }
  onExit(fn: (code: number | null, signal: string | null) => void): void {
    this.onExitFn = fn;
  }
  sendHandle(msg: ToChild): boolean {
    this.handed.push(msg);
    return true;
  }
  say(msg: FromChild): void {
    this.onMsg?.(msg);
  }
  die(code: number): void {
    this.onExitFn?.(code, null);
  }
  tasks(): string[] {
    return this.sent.flatMap((m) => (m.t === "task" ? [m.id] : []));
  }
}

function setup(opts: Partial<SupervisorOptions> = {}) {
  const clock = new FakeClock();
  const children: ScriptedChild[] = [];
  const sup = new Supervisor({
    spawn: () => {
      const c = new ScriptedChild(children.length + 1);
      children.push(c);
      return c;
    },
    clock,
    concurrency: 2,
    restartOnError: true,
    retrySetup: true,
    respawn: true,
    ...opts,
  });
  sup.start();
  const child = (): ScriptedChild => {
    const c = children.at(-1);
    assert.ok(c !== undefined);
    return c;
  };
  return { sup, clock, children, child };
}

const task = (id: string, timeoutSeconds = 10) => ({ id, attempt: 1, input: null, timeoutSeconds });

describe("Supervisor", () => {
  it("is not ready, and takes no tasks, until setup() reports ready", async () => {
    const { sup, child } = setup();
    assert.equal(sup.state, "starting");
    assert.equal(sup.capacity, 0);
    assert.deepEqual(await sup.run(task("early")), { kind: "disrupted", message: "the worker cannot take tasks now (state starting)" });
    child().say({ t: "ready", kind: "class" });
    assert.equal(await sup.settled(), "ready");
    assert.equal(sup.capacity, 2);
  });

  it("runs tasks up to the concurrency and passes outputs through", async () => {
    const { sup, child } = setup();
    child().say({ t: "ready", kind: "class" });
    const a = sup.run(task("a"));
    const b = sup.run(task("b"));
    assert.equal(sup.capacity, 0);
    assert.deepEqual(child().tasks(), ["a", "b"]);
    child().say({ t: "done", id: "b", output: '"B"' });
    child().say({ t: "done", id: "a", output: '"A"' });
    assert.deepEqual(await Promise.all([a, b]), [
      { kind: "done", output: '"A"' },
      { kind: "done", output: '"B"' },
    ]);
  });

  it("restartOnError: after a user error, finishes in-flight work, then replaces the child", async () => {
    const { sup, child, children } = setup();
    child().say({ t: "ready", kind: "class" });
    const a = sup.run(task("a"));
    const b = sup.run(task("b"));
    child().say({ t: "failed", id: "a", error: { type: "UserError", message: "boom" } });
    assert.deepEqual(await a, { kind: "failed", error: { type: "UserError", message: "boom" } });
    assert.equal(sup.state, "restarting");
    assert.equal(sup.capacity, 0, "no new work for a child about to be replaced");
    assert.equal(children.length, 1);
    children[0]?.say({ t: "done", id: "b", output: "1" });
    assert.deepEqual(await b, { kind: "done", output: "1" });
    await flushMicrotasks();
    assert.equal(children[0]?.killed, "SIGKILL");
    assert.equal(children.length, 2);
    assert.equal(sup.state, "starting");
  });

  it("restartOnError=false keeps the child after a user error; InputRejected never restarts", async () => {
    const { sup, child, children } = setup({ restartOnError: false });
    child().say({ t: "ready", kind: "class" });
    const a = sup.run(task("a"));
    child().say({ t: "failed", id: "a", error: { type: "UserError", message: "x" } });
    await a;
    const b = sup.run(task("b"));
    child().say({ t: "failed", id: "b", error: { type: "InputRejected", message: "x" } });
    await b;
    await flushMicrotasks();
    assert.equal(children.length, 1);
    assert.equal(sup.state, "ready");
  });

  it("kills the child when a deadline passes: Timeout for that task, Disrupted for the others", async () => {
    const { sup, child, children, clock } = setup();
    child().say({ t: "ready", kind: "class" });
    const slow = sup.run(task("slow", 1));
    const other = sup.run(task("other", 10));
    await clock.advance(1000);
    assert.deepEqual(await slow, { kind: "failed", error: { type: "Timeout", message: "the attempt exceeded timeoutSeconds=1 without progress" } });
    const o = await other;
    assert.equal(o.kind, "disrupted");
    assert.equal(children[0]?.killed, "SIGKILL");
    assert.equal(children.length, 2, "a fresh child");
  });

  it("progress from the child extends the deadline", async () => {
    const progress: [string, number][] = [];
    const { sup, child, clock } = setup({ onProgress: (id, v) => progress.push([id, v]) });
    child().say({ t: "ready", kind: "class" });
    let outcome: TaskOutcome | undefined;
    void sup.run(task("p", 1)).then((o) => (outcome = o));
    await clock.advance(900);
    child().say({ t: "progress", id: "p", value: 0.5 });
    await clock.advance(900);
    assert.equal(outcome, undefined, "still inside the extended deadline");
    child().say({ t: "done", id: "p", output: "1" });
    await flushMicrotasks();
    assert.deepEqual(outcome, { kind: "done", output: "1" });
    assert.deepEqual(progress, [["p", 0.5]]);
  });

  it("FatalError: the task fails Fatal, the child is killed and the state is fatal (no respawn)", async () => {
    const { sup, child, children } = setup();
    child().say({ t: "ready", kind: "class" });
    const a = sup.run(task("a"));
    const b = sup.run(task("b"));
    child().say({ t: "failed", id: "a", error: { type: "Fatal", message: "gpu" } });
    assert.equal((await a).kind, "failed");
    assert.equal((await b).kind, "disrupted");
    assert.equal(sup.state, "fatal");
    assert.equal(children.length, 1);
  });

  it("a child that dies mid-task fails its tasks as UserError and is replaced", async () => {
    const { sup, child, children } = setup();
    child().say({ t: "ready", kind: "class" });
    const a = sup.run(task("a"));
    child().die(3);
    assert.deepEqual(await a, { kind: "failed", error: { type: "UserError", message: "the worker process exited with code 3 while running the task" } });
    assert.equal(children.length, 2);
  });

  it("setup failures: BadConfiguration stays failed; a raising setup() is retried with backoff", async () => {
    const bad = setup();
    bad.child().say({ t: "setupFailed", error: { type: "BadConfiguration", message: "no module" } });
    assert.equal(await bad.sup.settled(), "failed");
    await bad.clock.advance(120_000);
    assert.equal(bad.children.length, 1, "no hot restart loop");

    const flaky = setup({ setupBackoffMs: { initial: 1000, max: 4000 } });
    flaky.child().say({ t: "setupFailed", error: { type: "UserError", message: "setup failed: x" } });
    assert.equal(flaky.sup.state, "failed");
    assert.deepEqual(flaky.sup.setupError, { type: "UserError", message: "setup failed: x" });
    await flaky.clock.advance(999);
    assert.equal(flaky.children.length, 1);
    await flaky.clock.advance(1);
    assert.equal(flaky.children.length, 2);
    flaky.child().say({ t: "setupFailed", error: { type: "UserError", message: "again" } });
    await flaky.clock.advance(1999);
    assert.equal(flaky.children.length, 2, "second wait is twice as long");
    await flaky.clock.advance(1);
    assert.equal(flaky.children.length, 3);
    flaky.child().say({ t: "ready", kind: "class" });
    assert.equal(flaky.sup.state, "ready");
    assert.equal(flaky.sup.setupError, undefined);
  });

  it("stop() disrupts running tasks and terminates the child", async () => {
    const { sup, child } = setup();
    child().say({ t: "ready", kind: "class" });
    const a = sup.run(task("a"));
    sup.stop();
    assert.equal((await a).kind, "disrupted");
    assert.equal(child().killed, "SIGTERM");
    assert.equal(sup.state, "stopped");
  });

  it("ignores malformed messages from the child", async () => {
    const { sup, child } = setup();
    child().say({ t: "ready", kind: "class" });
    const a = sup.run(task("a"));
    (child() as unknown as { say(m: unknown): void }).say({ t: "done", id: "a", output: 42 });
    (child() as unknown as { say(m: unknown): void }).say("garbage");
    child().say({ t: "done", id: "a", output: "42" });
    assert.deepEqual(await a, { kind: "done", output: "42" });
  });
});

// Direct mode: the child leases on its own channel and tells the supervisor `started` / `ended`.
describe("Supervisor, direct mode with the task journal (no message per task)", () => {
  const slot = (id: string, deadline: number, timeoutSeconds = 10, leaseId = `l-${id}`): JournalEntry => ({ id, leaseId, attempt: 1, timeoutSeconds, deadline });
  async function journaled(opts: Partial<SupervisorOptions> = {}) {
    const adopted = new Map<string, Promise<AdoptedOutcome>>();
    const clock = new FakeClock();
    const children: ScriptedChild[] = [];
    const sup = new Supervisor({
      spawn: () => {
        const c = new ScriptedChild(children.length + 1);
        c.journal = new ScriptedJournal();
        children.push(c);
        return c;
      },
      clock,
      concurrency: 4,
      restartOnError: true,
      retrySetup: true,
      respawn: true,
      onStarted: (t, outcome) => {
        adopted.set(t.id, outcome);
      },
      ...opts,
    });
    sup.start();
    const first = children[0];
    assert.ok(first !== undefined);
    first.say({ t: "ready", kind: "class" });
    const socket = {} as Parameters<NonNullable<ChildHandle["sendHandle"]>>[1];
    assert.equal(sup.handOver({ socket, head: Buffer.alloc(0) }), true);
    assert.deepEqual(first.handed, [{ t: "channel", concurrency: 4, restartOnError: opts.restartOnError ?? true, head: "", journal: true }]);
    const journal = first.journal;
    assert.ok(journal !== undefined);
    await flushMicrotasks();
    return { sup, clock, children, first, journal, adopted, outcome: (id: string) => adopted.get(id) ?? assert.fail(`${id} was not adopted`) };
  }

  it("learns the running tasks when it reads the journal; a cleared slot ends its task as reported", async () => {
    const { sup, journal, adopted, outcome } = await journaled();
    journal.slots.set(0, slot("a", 10_000));
    journal.slots.set(2, slot("b", 10_000));
    assert.equal(adopted.size, 0, "nothing read yet: no wake-up per task");
    sup.refresh();
    assert.equal(sup.inFlight, 2);
    assert.deepEqual([...adopted.keys()], ["a", "b"]);
    journal.slots.delete(0);
    sup.refresh();
    assert.deepEqual(await outcome("a"), { kind: "reported" });
    assert.equal(sup.inFlight, 1);
  });

  it("reads the journal at least every JOURNAL_POLL_MS, and kills the child at a task's deadline exactly", async () => {
    const { clock, journal, children, outcome } = await journaled();
    const reads = journal.reads;
    const t0 = clock.now();
    journal.slots.set(0, slot("slow", t0 + 2500, 3));
    journal.slots.set(1, slot("other", t0 + 60_000, 60));
    await clock.advance(JOURNAL_POLL_MS);
    assert.equal(journal.reads, reads + 1);
    await clock.advance(2499 - JOURNAL_POLL_MS);
    assert.equal(children[0]?.killed, undefined, "not before its deadline");
    await clock.advance(1);
    assert.deepEqual(await outcome("slow"), { kind: "failed", error: { type: "Timeout", message: "the attempt exceeded timeoutSeconds=3 without progress" } });
    assert.equal((await outcome("other")).kind, "disrupted");
    assert.equal(children[0]?.killed, "SIGKILL");
    assert.equal(children.length, 2, "a fresh child");
  });

  it("progress: the child moves the deadline in the slot, and the deadline read then holds", async () => {
    const { clock, journal, children, outcome } = await journaled();
    const t0 = clock.now();
    journal.slots.set(0, slot("steps", t0 + 1000, 1));
    await clock.advance(900);
    journal.slots.set(0, slot("steps", t0 + 1900, 1));
    await clock.advance(200);
    assert.equal(children[0]?.killed, undefined, "progress moved it");
    await clock.advance(800);
    assert.equal((await outcome("steps")).kind, "failed");
    assert.equal(children[0]?.killed, "SIGKILL");
  });

  it("a child that dies fails the tasks left in its journal as UserError, read after the exit", async () => {
    const { first, journal, outcome, sup } = await journaled();
    journal.slots.set(1, slot("a", 60_000));
    first.die(137);
    assert.deepEqual(await outcome("a"), { kind: "failed", error: { type: "UserError", message: "the worker process exited with code 137 while running the task" } });
    assert.equal(sup.state, "starting");
  });

  it("FatalError: `ended` with the task's slot still there; reported Fatal, the others disrupted, state fatal", async () => {
    const { sup, first, journal, outcome } = await journaled();
    journal.slots.set(0, slot("a", 60_000));
    journal.slots.set(1, slot("b", 60_000));
    first.say({ t: "ended", id: "a", error: { type: "Fatal", message: "GPU gone" } });
    assert.deepEqual(await outcome("a"), { kind: "failed", error: { type: "Fatal", message: "GPU gone" } });
    assert.equal((await outcome("b")).kind, "disrupted");
    assert.equal(sup.state, "fatal");
    assert.equal(first.killed, "SIGKILL");
  });

  it("restartOnError: a UserError whose slot is already cleared still restarts; the child retires once the rest ended", async () => {
    const { sup, first, journal, outcome, children } = await journaled();
    journal.slots.set(0, slot("a", 60_000));
    journal.slots.set(1, slot("b", 60_000));
    sup.refresh();
    journal.slots.delete(0);
    first.say({ t: "ended", id: "a", error: { type: "UserError", message: "boom" } });
    assert.deepEqual(await outcome("a"), { kind: "reported" });
    await flushMicrotasks();
    assert.equal(sup.state, "restarting");
    assert.notDeepEqual(first.sent.at(-1), { t: "retire" }, "b still runs");
    // Paused, the child says `ended` for each task again.
    journal.slots.delete(1);
    first.say({ t: "ended", id: "b" });
    assert.deepEqual(await outcome("b"), { kind: "reported" });
    await flushMicrotasks();
    assert.deepEqual(first.sent.at(-1), { t: "retire" });
    first.die(0);
    await flushMicrotasks();
    assert.equal(children.length, 2);
  });

  it("a read that caught a slot mid-write ends nothing; the same task leased again ends its earlier attempt", async () => {
    const { sup, journal, outcome, adopted } = await journaled();
    journal.slots.set(0, slot("a", 60_000));
    sup.refresh();
    journal.slots.delete(0);
    journal.torn = true;
    sup.refresh();
    assert.equal(sup.inFlight, 1, "not ended on a torn read");
    const first = outcome("a");
    journal.slots.set(3, slot("a", 70_000, 10, "l-a-2"));
    sup.refresh();
    assert.deepEqual(await first, { kind: "reported" });
    assert.equal(sup.inFlight, 1);
    assert.notEqual(adopted.get("a"), first, "the new attempt is adopted anew");
  });

  it("stop() and drain() read the journal first: a task it holds comes back disrupted", async () => {
    const { sup, journal, outcome } = await journaled();
    journal.slots.set(0, slot("a", 60_000));
    sup.stop();
    assert.equal((await outcome("a")).kind, "disrupted");
  });

  it("a progress message for a task not read yet (the channel closed: the supervisor sends it) finds it", async () => {
    const progress: unknown[] = [];
    const { first, journal } = await journaled({ onProgress: (...args) => progress.push(args) });
    journal.slots.set(0, slot("a", 60_000));
    first.say({ t: "progress", id: "a", value: 0.5 });
    assert.deepEqual(progress, [["a", 0.5, undefined, false]]);
  });
});

describe("Supervisor, direct mode (the child holds the worker channel)", () => {
  const started = (id: string, timeoutSeconds = 10) => ({ id, leaseId: `l-${id}`, attempt: 1, timeoutSeconds });
  function direct(opts: Partial<SupervisorOptions> = {}) {
    const adopted = new Map<string, Promise<AdoptedOutcome>>();
    const s = setup({
      ...opts,
      onStarted: (t, outcome) => {
        adopted.set(t.id, outcome);
      },
    });
    s.child().say({ t: "ready", kind: "class" });
    return { ...s, adopted, outcome: (id: string) => adopted.get(id) ?? assert.fail(`${id} was not adopted`) };
  }

  it("adopts what the child started: the slot is taken, `ended` frees it as reported", async () => {
    const { sup, child, outcome } = direct();
    child().say({ t: "started", tasks: [started("a"), started("b")] });
    assert.equal(sup.inFlight, 2);
    assert.equal(sup.capacity, 0);
    child().say({ t: "ended", id: "a" });
    assert.deepEqual(await outcome("a"), { kind: "reported" });
    child().say({ t: "ended", id: "b", error: { type: "InputRejected", message: "no" } });
    assert.deepEqual(await outcome("b"), { kind: "reported" }, "the child reported its own failure");
    assert.equal(sup.inFlight, 0);
    assert.equal(sup.state, "ready");
  });

  it("a crash after `started` fails the task as UserError with the exit, as in relay mode", async () => {
    const { sup, child, outcome } = direct();
    child().say({ t: "started", tasks: [started("a")] });
    child().die(3);
    assert.deepEqual(await outcome("a"), { kind: "failed", error: { type: "UserError", message: "the worker process exited with code 3 while running the task" } });
    assert.equal(sup.state, "starting", "a fresh child");
  });

  it("the deadline of an adopted task kills the child: Timeout for it, Disrupted for the others", async () => {
    const { clock, child, children, outcome } = direct();
    child().say({ t: "started", tasks: [started("slow", 1), started("other", 60)] });
    await clock.advance(1001);
    assert.deepEqual(await outcome("slow"), { kind: "failed", error: { type: "Timeout", message: "the attempt exceeded timeoutSeconds=1 without progress" } });
    assert.equal((await outcome("other")).kind, "disrupted");
    assert.equal(children[0]?.killed, "SIGKILL");
    assert.equal(children.length, 2);
  });

  it("a FatalError is reported by the supervisor, which ends the child at once", async () => {
    const { sup, child, outcome } = direct();
    child().say({ t: "started", tasks: [started("a"), started("b")] });
    child().say({ t: "ended", id: "a", error: { type: "Fatal", message: "GPU gone" } });
    assert.deepEqual(await outcome("a"), { kind: "failed", error: { type: "Fatal", message: "GPU gone" } });
    assert.equal((await outcome("b")).kind, "disrupted");
    assert.equal(sup.state, "fatal");
  });

  it("restartOnError with a channel: the child is retired (it closes its channel and exits), then replaced", async () => {
    const { sup, child, children, outcome } = direct();
    const socket = {} as Parameters<NonNullable<ChildHandle["sendHandle"]>>[1];
    const first = child();
    assert.equal(sup.handOver({ socket, head: Buffer.alloc(0) }), true);
    assert.deepEqual(first.handed, [{ t: "channel", concurrency: 2, restartOnError: true, head: "" }]);
    first.say({ t: "started", tasks: [started("a")] });
    first.say({ t: "ended", id: "a", error: { type: "UserError", message: "boom" } });
    assert.deepEqual(await outcome("a"), { kind: "reported" });
    await flushMicrotasks();
    assert.equal(sup.state, "restarting");
    assert.deepEqual(first.sent.at(-1), { t: "retire" });
    assert.equal(first.killed, undefined, "not killed: its outcomes may still be on the way");
    assert.equal(children.length, 1, "the next child only once this one is gone");
    first.die(0);
    await flushMicrotasks();
    assert.equal(children.length, 2);
    assert.equal(sup.state, "starting");
  });

  it("passes channel events on, and progress marked as sent", () => {
    const events: unknown[] = [];
    const progress: unknown[] = [];
    const { child } = direct({ onChannel: (e) => events.push(e), onProgress: (...args) => progress.push(args) });
    child().say({ t: "started", tasks: [started("a")] });
    child().say({ t: "progress", id: "a", value: 0.5, sent: true });
    child().say({ t: "report", id: "a", item: "{}" });
    child().say({ t: "channelClosed" });
    child().say({ t: "drained" });
    assert.deepEqual(progress, [["a", 0.5, undefined, true]]);
    assert.deepEqual(events, [{ t: "report", id: "a", item: "{}" }, { t: "channelClosed" }, { t: "drained" }]);
  });
});
