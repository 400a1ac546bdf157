// The supervisor side of a worker: owns the child process that holds the model, hands it tasks
// up to the concurrency, enforces each attempt's deadline (a child spinning in a synchronous
// loop cannot time itself out), and maps how tasks and the child end onto the exit-code
// contract (docs/protocol.md). Warm workers and oneshot Jobs both run tasks through this class.
import { fork } from "node:child_process";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { Clock, TimerHandle } from "../kube/clock.ts";
import { batchingSender, parseFromChild, unbatch, type FromChild, type StartedTask, type ToChild, type WireFailure } from "./ipc.ts";
import { SetupWatch, type SetupProgress } from "./setup-watch.ts";
import { createJournal, JOURNAL_FD, JOURNAL_FD_ENV, type JournalEntry, type JournalReader } from "./task-journal.ts";
import { handOff, type UpgradedChannel } from "./worker-channel.ts";
import { hop } from "../trace/hops.ts";

export interface ChildHandle {
  readonly pid: number | undefined;
  send(msg: ToChild): void;
  /** SIGKILL: used when the child's state is no longer trusted (deadline passed, fatal). */
  kill(): void;
  /** SIGTERM: a polite stop at shutdown. */
  terminate(): void;
  onMessage(fn: (msg: unknown) => void): void;
  onExit(fn: (code: number | null, signal: string | null) => void): void;
  /**
   * Sends `msg` with a connection the child takes over (direct mode: the worker channel); false
   * when the child is gone (the connection stays here).
   */
  sendHandle?(msg: ToChild, handle: Socket): boolean;
  /**
   * Direct mode: the child's task journal (task-journal.ts), when it has one: the child records
   * its tasks there instead of sending `started`/`ended` for each.
   */
  readonly journal?: JournalReader;
}

export type SpawnChild = () => ChildHandle;

export const CHILD_ENTRY = fileURLToPath(new URL("./child-main.ts", import.meta.url));

/** Forks the child entry with `env`; stdout/stderr go where the supervisor's go (container logs). */
export function forkChild(env: NodeJS.ProcessEnv, entry: string = CHILD_ENTRY): SpawnChild {
  return () => {
    // The task journal, inherited as descriptor 4; without one (no writable temp directory) the
    // child sends `started`/`ended` messages instead.
    let journal: ReturnType<typeof createJournal> | undefined;
    try {
      journal = createJournal();
    } catch {
      journal = undefined;
    }
    // execArgv [] so flags of the supervisor (--test, --inspect) do not leak into user code.
    const cp = fork(entry, [], {
      env: journal === undefined ? env : { ...env, [JOURNAL_FD_ENV]: String(JOURNAL_FD) },
      execArgv: [],
      stdio: journal === undefined ? ["ignore", "inherit", "inherit", "ipc"] : ["ignore", "inherit", "inherit", "ipc", journal.fd],
      serialization: "json",
    });
    // A child that died mid-send makes send() emit 'error' (EPIPE); its exit is handled on 'exit'.
    cp.on("error", () => {});
    // Messages sent in one turn (the tasks of one lease, a cancel) cross as one array: one
    // write and one wake-up of the child instead of one per task (ipc.ts).
    const send = batchingSender<ToChild>((msg) => {
      hop("s.tochild");
      if (cp.connected) cp.send(msg);
    });
    return {
      pid: cp.pid,
      send: (msg) => {
        if (cp.connected) send(msg);
      },
      kill: () => {
        cp.kill("SIGKILL");
      },
      terminate: () => {
        cp.kill("SIGTERM");
      },
      onMessage: (fn) => {
        cp.on("message", fn);
      },
      onExit: (fn) => {
        cp.on("exit", (code, signal) => {
          // What the child wrote before it died may still be unread (its `started`, its last
          // outcomes): read it first — the IPC channel closes once it is all read.
          if (!cp.connected) {
            fn(code, signal);
            return;
          }
          let called = false;
          const go = (): void => {
            if (called) return;
            called = true;
            clearTimeout(timer);
            fn(code, signal);
          };
          const timer = setTimeout(go, 1000);
          cp.once("disconnect", go);
        });
      },
      sendHandle: (msg, handle) => {
        if (!cp.connected) return false;
        cp.send(msg, handle);
        return true;
      },
      ...(journal === undefined ? {} : { journal: journal.reader }),
    };
  };
}

export interface TaskAssignment {
  id: string;
  attempt: number;
  input: unknown;
  timeoutSeconds: number;
  /** Task-scoped token for `ctx.function(…)` calls (from the lease). */
  token?: string | undefined;
  /** A reducer batch to fold (from the lease). */
  fold?: boolean | undefined;
}

export type TaskOutcome =
  | { kind: "done"; output: string }
  | { kind: "failed"; error: WireFailure }
  /** Not the task's doing (another task's timeout killed the shared child, shutdown): re-queue. */
  | { kind: "disrupted"; message: string };

/** How a task the child leased itself ended (direct mode): as run()'s, or `reported` by the child on its channel. */
export type AdoptedOutcome = TaskOutcome | { kind: "reported" };

/**
 * - `starting`: the child is loading the handler / running setup() (not ready).
 * - `ready`: tasks may be sent.
 * - `restarting`: a fresh child is wanted once in-flight tasks finish (restartOnError).
 * - `failed`: setup failed; `setupError` says why. BadConfiguration stays failed (no hot restart
 *   loop); a UserError setup is tried again after a backoff when `retrySetup` is on.
 * - `fatal`: a FatalError: the process must exit 75 so its container restarts.
 * - `setupTimeout`: setup() outlived startupTimeoutSeconds: the process exits 124 (SetupTimeout)
 *   so its container restarts with the kubelet's back-off.
 * - `stopped`: stop() was called.
 */
export type SupervisorState = "starting" | "ready" | "restarting" | "failed" | "fatal" | "setupTimeout" | "stopped";

export interface SupervisorOptions {
  spawn: SpawnChild;
  clock: Clock;
  concurrency: number;
  restartOnError: boolean;
  /** Warm workers retry a setup() that raised, with backoff; oneshot does not. */
  retrySetup: boolean;
  /** Start a fresh child after one was killed or died (warm). Oneshot runs one attempt and stops. */
  respawn: boolean;
  /** First and longest wait before re-running a setup that raised. Defaults 1 s and 60 s. */
  setupBackoffMs?: { initial: number; max: number };
  /** `sent`: the child already sent it to the gateway on its own channel (direct mode). */
  onProgress?: (taskId: string, value: number, message: string | undefined, sent: boolean) => void;
  /** Deadline of each setup(); progress from setup() extends it. Absent: none. */
  startupTimeoutSeconds?: number;
  onSetupProgress?: (progress: SetupProgress) => void;
  onState?: (state: SupervisorState) => void;
  log?: (msg: string) => void;
  /**
   * Direct mode (child-channel.ts): the child leased `task` on its own channel. `outcome` settles
   * as run()'s does (deadline, crash, Fatal); `reported` when the child sent it itself.
   */
  onStarted?: (task: StartedTask, outcome: Promise<AdoptedOutcome>) => void;
  /** Direct mode: what the child says about its channel (closed, drained, an outcome to send for it). */
  onChannel?: (event: Extract<FromChild, { t: "channelClosed" | "drained" | "report" }>) => void;
}

/** How long a child retiring after an error may take to deliver its acknowledged outcomes. */
const RETIRE_WAIT_MS = 5000;

/**
 * Direct mode with a journal: the longest the supervisor goes without reading it. A task started
 * just after a read is seen at the next one, before its deadline as long as timeoutSeconds ≥ 1 s
 * (the least a Function or a call may set): its deadline is then enforced to the millisecond.
 */
export const JOURNAL_POLL_MS = 1000;

interface Running {
  task: TaskAssignment;
  deadline: number;
  /** Its own deadline timer; undefined for a task known from the journal (the journal poll). */
  timer: TimerHandle | undefined;
  resolve: (outcome: AdoptedOutcome) => void;
  /** Known from the child's journal: it ends when its slot is cleared. */
  journal?: { leaseId: string };
}

interface Generation {
  child: ChildHandle;
  ready: boolean;
  /** We killed it: its exit is not news. */
  expectedExit: boolean;
  exited: boolean;
  /** Resolves when the process exited (and its last messages were read). */
  gone: Promise<void>;
  /** It holds a worker channel (direct mode): it is retired gracefully, not killed, after an error. */
  channel: boolean;
  /** It records its tasks in its journal (told so with the channel): read it, poll it. */
  journaled: boolean;
  /** The next read of the journal (the earliest deadline, at most JOURNAL_POLL_MS away). */
  poll: { timer: TimerHandle; at: number } | undefined;
}

export class Supervisor {
  private readonly opts: SupervisorOptions;
  private current: Generation | undefined;
  private readonly running = new Map<string, Running>();
  private stateValue: SupervisorState = "starting";
  private setupErrorValue: WireFailure | undefined;
  private signatureValue: unknown;
  private setupFailures = 0;
  private setupsStarted = 0;
  private retryTimer: TimerHandle | undefined;
  private readonly listeners = new Set<() => void>();
  private settledWaiters: (() => void)[] = [];
  private notifyQueued = false;
  /** The startup deadline and what setup() reported. */
  readonly setup: SetupWatch;

  constructor(opts: SupervisorOptions) {
    this.opts = opts;
    this.setup = new SetupWatch(opts.clock, opts.startupTimeoutSeconds ?? 0, (message) => this.setupTimedOut(message));
  }

  get state(): SupervisorState {
    return this.stateValue;
  }

  /** Why setup failed (state `failed`/`fatal` from setup). */
  get setupError(): WireFailure | undefined {
    return this.setupErrorValue;
  }

  /** The handler's signature as the last ready child reported it (src/runtime/signature.ts). */
  get signature(): unknown {
    return this.signatureValue;
  }

  /** Children started so far (each runs setup() once). */
  get setups(): number {
    return this.setupsStarted;
  }

  get inFlight(): number {
    return this.running.size;
  }

  get childPid(): number | undefined {
    return this.current?.child.pid;
  }

  /** Tasks that may be started now. */
  get capacity(): number {
    return this.stateValue === "ready" ? Math.max(0, this.opts.concurrency - this.running.size) : 0;
  }

  /** Called on every change of state or capacity. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start(): void {
    this.spawn();
  }

  /** Resolves once the state is no longer `starting` (ready, failed, fatal, stopped). */
  settled(): Promise<SupervisorState> {
    if (this.stateValue !== "starting") return Promise.resolve(this.stateValue);
    return new Promise((resolve) => this.settledWaiters.push(() => resolve(this.stateValue)));
  }

  /** Runs one attempt; the outcome always arrives (deadline, child death, stop). */
  run(task: TaskAssignment): Promise<TaskOutcome> {
    const gen = this.current;
    if (this.capacity === 0 || gen === undefined || !gen.ready) {
      return Promise.resolve({ kind: "disrupted", message: `the worker cannot take tasks now (state ${this.stateValue})` });
    }
    if (this.running.has(task.id)) {
      return Promise.resolve({ kind: "disrupted", message: `task ${task.id} is already running on this worker` });
    }
    return new Promise((resolve) => {
      const deadline = this.opts.clock.now() + task.timeoutSeconds * 1000;
      // `reported` never ends a task sent here (only one the child leased itself).
      const settle = (o: AdoptedOutcome): void => resolve(o.kind === "reported" ? { kind: "disrupted", message: "the child reported a task it was given" } : o);
      const entry: Running = { task, deadline, resolve: settle, timer: this.deadlineTimer(task.id, deadline) };
      this.running.set(task.id, entry);
      gen.child.send({ t: "task", id: task.id, attempt: task.attempt, input: task.input, timeoutSeconds: task.timeoutSeconds, ...(task.token === undefined ? {} : { token: task.token }), ...(task.fold === true ? { fold: true } : {}) });
      this.changed();
    });
  }

  /** Moves a task's deadline (the gateway's answer to a progress update). */
  extend(taskId: string, deadline: number): void {
    const r = this.running.get(taskId);
    // A journal task's deadline is the one in its slot (the child moves it on progress).
    if (r === undefined || r.journal !== undefined) return;
    r.timer?.cancel();
    r.deadline = deadline;
    r.timer = this.deadlineTimer(taskId, deadline);
  }

  /**
   * The caller cancelled: the outcome is no longer wanted. The child is told (ctx.signal) and
   * the slot stays taken until the handler returns or its deadline passes.
   */
  cancel(taskId: string): void {
    if (this.running.has(taskId)) this.current?.child.send({ t: "cancel", id: taskId });
  }

  /**
   * Direct mode: hands the worker channel's connection to the ready child, which leases and
   * reports on it from then on. False (the caller closes the connection) when no child is ready.
   */
  handOver(conn: UpgradedChannel): boolean {
    const gen = this.current;
    if (gen === undefined || !gen.ready || gen.exited || this.stateValue !== "ready" || gen.child.sendHandle === undefined) return false;
    // In this turn, up to the send: this process must not read the connection any more.
    const head = handOff(conn);
    if (head === undefined) return false;
    const journal = gen.child.journal !== undefined;
    if (!gen.child.sendHandle({ t: "channel", concurrency: this.opts.concurrency, restartOnError: this.opts.restartOnError, head: head.toString("base64"), ...(journal ? { journal: true } : {}) }, conn.socket)) return false;
    gen.channel = true;
    if (journal && !gen.journaled) {
      gen.journaled = true;
      this.schedulePoll(gen);
    }
    return true;
  }

  /**
   * Direct mode: reads the child's journal now (tasks started and ended since the last read), so
   * that inFlight, the heartbeat's task list and cancel() are current.
   */
  refresh(): void {
    const gen = this.current;
    if (gen !== undefined) this.sync(gen);
  }

  /** Direct mode: a control message (stop) for the current child, if it is ready to hear it. */
  tell(msg: ToChild): boolean {
    const gen = this.current;
    if (gen === undefined || !gen.ready || gen.exited) return false;
    gen.child.send(msg);
    return true;
  }

  /** Resolves when the current child process is gone. */
  childGone(): Promise<void> {
    return this.current?.gone ?? Promise.resolve();
  }

  /** Resolves when no task is in flight. */
  async drain(): Promise<void> {
    this.refresh();
    while (this.running.size > 0) {
      await new Promise<void>((resolve) => {
        const off = this.onChange(() => {
          if (this.running.size === 0) {
            off();
            resolve();
          }
        });
      });
    }
  }

  /** Ends the child; tasks still running come back `disrupted`. */
  stop(): void {
    this.refresh();
    this.retryTimer?.cancel();
    this.setup.cancel();
    this.setState("stopped");
    this.disruptAll("the worker is stopping");
    const gen = this.current;
    if (gen !== undefined && !gen.exited) {
      gen.expectedExit = true;
      gen.child.terminate();
      // A child ignoring SIGTERM still goes.
      this.opts.clock.setTimer(5000, () => {
        if (!gen.exited) gen.child.kill();
      });
    }
  }

  private deadlineTimer(taskId: string, deadline: number): TimerHandle {
    return this.opts.clock.setTimer(Math.max(0, deadline - this.opts.clock.now()), () => this.expire(taskId));
  }

  private spawn(): void {
    this.setupsStarted++;
    this.setState("starting");
    const child = this.opts.spawn();
    let markGone = (): void => {};
    const gone = new Promise<void>((resolve) => (markGone = resolve));
    const gen: Generation = { child, ready: false, expectedExit: false, exited: false, gone, channel: false, journaled: false, poll: undefined };
    this.current = gen;
    if (this.opts.startupTimeoutSeconds !== undefined) this.setup.begin();
    child.onMessage((raw) => {
      hop("s.fromchild");
      for (const one of unbatch(raw)) {
        if (this.current !== gen) return;
        const msg = parseFromChild(one);
        if (msg !== undefined) this.onMessage(gen, msg);
      }
    });
    child.onExit((code, signal) => {
      // Its last messages were read; what it left in its journal is final now.
      if (this.current === gen && !gen.expectedExit) this.sync(gen);
      gen.exited = true;
      gen.poll?.timer.cancel();
      gen.poll = undefined;
      if (this.current === gen && !gen.expectedExit) this.onUnexpectedExit(gen, code, signal);
      child.journal?.close();
      markGone();
    });
  }

  private onMessage(gen: Generation, msg: FromChild): void {
    switch (msg.t) {
      case "ready": {
        const seconds = this.setup.finished();
        this.opts.log?.(`hearth worker: setup() finished in ${seconds.toFixed(2)}s`);
        gen.ready = true;
        if (msg.signature !== undefined) this.signatureValue = msg.signature;
        this.setupFailures = 0;
        this.setupErrorValue = undefined;
        this.setState("ready");
        return;
      }
      case "setupProgress":
        if (gen.ready) return;
        this.setup.progress(msg.value, msg.message);
        this.opts.onSetupProgress?.({ value: msg.value, message: msg.message });
        return;
      case "setupFailed":
        this.setupFailed(gen, msg.error);
        return;
      case "progress": {
        // A journal task may not have been read yet.
        if (!this.running.has(msg.id)) this.sync(gen);
        const r = this.running.get(msg.id);
        if (r === undefined) return;
        // Extend locally at once; the gateway's answer (extend()) may move it again.
        this.extend(msg.id, this.opts.clock.now() + r.task.timeoutSeconds * 1000);
        this.opts.onProgress?.(msg.id, msg.value, msg.message, msg.sent === true);
        return;
      }
      case "done":
        this.finish(msg.id, { kind: "done", output: msg.output });
        return;
      case "failed":
        this.taskFailed(gen, msg.id, msg.error, { kind: "failed", error: msg.error });
        return;
      case "started":
        for (const task of msg.tasks) this.adopt(task);
        return;
      case "ended":
        // A child with a journal says `ended` only when this matters now (a FatalError, whose slot
        // it leaves for this read; a UserError with restartOnError; while paused or draining): the
        // journal says what else ended meanwhile.
        this.sync(gen);
        if (msg.error === undefined) this.finish(msg.id, { kind: "reported" });
        // A FatalError is reported here (the child is ended at once); other failures the child sent.
        else this.taskFailed(gen, msg.id, msg.error, msg.error.type === "Fatal" ? { kind: "failed", error: msg.error } : { kind: "reported" });
        return;
      case "channelClosed":
      case "drained":
      case "report":
        this.sync(gen);
        this.opts.onChannel?.(msg);
        return;
    }
  }

  /**
   * Direct mode: a task the child leased itself. Told by `started`: its deadline runs from now,
   * as run()'s does. Read from the journal: the deadline the child wrote when the lease arrived.
   */
  private adopt(task: StartedTask, journal?: JournalEntry): void {
    if (this.running.has(task.id)) return;
    const outcome = new Promise<AdoptedOutcome>((resolve) => {
      const assignment: TaskAssignment = { id: task.id, attempt: task.attempt, input: null, timeoutSeconds: task.timeoutSeconds };
      if (journal !== undefined) {
        this.running.set(task.id, { task: assignment, deadline: journal.deadline, resolve, timer: undefined, journal: { leaseId: journal.leaseId } });
        return;
      }
      const deadline = this.opts.clock.now() + task.timeoutSeconds * 1000;
      this.running.set(task.id, { task: assignment, deadline, resolve, timer: this.deadlineTimer(task.id, deadline) });
    });
    this.opts.onStarted?.(task, outcome);
    this.changed();
  }

  /**
   * Direct mode: what the child's journal says now. Tasks in it are adopted (or their deadline
   * moved); journal tasks no longer in it ended, reported by the child. A slot caught mid-write
   * ends nothing (the next read sees it whole).
   */
  private sync(gen: Generation): void {
    const journal = gen.child.journal;
    if (!gen.journaled || journal === undefined || gen.exited || this.current !== gen) return;
    const { entries, complete } = journal.read(this.opts.concurrency);
    const seen = new Set<string>();
    for (const e of entries) {
      seen.add(e.id);
      const r = this.running.get(e.id);
      // The same task leased again (a new attempt) after its last one ended unseen.
      if (r?.journal !== undefined && r.journal.leaseId !== e.leaseId) this.finish(e.id, { kind: "reported" });
      const now = this.running.get(e.id);
      if (now === undefined) this.adopt({ id: e.id, leaseId: e.leaseId, attempt: e.attempt, timeoutSeconds: e.timeoutSeconds }, e);
      else if (now.journal !== undefined) now.deadline = e.deadline;
    }
    if (complete) {
      for (const [id, r] of [...this.running]) if (r.journal !== undefined && !seen.has(id)) this.finish(id, { kind: "reported" });
    }
    this.schedulePoll(gen);
  }

  /** The next read of `gen`'s journal: at its earliest deadline, and at most JOURNAL_POLL_MS from now. */
  private schedulePoll(gen: Generation): void {
    if (!gen.journaled || gen.exited || this.current !== gen) return;
    const now = this.opts.clock.now();
    let at = now + JOURNAL_POLL_MS;
    for (const r of this.running.values()) if (r.journal !== undefined && r.deadline < at) at = r.deadline;
    if (gen.poll !== undefined) {
      if (gen.poll.at <= at) return;
      gen.poll.timer.cancel();
    }
    gen.poll = { at, timer: this.opts.clock.setTimer(Math.max(0, at - now), () => this.poll(gen)) };
  }

  private poll(gen: Generation): void {
    gen.poll = undefined;
    if (this.current !== gen || gen.exited) return;
    this.sync(gen);
    const now = this.opts.clock.now();
    for (const [id, r] of this.running) {
      if (r.journal !== undefined && r.deadline <= now) {
        // One is enough: the child is killed, the others come back disrupted.
        this.expire(id);
        return;
      }
    }
  }

  private taskFailed(gen: Generation, taskId: string, error: WireFailure, outcome: AdoptedOutcome): void {
    // A journal child's task may have ended before a read saw it: what its failure means still holds.
    if (!this.running.has(taskId) && !gen.journaled) return;
    this.finish(taskId, outcome);
    switch (error.type) {
      case "Fatal":
        this.retire(gen, "fatal", "another task on this worker raised FatalError");
        return;
      case "UserError":
        if (this.opts.restartOnError && this.stateValue === "ready") {
          this.setState("restarting");
          this.restartWhenIdle(gen);
        }
        return;
      case "InputRejected":
      case "BadConfiguration":
      case "Timeout":
        return;
    }
  }

  private expire(taskId: string): void {
    const r = this.running.get(taskId);
    const gen = this.current;
    if (r === undefined || gen === undefined) return;
    const seconds = r.task.timeoutSeconds;
    this.finish(taskId, { kind: "failed", error: { type: "Timeout", message: `the attempt exceeded timeoutSeconds=${seconds} without progress` } });
    // The child may be stuck in a loop: only a new process is trustworthy.
    this.retire(gen, "restart", "the worker process was restarted after another task timed out");
  }

  /** Kills `gen` now; other tasks come back disrupted. Then a fresh child, or state fatal. */
  private retire(gen: Generation, then: "restart" | "fatal", disruptedBecause: string): void {
    gen.expectedExit = true;
    gen.poll?.timer.cancel();
    gen.poll = undefined;
    gen.child.kill();
    this.disruptAll(disruptedBecause);
    if (then === "fatal") {
      this.setState("fatal");
      return;
    }
    if (this.stateValue !== "stopped" && this.opts.respawn) this.spawn();
  }

  private restartWhenIdle(gen: Generation): void {
    if (this.running.size > 0) {
      const off = this.onChange(() => {
        if (this.running.size === 0 && this.current === gen) {
          off();
          this.restartWhenIdle(gen);
        }
      });
      return;
    }
    if (this.current !== gen || this.stateValue !== "restarting") return;
    gen.expectedExit = true;
    if (gen.channel && !gen.exited) {
      // It closes its channel once the gateway acknowledged its outcomes, then exits; only then
      // the next child (two would hold the model's memory at once).
      gen.child.send({ t: "retire" });
      const timer = this.opts.clock.setTimer(RETIRE_WAIT_MS, () => {
        if (!gen.exited) gen.child.kill();
      });
      void gen.gone.then(() => {
        timer.cancel();
        if (this.current === gen && this.stateValue === "restarting" && this.opts.respawn) this.spawn();
      });
      return;
    }
    gen.child.kill();
    if (this.opts.respawn) this.spawn();
  }

  /** The startup deadline passed: the child may be stuck anywhere, only a new container helps. */
  private setupTimedOut(message: string): void {
    const gen = this.current;
    if (gen === undefined || gen.ready || this.stateValue === "stopped") return;
    gen.expectedExit = true;
    gen.child.kill();
    this.setupErrorValue = { type: "Timeout", reason: "SetupTimeout", message };
    this.opts.log?.(`hearth worker: SetupTimeout: ${message}`);
    this.setState("setupTimeout");
  }

  private setupFailed(gen: Generation, error: WireFailure): void {
    this.setup.cancel();
    gen.expectedExit = true;
    gen.child.kill();
    this.setupErrorValue = error;
    if (error.type === "Fatal") {
      this.setState("fatal");
      return;
    }
    this.setState("failed");
    if (error.type === "UserError" && this.opts.retrySetup) {
      const backoff = this.opts.setupBackoffMs ?? { initial: 1000, max: 60_000 };
      const wait = Math.min(backoff.max, backoff.initial * 2 ** this.setupFailures);
      this.setupFailures++;
      this.opts.log?.(`setup failed (${error.message}); trying again in ${wait} ms`);
      this.retryTimer = this.opts.clock.setTimer(wait, () => {
        if (this.stateValue === "failed") this.spawn();
      });
    }
  }

  private onUnexpectedExit(gen: Generation, code: number | null, signal: string | null): void {
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`;
    if (!gen.ready) {
      this.setupFailed(gen, { type: "UserError", message: `setup failed: the worker process ${how} during setup` });
      return;
    }
    for (const id of [...this.running.keys()]) {
      this.finish(id, { kind: "failed", error: { type: "UserError", message: `the worker process ${how} while running the task` } });
    }
    if (this.stateValue !== "stopped" && this.stateValue !== "fatal" && this.opts.respawn) this.spawn();
  }

  private disruptAll(message: string): void {
    for (const id of [...this.running.keys()]) this.finish(id, { kind: "disrupted", message });
  }

  private finish(taskId: string, outcome: AdoptedOutcome): void {
    const r = this.running.get(taskId);
    if (r === undefined) return;
    this.running.delete(taskId);
    r.timer?.cancel();
    r.resolve(outcome);
    this.changed();
  }

  private setState(state: SupervisorState): void {
    if (this.stateValue === "stopped" && state !== "stopped") return;
    const was = this.stateValue;
    this.stateValue = state;
    if (was === "starting" && state !== "starting") {
      const waiters = this.settledWaiters;
      this.settledWaiters = [];
      for (const w of waiters) w();
    }
    if (was !== state) this.opts.onState?.(state);
    this.changed();
  }

  /**
   * Listeners hear about changes after the current handler finished (one microtask later), so
   * they never see a half-made transition such as a freed slot on a child about to be replaced.
   */
  private changed(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const fn of [...this.listeners]) fn();
    });
  }
}
