// The gateway's core: per-function queues, leases with per-attempt deadlines, retries by the
// Function's policy, workers known by their heartbeats, waiters for results and progress. No
// HTTP here (server.ts) and no SQL (store.ts); time comes from the injected clock, and tick()
// does the periodic work so tests drive it with a fake clock.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  DEFAULT_RETRY_POLICY,
  isTerminal,
  type Encoding,
  type ExitErrorType,
  type RequestErrorType,
  type TaskDocument,
  type TaskError,
  type TaskErrorType,
  type FunctionStats,
  type RetryPolicy,
  type TaskProgress,
  type WorkerState,
} from "../protocol/index.ts";
import type { Clock, TimerHandle } from "../kube/clock.ts";
import { Deque } from "./queue.ts";
import { functionKey, type FunctionRegistry, type FunctionSettings } from "./registry.ts";
import { planFailure } from "./retry.ts";
import type { TaskRow, TaskStore } from "./store.ts";
import { pickleOutputB64 } from "./workflows/values.ts";

/** A task in memory: its stored row plus what lives only in memory (progress, the current lease). */
export interface Task extends TaskRow {
  progress: TaskProgress | undefined;
  lease: Lease | undefined;
  /** Overrides of the Function's timeout and retries (workflow steps); set by the submitter. */
  policy?: TaskPolicy | undefined;
  /**
   * The outcome being committed. Until the store says it is durable nobody sees it: readers see
   * the task as it was, waiters and subscribers are not told, the worker is not answered.
   */
  finishing?: Finishing | undefined;
  /** Runs as a batch Job (invocation: isolated), never on a warm lease: see src/gateway/isolated/. */
  isolated?: true;
  /** A pickle map step of a workflow: its worker sends the items as separate pickles (`outputItemsB64`). */
  outputItems?: true;
  /** A workflow reducer batch (`[acc, [items…]]`, folded by the worker): only for workers that fold. */
  fold?: true;
  /** Why a queued isolated task waits (its pod is Unschedulable, say); in memory only. */
  waiting?: TaskWaiting | undefined;
  /** A :run task dispatched before its row was staged: stages it if it is still running then (see dispatchAtOnce). */
  stageTimer?: TimerHandle | undefined;
}

export interface TaskWaiting {
  reason: string;
  message: string;
}

interface Finishing {
  status: "succeeded" | "failed" | "cancelled";
  error: TaskError | null;
  output: string | null;
  finishedAt: number;
  runMs: number | undefined;
  /** The lease whose outcome this is: the same worker repeating its answer waits for the same commit. */
  leaseId: string | undefined;
  done: Promise<Task>;
  resolve: (task: Task) => void;
}

/** What a caller may set per task (a hearth.dev Job's own timeoutSeconds and retries). */
export interface SubmitOptions extends TaskPolicy {
  idempotencyKey?: string | undefined;
  /**
   * The caller waits for the outcome on its connection (`:run`): the task is queued at once and
   * its row commits with its outcome (one commit per run instead of two). Ignored with an
   * idempotency key (the key must be durable first) and for isolated calls.
   */
  dispatchAtOnce?: boolean | undefined;
  /** A call from inside a handler: the calling task and the new task's depth (src/gateway/calls.ts). */
  parent?: { taskId: string; depth: number } | undefined;
}

export interface TaskPolicy {
  timeoutSeconds?: number | undefined;
  retries?: RetryPolicy | undefined;
}

interface Lease {
  leaseId: string;
  workerId: string;
  deadline: number;
  leasedAt: number;
  timeoutSeconds: number;
}

/** One task handed to a worker. `input` is JSON text (or base64 pickle), spliced into the answer. */
export interface LeaseGrant {
  id: string;
  attempt: number;
  leaseId: string;
  input: string;
  encoding: Encoding;
  deadline: number;
  timeoutSeconds: number;
  /** Task-scoped token for calls from inside the handler (seam 2); absent without a minter. */
  token?: string | undefined;
  /** Return the output list's items as separate pickles (a pickle map step of a workflow). */
  outputItems?: true;
  /** The input is `[acc, [items…]]`: call the handler with (acc, item) for each item in order, return the last acc. */
  fold?: true;
}

interface WorkerInfo {
  id: string;
  lastSeen: number;
  state: WorkerState;
  error: { type: string; message: string } | undefined;
  leased: Set<string>;
  /** Leased tasks the caller cancelled: told on the next heartbeat. */
  cancel: Set<string>;
  polling: number;
  /** Its leases say it folds reducer batches (`fold: true`). */
  fold?: boolean;
}

interface LeaseWaiter {
  workerId: string;
  max: number;
  settings: FunctionSettings;
  resolve: (grants: LeaseGrant[]) => void;
  timer: TimerHandle;
  done: boolean;
}

class FunctionQueue {
  readonly key: string;
  readonly ready = new Deque<Task>();
  readonly delayed = new Set<Task>();
  readonly running = new Map<string, Task>();
  readonly workers = new Map<string, WorkerInfo>();
  waiters: LeaseWaiter[] = [];
  queued = 0;
  /** Submitted, commit in flight: counted against maxQueue. */
  submitting = 0;
  dispatchScheduled = false;

  constructor(key: string) {
    this.key = key;
  }
}

export type TaskEvent = { type: "progress"; progress: TaskProgress } | { type: "status"; task: Task } | { type: "done"; task: Task };

const RECENT_MAX_OUTPUT = 256 * 1024;
const RECENT_MAX_BYTES = 64 * 1024 * 1024;

export class EngineError extends Error {
  readonly type: RequestErrorType;
  constructor(type: RequestErrorType, message: string) {
    super(message);
    this.type = type;
  }
}

export interface EngineMetrics {
  taskFinished(task: Task, outcome: "succeeded" | TaskErrorType, runMs: number | undefined): void;
  taskStarted(task: Task, queuedMs: number): void;
  retried(task: Task, type: TaskErrorType): void;
}

export interface EngineOptions {
  store: TaskStore;
  registry: FunctionRegistry;
  clock: Clock;
  metrics?: EngineMetrics;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Queued tasks per function before 429. Default 100 000. */
  maxQueue?: number;
  /** Slack after a deadline before the gateway itself declares Timeout (the worker normally reports first). Default 2 s. */
  deadlineGraceMs?: number;
  /** A worker silent this long is gone and its leases re-queued. Default 10 s. */
  workerTimeoutMs?: number;
  /** A lease a worker does not list in its heartbeats this long after it was granted never arrived. Default 5 s. */
  leaseReceiptMs?: number;
  /** Disruptions (not counted as attempts) before a task fails as Disrupted. Default 5. */
  maxDisruptions?: number;
  /** How long finished tasks and their results are kept. Default 1 h. */
  resultTtlMs?: number;
  /** Finished tasks kept in memory for fast reads. Default 10 000. */
  recentLimit?: number;
  /** How long an idempotency key is remembered, independent of resultTtlMs. Default 24 h. */
  idempotencyWindowMs?: number;
  /** Wait before committing again an outcome whose commit failed. Default 1 s. */
  commitRetryMs?: number;
  /** A `:run` task still unfinished this long after it was dispatched has its row committed. Default 20 ms. */
  runStageMs?: number;
  /** Told when a function's queue, leases or workers changed (the demand stream, demand.ts). */
  onChange?: (functionKey: string, what: DemandChange) => void;
  /** Mints the task-scoped token a lease carries (src/gateway/calls.ts); absent = none. */
  mintToken?: (task: Task, deadline: number) => string;
  /** Told of each child task cancelled with its parent (an isolated one's Job must go too). */
  onChildCancelled?: (task: Task) => void;
}

export type DemandChange = "queue" | "lease" | "workers";

const DEFAULT_IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

export class TaskEngine {
  private readonly opts: EngineOptions;
  private readonly store: TaskStore;
  private readonly clock: Clock;
  private readonly queues = new Map<string, FunctionQueue>();
  private readonly active = new Map<string, Task>();
  private readonly recent = new Map<string, Task>();
  /** Submitted tasks whose commit is in flight, by id and by idempotency key. */
  private readonly submitting = new Map<string, { task: Task; inputHash: string; done: Promise<Task> }>();
  private readonly waiters = new Map<string, Set<(task: Task) => void>>();
  private readonly subscribers = new Map<string, Set<(ev: TaskEvent) => void>>();
  /** Unfinished tasks started from inside a handler, by their parent: cancelling it cancels them. */
  private readonly children = new Map<string, Set<string>>();
  private readonly leasePrefix = randomBytes(4).toString("hex");
  private leaseCounter = 0;
  private lastGc = 0;
  private collecting = false;
  private recentBytes = 0;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.clock = opts.clock;
  }

  private get maxQueue(): number {
    return this.opts.maxQueue ?? 100_000;
  }

  /** Loads unfinished tasks from the store: whatever was leased before a restart is queued again. */
  recover(): number {
    let n = 0;
    for (const row of this.store.loadActive()) {
      const task = fromRow(row);
      if (task.status === "running") task.status = "queued";
      this.active.set(task.id, task);
      this.adopt(task);
      this.enqueue(this.queue(functionKey(task.namespace, task.name)), task, false);
      n++;
    }
    return n;
  }

  // ---- callers -------------------------------------------------------------------------

  /**
   * Accepts a task: resolves once it is durable and queued. A failed commit rejects with
   * Unavailable and the task never runs (nothing refused may run). A repeated idempotency key
   * within the window returns the first task (after its commit); with another input it is a
   * Conflict.
   */
  submit(fn: FunctionSettings, input: string, encoding: Encoding, opts: SubmitOptions = {}): Promise<{ task: Task; repeat: boolean }> {
    try {
      return this.submitNow(fn, input, encoding, opts);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Synchronous up to the commit, so that two submits with one key in one turn see each other. */
  private submitNow(fn: FunctionSettings, input: string, encoding: Encoding, opts: SubmitOptions): Promise<{ task: Task; repeat: boolean }> {
    const key = opts.idempotencyKey;
    const inputHash = key === undefined ? "" : hashInput(encoding, input);
    if (key !== undefined) {
      const existing = this.findByKey(fn, key, inputHash);
      if (existing !== undefined) return Promise.resolve(existing).then((task) => ({ task, repeat: true }));
    }
    const q = this.queue(functionKey(fn.namespace, fn.name));
    if (q.queued + q.submitting >= this.maxQueue) throw new EngineError("QueueFull", `function ${q.key} has ${q.queued} queued tasks (limit ${this.maxQueue})`);
    const task = this.newTask(fn, input, encoding, opts);
    if (opts.dispatchAtOnce === true && key === undefined && task.isolated !== true) return Promise.resolve({ task: this.dispatchAtOnce(q, task), repeat: false });
    const now = task.createdAt;
    this.save(task);
    if (key !== undefined) this.store.saveKey({ namespace: fn.namespace, name: fn.name, key, taskId: task.id, inputHash, createdAt: now });
    q.submitting++;
    const done = this.store.committed().then(
      () => {
        q.submitting--;
        if (key !== undefined) this.submitting.delete(submittingKey(fn, key));
        this.active.set(task.id, task);
        this.enqueue(q, task, false);
        this.adopt(task);
        return task;
      },
      () => {
        q.submitting--;
        if (key !== undefined) this.submitting.delete(submittingKey(fn, key));
        throw new EngineError("Unavailable", "the task store could not commit the task; it was not accepted (retry)");
      },
    );
    if (key !== undefined) this.submitting.set(submittingKey(fn, key), { task, inputHash, done });
    return done.then((t) => ({ task: t, repeat: false }));
  }

  /**
   * A task whose caller waits for it on the connection (`:run`): queued at once, no commit first.
   * Its row is staged when it ends (the outcome's commit writes it whole: one fsync per run) or,
   * if it is still unfinished after `runStageMs`, then, so a longer task survives a restart as
   * before. The outcome is still visible only once committed. A gateway that dies before the
   * row's commit loses a task nobody was told about: the caller's connection drops with it.
   */
  private dispatchAtOnce(q: FunctionQueue, task: Task): Task {
    this.active.set(task.id, task);
    this.enqueue(q, task, false);
    this.adopt(task);
    task.stageTimer = this.clock.setTimer(this.opts.runStageMs ?? 20, () => {
      task.stageTimer = undefined;
      if (task.finishing === undefined && this.active.get(task.id) === task) this.save(task);
    });
    return task;
  }

  /** Records a task that is already done: its output came from the result cache. */
  submitCached(fn: FunctionSettings, input: string, encoding: Encoding, output: string): Task {
    const task = this.newTask(fn, input, encoding, {});
    task.startedAt = task.createdAt;
    task.cached = true;
    this.active.set(task.id, task);
    void this.finish(task, "succeeded", null, 0, output);
    return task;
  }

  /**
   * A workflow step's task, for a run already accepted: staged in the same commit as the run's
   * rows and queued at once (its outcome still becomes visible only after its own commit).
   */
  submitStep(fn: FunctionSettings, input: string, encoding: Encoding): Task {
    const q = this.queue(functionKey(fn.namespace, fn.name));
    if (q.queued + q.submitting >= this.maxQueue) throw new EngineError("QueueFull", `function ${q.key} has ${q.queued} queued tasks (limit ${this.maxQueue})`);
    const task = this.newTask(fn, input, encoding, {});
    this.active.set(task.id, task);
    this.save(task);
    this.enqueue(q, task, false);
    return task;
  }

  private newTask(fn: FunctionSettings, input: string, encoding: Encoding, opts: SubmitOptions): Task {
    const task: Task = {
      id: randomUUID(),
      namespace: fn.namespace,
      name: fn.name,
      status: "queued",
      attempts: 0,
      disruptions: 0,
      encoding,
      input,
      output: null,
      error: null,
      idempotencyKey: opts.idempotencyKey ?? null,
      createdAt: this.clock.now(),
      startedAt: null,
      finishedAt: null,
      notBefore: null,
      timeoutSeconds: opts.timeoutSeconds ?? null,
      retries: opts.retries ?? null,
      parentId: opts.parent?.taskId ?? null,
      depth: opts.parent?.depth ?? 0,
      cached: false,
      progress: undefined,
      lease: undefined,
    };
    if (fn.invocation === "isolated") task.isolated = true;
    return task;
  }

  /** Accepts several JSON inputs at once (one queue check, one commit): all or none. */
  async submitMany(fn: FunctionSettings, inputs: readonly string[], opts: Pick<SubmitOptions, "parent"> = {}): Promise<string[]> {
    const q = this.queue(functionKey(fn.namespace, fn.name));
    if (q.queued + q.submitting + inputs.length > this.maxQueue) {
      throw new EngineError("QueueFull", `function ${q.key} has ${q.queued} queued tasks; ${inputs.length} more would pass the limit of ${this.maxQueue}`);
    }
    const results = await Promise.allSettled(inputs.map((input) => this.submit(fn, input, "json", opts)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      // Inputs staged together commit together; cancel any that made it in another batch.
      for (const r of results) if (r.status === "fulfilled") void this.cancelTask(r.value.task, "another input of the same :pushMany was not accepted");
      throw failed.reason;
    }
    return results.map((r) => (r.status === "fulfilled" ? r.value.task.id : ""));
  }

  private findByKey(fn: FunctionSettings, key: string, inputHash: string): Task | Promise<Task> | undefined {
    const conflict = (taskId: string): EngineError =>
      new EngineError("Conflict", `idempotency key ${JSON.stringify(key)} was used for task ${taskId} with a different input; use a new key for a new input`);
    const pending = this.submitting.get(submittingKey(fn, key));
    if (pending !== undefined) {
      if (pending.inputHash !== inputHash) throw conflict(pending.task.id);
      return pending.done;
    }
    const row = this.store.findKey(fn.namespace, fn.name, key);
    if (row === undefined || row.createdAt < this.clock.now() - this.idempotencyWindowMs) return undefined;
    // Keys recorded before input hashes were kept carry "": they match any input.
    if (row.inputHash !== "" && row.inputHash !== inputHash) throw conflict(row.taskId);
    const task = this.get(row.taskId);
    if (task === undefined) {
      throw new EngineError("Conflict", `idempotency key ${JSON.stringify(key)} was used for task ${row.taskId}, whose result has expired; the key is remembered until ${new Date(row.createdAt + this.idempotencyWindowMs).toISOString()}`);
    }
    return task;
  }

  private get idempotencyWindowMs(): number {
    return this.opts.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
  }

  get(id: string): Task | undefined {
    const t = this.active.get(id) ?? this.recent.get(id);
    if (t !== undefined) return t;
    const row = this.store.get(id);
    return row === undefined ? undefined : fromRow(row);
  }

  /** Resolves with the task once terminal, or undefined after `ms`/abort. */
  waitForTerminal(id: string, ms: number, signal?: AbortSignal): Promise<Task | undefined> {
    const t = this.get(id);
    if (t === undefined) return Promise.resolve(undefined);
    if (isTerminal(t.status)) return Promise.resolve(t);
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      const done = (task: Task | undefined): void => {
        timer.cancel();
        signal?.removeEventListener("abort", onAbort);
        set.delete(onTerminal);
        if (set.size === 0) this.waiters.delete(id);
        resolve(task);
      };
      const onTerminal = (task: Task): void => done(task);
      const onAbort = (): void => done(undefined);
      const timer = this.clock.setTimer(ms, () => done(undefined));
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(onTerminal);
    });
  }

  subscribe(id: string, fn: (ev: TaskEvent) => void): () => void {
    let set = this.subscribers.get(id);
    if (set === undefined) this.subscribers.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.subscribers.delete(id);
    };
  }

  /** Cancels a task; resolves once the outcome is durable (or at once if it had finished). */
  async cancel(id: string): Promise<Task | undefined> {
    const task = this.active.get(id);
    if (task === undefined) return this.get(id);
    return this.cancelTask(task, "cancelled by the caller");
  }

  /** Cancels every unfinished task of a function (its Function is being deleted); resolves once durable. */
  async cancelFunction(namespace: string, name: string): Promise<number> {
    const done: Promise<Task>[] = [];
    for (const task of [...this.active.values()]) {
      if (task.namespace === namespace && task.name === name && task.finishing === undefined) done.push(this.cancelTask(task, "the function was deleted"));
    }
    await Promise.all(done);
    return done.length;
  }

  private cancelTask(task: Task, message: string): Promise<Task> {
    if (task.finishing !== undefined) return task.finishing.done;
    const q = this.queue(functionKey(task.namespace, task.name));
    if (task.status === "queued") {
      q.queued--;
      q.delayed.delete(task);
      this.changed(q, "queue");
    }
    if (task.lease !== undefined) {
      const w = q.workers.get(task.lease.workerId);
      w?.leased.delete(task.id);
      w?.cancel.add(task.id);
    }
    q.running.delete(task.id);
    return this.finish(task, "cancelled", { type: "Cancelled", message, attempt: task.attempts });
  }

  stats(namespace: string, name: string): FunctionStats {
    const q = this.queues.get(functionKey(namespace, name));
    if (q === undefined) return { queueDepth: 0, inFlight: 0, warmWorkers: 0, busyWorkers: 0 };
    let warm = 0;
    let busy = 0;
    for (const w of q.workers.values()) {
      if (w.state === "ready") warm++;
      if (w.leased.size > 0) busy++;
    }
    return { queueDepth: q.queued, inFlight: q.running.size, warmWorkers: warm, busyWorkers: busy };
  }

  /** Workers of a function holding a task (worker ids are pod names): scale-down spares them. */
  busyWorkerIds(namespace: string, name: string, limit = 1000): string[] {
    const q = this.queues.get(functionKey(namespace, name));
    const out: string[] = [];
    for (const w of q?.workers.values() ?? []) {
      if (out.length >= limit) break;
      if (w.leased.size > 0) out.push(w.id);
    }
    return out;
  }

  /** Every function with a queue, for metrics. */
  allStats(): { namespace: string; name: string; stats: FunctionStats }[] {
    return [...this.queues.keys()].map((key) => {
      const [namespace = "", name = ""] = key.split("/");
      return { namespace, name, stats: this.stats(namespace, name) };
    });
  }

  /**
   * The function's newest tasks in memory (unfinished, and finished ones still remembered),
   * newest first: what the console lists. Read-only.
   */
  recentTasks(namespace: string, name: string, limit: number): Task[] {
    const out: Task[] = [];
    for (const map of [this.active, this.recent]) {
      for (const t of map.values()) if (t.namespace === namespace && t.name === name) out.push(t);
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).slice(0, limit);
  }

  /** True when workers exist for the function and every one reports a configuration failure. */
  degraded(namespace: string, name: string): { type: string; message: string } | undefined {
    const q = this.queues.get(functionKey(namespace, name));
    if (q === undefined || q.workers.size === 0) return undefined;
    let error: { type: string; message: string } | undefined;
    for (const w of q.workers.values()) {
      if (w.state !== "failed" || w.error?.type !== "BadConfiguration") return undefined;
      error = w.error;
    }
    return error;
  }

  // ---- workers ---------------------------------------------------------------------------

  /** Long-poll for up to `max` tasks; an empty list once `waitMs` passed. */
  lease(fn: FunctionSettings, workerId: string, max: number, waitMs: number, signal?: AbortSignal, caps: { fold?: boolean } = {}): Promise<LeaseGrant[]> {
    const q = this.queue(functionKey(fn.namespace, fn.name));
    const worker = this.touch(q, workerId, "ready");
    worker.fold = caps.fold === true;
    const grants = this.take(q, fn, worker, max);
    if (grants.length > 0 || waitMs <= 0) return Promise.resolve(grants);
    return new Promise((resolve) => {
      worker.polling++;
      const waiter: LeaseWaiter = {
        workerId,
        max,
        settings: fn,
        done: false,
        resolve: (g) => {
          if (waiter.done) return;
          waiter.done = true;
          worker.polling--;
          worker.lastSeen = this.clock.now();
          waiter.timer.cancel();
          signal?.removeEventListener("abort", onAbort);
          q.waiters = q.waiters.filter((w) => w !== waiter);
          resolve(g);
        },
        timer: this.clock.setTimer(waitMs, () => waiter.resolve([])),
      };
      const onAbort = (): void => waiter.resolve([]);
      signal?.addEventListener("abort", onAbort, { once: true });
      q.waiters.push(waiter);
    });
  }

  /**
   * Gives leased tasks back (their lease answer could not be delivered): queued again at the
   * front, the attempt not counted.
   */
  unlease(grants: readonly LeaseGrant[]): void {
    for (const g of [...grants].reverse()) {
      const task = this.active.get(g.id);
      if (task?.lease?.leaseId !== g.leaseId) continue;
      const q = this.queue(functionKey(task.namespace, task.name));
      this.dropLease(q, task);
      task.attempts--;
      task.status = "queued";
      q.queued++;
      this.changed(q, "queue");
      q.ready.unshift(task);
      this.scheduleDispatch(q);
    }
  }

  heartbeat(fn: FunctionSettings, workerId: string, hb: { state: WorkerState; error?: { type: string; message: string } | undefined; tasks?: readonly string[] | undefined }): { cancel: string[] } {
    const q = this.queue(functionKey(fn.namespace, fn.name));
    const w = this.touch(q, workerId, hb.state);
    w.error = hb.error;
    if (hb.tasks !== undefined) {
      // Leases granted a while ago that the worker does not hold: the answer was lost on the way.
      const held = new Set(hb.tasks);
      const cutoff = this.clock.now() - (this.opts.leaseReceiptMs ?? 5000);
      for (const id of [...w.leased]) {
        const task = this.active.get(id);
        if (task?.lease !== undefined && !held.has(id) && task.lease.leasedAt < cutoff) {
          void this.attemptFailed(task, "Disrupted", `worker ${workerId} never received the lease`);
        }
      }
    }
    const cancel = [...w.cancel];
    w.cancel.clear();
    return { cancel };
  }

  progress(id: string, leaseId: string, value: number, message: string | undefined): { deadline: number } {
    const task = this.leased(id, leaseId);
    const lease = task.lease;
    if (lease === undefined) throw new EngineError("Conflict", "lease lost");
    lease.deadline = this.clock.now() + lease.timeoutSeconds * 1000;
    task.progress = message === undefined ? { value } : { value, message };
    this.emit(task.id, { type: "progress", progress: task.progress });
    return { deadline: lease.deadline };
  }

  /**
   * Records a result. Throws at once when the lease is not held; otherwise resolves once the
   * result is durable (only then do waiters, subscribers and readers see it). The same worker
   * repeating its answer for the same lease waits for the same commit.
   */
  complete(id: string, leaseId: string, output: string): Promise<Task> {
    const task = this.leased(id, leaseId);
    if (task.finishing !== undefined) return task.finishing.done;
    const q = this.queue(functionKey(task.namespace, task.name));
    const runMs = task.lease === undefined ? undefined : this.clock.now() - task.lease.leasedAt;
    this.dropLease(q, task);
    return this.finish(task, "succeeded", null, runMs, output, leaseId);
  }

  /** Records a failed attempt: a retry is queued, or the task fails (resolving once durable). */
  fail(id: string, leaseId: string, type: ExitErrorType | "Disrupted", message: string): Promise<Task> {
    const task = this.leased(id, leaseId);
    if (task.finishing !== undefined) return task.finishing.done;
    if (task.isolated === true) throw new EngineError("Conflict", `task ${id} runs as a batch Job: its attempts fail through the Job's exit code, not this route`);
    return this.attemptFailed(task, type, message, leaseId);
  }

  private leased(id: string, leaseId: string): Task {
    const task = this.active.get(id);
    if (task === undefined) {
      if (this.get(id) === undefined) throw new EngineError("NotFound", `task ${id} not found`);
      throw new EngineError("Conflict", `task ${id} is no longer leased (finished or cancelled)`);
    }
    if (task.finishing !== undefined && task.finishing.leaseId === leaseId) return task;
    if (task.lease?.leaseId !== leaseId && !this.adoptIsolatedLease(task, leaseId)) throw new EngineError("Conflict", `lease ${leaseId} of task ${id} is no longer held`);
    return task;
  }

  // ---- isolated calls (src/gateway/isolated/) ------------------------------------------------
  // An isolated task is queued until the pod of its batch Job claims it, then running. Its
  // output comes from that pod (complete, with the claim's leaseId); everything else (waiting
  // reasons, retries, the failure and its class) from the Job's status, through these hooks.

  /**
   * Every active isolated task. After a restart the flag is not stored: it comes back from the
   * Function's settings once the registry has synced.
   */
  isolatedTasks(): Task[] {
    const out: Task[] = [];
    for (const task of this.active.values()) {
      if (task.isolated !== true && task.status === "queued" && this.opts.registry.get(task.namespace, task.name)?.invocation === "isolated") task.isolated = true;
      if (task.isolated === true) out.push(task);
    }
    return out;
  }

  /**
   * The pod of an isolated task's Job starts an attempt: a lease with no gateway deadline (the
   * runtime and the Job's activeDeadlineSeconds enforce it). A repeated claim by the same pod
   * gets the same lease.
   */
  claim(id: string, workerId: string): LeaseGrant {
    const task = this.active.get(id);
    if (task === undefined) {
      if (this.get(id) === undefined) throw new EngineError("NotFound", `task ${id} not found`);
      throw new EngineError("Conflict", `task ${id} is finished or cancelled`);
    }
    if (task.isolated !== true) throw new EngineError("Conflict", `task ${id} is not an isolated call`);
    if (task.finishing !== undefined) throw new EngineError("Conflict", `task ${id} is finishing`);
    const timeoutSeconds = task.timeoutSeconds ?? this.opts.registry.get(task.namespace, task.name)?.timeoutSeconds ?? 300;
    const now = this.clock.now();
    if (task.lease?.workerId !== workerId) {
      // Running without a lease: the Job's status already counted this pod's attempt.
      if (task.status !== "running" || task.lease !== undefined) task.attempts++;
      this.isolatedRunning(task);
      task.lease = { leaseId: `${this.leasePrefix}.${(this.leaseCounter++).toString(36)}`, workerId, deadline: now + timeoutSeconds * 1000, leasedAt: now, timeoutSeconds };
      this.save(task);
      this.emit(task.id, { type: "status", task });
    }
    const lease = task.lease;
    const grant: LeaseGrant = { id: task.id, attempt: task.attempts, leaseId: lease.leaseId, input: task.input ?? "null", encoding: task.encoding, deadline: lease.deadline, timeoutSeconds };
    if (this.opts.mintToken !== undefined) grant.token = this.opts.mintToken(task, lease.deadline);
    return grant;
  }

  /** The Job's view while it runs: an attempt is running, or it waits (pending, unschedulable, backing off). */
  isolatedObserved(id: string, seen: { state: "running"; started: number } | { state: "waiting"; ended: number; waiting: TaskWaiting }): void {
    const task = this.active.get(id);
    if (task?.isolated !== true || task.finishing !== undefined) return;
    const before = `${task.status}/${task.attempts}/${task.waiting?.reason ?? ""}/${task.waiting?.message ?? ""}`;
    if (seen.state === "running") {
      this.isolatedRunning(task);
      if (seen.started > task.attempts) {
        // A newer attempt than the one holding the lease: that pod is gone.
        task.attempts = seen.started;
        task.lease = undefined;
      }
    } else if (task.status === "queued" || seen.ended >= task.attempts) {
      // A waiting Job whose count of ended attempts is behind the pod's claim is a stale view.
      const q = this.queue(functionKey(task.namespace, task.name));
      if (task.status === "running") {
        q.running.delete(task.id);
        q.queued++;
        task.status = "queued";
        task.lease = undefined;
      }
      task.attempts = Math.max(task.attempts, seen.ended);
      task.waiting = seen.waiting;
    }
    const after = `${task.status}/${task.attempts}/${task.waiting?.reason ?? ""}/${task.waiting?.message ?? ""}`;
    if (after !== before) {
      this.save(task);
      this.emit(task.id, { type: "status", task });
    }
  }

  /** The Job ended without the pod's output reaching the gateway: its fallback output, or its failure. */
  isolatedFinished(id: string, end: { output: string; attempts: number } | { error: TaskError; attempts: number } | { cancelled: string }): void {
    const task = this.active.get(id);
    if (task?.isolated !== true || task.finishing !== undefined) return;
    const q = this.queue(functionKey(task.namespace, task.name));
    if (task.status === "queued") q.queued--;
    q.running.delete(task.id);
    task.lease = undefined;
    if ("cancelled" in end) {
      void this.finish(task, "cancelled", { type: "Cancelled", message: end.cancelled, attempt: task.attempts });
      return;
    }
    task.attempts = Math.max(task.attempts, end.attempts);
    const runMs = task.startedAt === null ? undefined : this.clock.now() - task.startedAt;
    if ("output" in end) void this.finish(task, "succeeded", null, runMs, end.output);
    else void this.finish(task, "failed", end.error, runMs);
  }

  /**
   * After a gateway restart the pod of an isolated call still holds the lease it claimed from the
   * previous process (leases are not stored). Its progress and output are taken: the lease is
   * adopted when the task holds none and the lease was not granted by this process (a lease this
   * process granted and then dropped stays refused). docs/protocol.md "Gateway restarts".
   */
  private adoptIsolatedLease(task: Task, leaseId: string): boolean {
    if (task.isolated !== true || task.lease !== undefined || task.finishing !== undefined) return false;
    if (leaseId === "" || leaseId.startsWith(`${this.leasePrefix}.`)) return false;
    if (task.status === "queued" && task.attempts === 0) task.attempts = 1;
    this.isolatedRunning(task);
    const now = this.clock.now();
    const timeoutSeconds = task.timeoutSeconds ?? this.opts.registry.get(task.namespace, task.name)?.timeoutSeconds ?? 300;
    task.lease = { leaseId, workerId: `${task.id}/adopted`, deadline: now + timeoutSeconds * 1000, leasedAt: now, timeoutSeconds };
    this.save(task);
    this.emit(task.id, { type: "status", task });
    return true;
  }

  private isolatedRunning(task: Task): void {
    if (task.status !== "queued") return;
    const q = this.queue(functionKey(task.namespace, task.name));
    q.queued--;
    task.status = "running";
    task.waiting = undefined;
    q.running.set(task.id, task);
    if (task.startedAt === null) {
      task.startedAt = this.clock.now();
      this.opts.metrics?.taskStarted(task, task.startedAt - task.createdAt);
    }
  }

  // ---- periodic work -----------------------------------------------------------------------

  /** Deadlines, silent workers, due retries, result expiry. Call every ~100 ms. */
  tick(): void {
    const now = this.clock.now();
    const grace = this.opts.deadlineGraceMs ?? 2000;
    const workerTimeout = this.opts.workerTimeoutMs ?? 10_000;
    for (const q of this.queues.values()) {
      for (const task of [...q.running.values()]) {
        const lease = task.lease;
        if (lease !== undefined && task.isolated !== true && now > lease.deadline + grace) {
          void this.attemptFailed(task, "Timeout", `the attempt exceeded timeoutSeconds=${lease.timeoutSeconds} without progress (worker ${lease.workerId} did not report)`);
        }
      }
      for (const w of [...q.workers.values()]) {
        if (w.polling === 0 && now - w.lastSeen > workerTimeout) {
          q.workers.delete(w.id);
          this.changed(q, "workers");
          for (const id of [...w.leased]) {
            const task = this.active.get(id);
            if (task !== undefined) void this.attemptFailed(task, "Disrupted", `worker ${w.id} stopped sending heartbeats`);
          }
        }
      }
      for (const task of [...q.delayed]) {
        if ((task.notBefore ?? 0) <= now) {
          q.delayed.delete(task);
          q.ready.push(task);
          this.scheduleDispatch(q);
        }
      }
    }
    if (now - this.lastGc > 30_000) {
      this.lastGc = now;
      this.collectGarbage(now);
    }
  }

  private collectGarbage(now: number): void {
    if (this.collecting) return;
    this.collecting = true;
    const cutoff = now - (this.opts.resultTtlMs ?? 3_600_000);
    const round = async (): Promise<void> => {
      for (;;) {
        const ids = await this.store.deleteFinishedBefore(cutoff, 5000, now - this.idempotencyWindowMs);
        for (const id of ids) this.forget(id);
        if (ids.length < 5000) return;
      }
    };
    round()
      .catch((err: unknown) => this.opts.log?.("deleting expired results failed", { err: String(err) }))
      .finally(() => (this.collecting = false));
  }

  /** Ends every pending long-poll (shutdown). */
  close(): void {
    for (const q of this.queues.values()) for (const w of [...q.waiters]) w.resolve([]);
  }

  // ---- internals ---------------------------------------------------------------------------

  private queue(key: string): FunctionQueue {
    let q = this.queues.get(key);
    if (q === undefined) this.queues.set(key, (q = new FunctionQueue(key)));
    return q;
  }

  private touch(q: FunctionQueue, workerId: string, state: WorkerState): WorkerInfo {
    let w = q.workers.get(workerId);
    if (w === undefined) {
      w = { id: workerId, lastSeen: 0, state, error: undefined, leased: new Set(), cancel: new Set(), polling: 0 };
      q.workers.set(workerId, w);
      this.changed(q, "workers");
    } else if (w.state !== state) this.changed(q, "workers");
    w.lastSeen = this.clock.now();
    w.state = state;
    return w;
  }

  private changed(q: FunctionQueue, what: DemandChange): void {
    this.opts.onChange?.(q.key, what);
  }

  private enqueue(q: FunctionQueue, task: Task, front: boolean): void {
    q.queued++;
    this.changed(q, "queue");
    // Counted as queued (demand), but its Job, not a warm worker, takes it.
    if (task.isolated === true) return;
    if (task.notBefore !== null && task.notBefore > this.clock.now()) {
      q.delayed.add(task);
      return;
    }
    if (front) q.ready.unshift(task);
    else q.ready.push(task);
    this.scheduleDispatch(q);
  }

  /** Hands queued tasks to waiting long-polls once per event-loop turn, so they come in batches. */
  private scheduleDispatch(q: FunctionQueue): void {
    if (q.dispatchScheduled || q.waiters.length === 0) return;
    q.dispatchScheduled = true;
    setImmediate(() => {
      q.dispatchScheduled = false;
      while (q.waiters.length > 0 && q.ready.length > 0) {
        const waiter = q.waiters[0];
        if (waiter === undefined) break;
        const worker = q.workers.get(waiter.workerId);
        if (worker === undefined) {
          waiter.resolve([]);
          continue;
        }
        const grants = this.take(q, waiter.settings, worker, waiter.max);
        if (grants.length === 0) break;
        waiter.resolve(grants);
      }
    });
  }

  private take(q: FunctionQueue, fn: FunctionSettings, worker: WorkerInfo, max: number): LeaseGrant[] {
    const grants: LeaseGrant[] = [];
    const now = this.clock.now();
    let unfit: Task[] | undefined;
    while (grants.length < max) {
      const task = q.ready.shift();
      if (task === undefined) break;
      if (task.status !== "queued" || task.finishing !== undefined || task.isolated === true) continue;
      if (task.fold === true && worker.fold !== true) {
        (unfit ??= []).push(task);
        continue;
      }
      q.queued--;
      task.status = "running";
      task.attempts++;
      if (task.startedAt === null) {
        task.startedAt = now;
        this.opts.metrics?.taskStarted(task, now - task.createdAt);
      }
      const timeoutSeconds = task.policy?.timeoutSeconds ?? task.timeoutSeconds ?? fn.timeoutSeconds;
      const lease: Lease = {
        leaseId: `${this.leasePrefix}.${(this.leaseCounter++).toString(36)}`,
        workerId: worker.id,
        deadline: now + timeoutSeconds * 1000,
        leasedAt: now,
        timeoutSeconds,
      };
      task.lease = lease;
      q.running.set(task.id, task);
      worker.leased.add(task.id);
      const grant: LeaseGrant = { id: task.id, attempt: task.attempts, leaseId: lease.leaseId, input: task.input ?? "null", encoding: task.encoding, deadline: lease.deadline, timeoutSeconds };
      if (this.opts.mintToken !== undefined) grant.token = this.opts.mintToken(task, lease.deadline);
      if (task.outputItems === true) grant.outputItems = true;
      if (task.fold === true) grant.fold = true;
      grants.push(grant);
      if (task.attempts === 1) this.emit(task.id, { type: "status", task });
    }
    // Reducer batches an older worker cannot fold wait for one that can, in their place.
    if (unfit !== undefined) for (const t of unfit.reverse()) q.ready.unshift(t);
    if (grants.length > 0) this.changed(q, "lease");
    return grants;
  }

  private dropLease(q: FunctionQueue, task: Task): void {
    if (task.lease !== undefined) q.workers.get(task.lease.workerId)?.leased.delete(task.id);
    task.lease = undefined;
    if (q.running.delete(task.id)) this.changed(q, "queue");
  }

  private attemptFailed(task: Task, type: TaskErrorType, message: string, leaseId?: string): Promise<Task> {
    const q = this.queue(functionKey(task.namespace, task.name));
    const runMs = task.lease === undefined ? undefined : this.clock.now() - task.lease.leasedAt;
    this.dropLease(q, task);
    const settings = this.opts.registry.get(task.namespace, task.name);
    const plan = planFailure({
      type,
      attempts: task.attempts,
      disruptions: task.disruptions,
      policy: task.policy?.retries ?? task.retries ?? settings?.retries ?? DEFAULT_RETRY_POLICY,
      maxDisruptions: this.opts.maxDisruptions ?? 5,
    });
    if (!plan.countAttempt) {
      task.attempts--;
      task.disruptions++;
    }
    const error: TaskError = { type, message, attempt: plan.countAttempt ? task.attempts : task.attempts + 1 };
    if (plan.action === "fail") return this.finish(task, "failed", error, runMs, null, leaseId);
    this.opts.metrics?.retried(task, type);
    this.opts.log?.("task retried", { task: task.id, function: q.key, type, message, delayMs: plan.delayMs });
    task.status = "queued";
    task.notBefore = plan.delayMs > 0 ? this.clock.now() + plan.delayMs : null;
    task.progress = undefined;
    this.save(task);
    // A disrupted task did nothing wrong: it goes back to the front.
    this.enqueue(q, task, type === "Disrupted");
    this.emit(task.id, { type: "status", task });
    return Promise.resolve(task);
  }

  /**
   * Ends a task (its lease and queue place already dropped): stages the outcome and publishes it
   * once committed. Until then the task stays active as it was, so a kill -9 before the commit
   * re-runs a task nobody saw finish. A failed commit is retried: the outcome is already decided.
   */
  private finish(task: Task, status: Finishing["status"], error: TaskError | null, runMs?: number, output: string | null = null, leaseId?: string): Promise<Task> {
    let resolve = (_t: Task): void => {};
    const done = new Promise<Task>((r) => (resolve = r));
    task.finishing = { status, error, output, finishedAt: this.clock.now(), runMs, leaseId, done, resolve };
    task.lease = undefined;
    task.stageTimer?.cancel();
    task.stageTimer = undefined;
    this.commitFinish(task);
    return done;
  }

  private commitFinish(task: Task): void {
    const f = task.finishing;
    if (f === undefined) return;
    this.store.save({ ...toRow(task), status: f.status, error: f.error, output: f.output, finishedAt: f.finishedAt, input: null });
    this.store.committed().then(
      () => this.publish(task),
      (err: unknown) => {
        this.opts.log?.("committing a task's outcome failed; retrying", { task: task.id, err: String(err) });
        this.clock.setTimer(this.opts.commitRetryMs ?? 1000, () => this.commitFinish(task));
      },
    );
  }

  /** The outcome is durable: now the task is finished for everyone. */
  private publish(task: Task): void {
    const f = task.finishing;
    if (f === undefined) return;
    task.finishing = undefined;
    task.status = f.status;
    task.error = f.error;
    task.output = f.output;
    task.finishedAt = f.finishedAt;
    task.input = null;
    this.active.delete(task.id);
    this.remember(task);
    this.opts.metrics?.taskFinished(task, f.status === "succeeded" ? "succeeded" : (f.error?.type ?? "UserError"), f.runMs);
    const waiters = this.waiters.get(task.id);
    if (waiters !== undefined) for (const w of [...waiters]) w(task);
    this.emit(task.id, { type: "done", task });
    f.resolve(task);
    this.released(task);
  }

  // ---- calls from inside a handler (src/gateway/calls.ts) ------------------------------------

  /** Records an unfinished child under its parent; a child of a parent already cancelled is cancelled. */
  private adopt(task: Task): void {
    const parentId = task.parentId;
    if (parentId === null || isTerminal(task.status)) return;
    let set = this.children.get(parentId);
    if (set === undefined) this.children.set(parentId, (set = new Set()));
    set.add(task.id);
    const parent = this.get(parentId);
    const parentStatus = parent?.finishing?.status ?? parent?.status;
    if (parentStatus === "cancelled") this.cancelChild(task, parentId);
  }

  /** A task ended: it leaves its parent's children; if it was cancelled, so are its own children. */
  private released(task: Task): void {
    if (task.parentId !== null) {
      const siblings = this.children.get(task.parentId);
      siblings?.delete(task.id);
      if (siblings?.size === 0) this.children.delete(task.parentId);
    }
    const own = this.children.get(task.id);
    if (own === undefined) return;
    if (task.status !== "cancelled") return;
    this.children.delete(task.id);
    for (const id of own) {
      const child = this.active.get(id);
      if (child !== undefined) this.cancelChild(child, task.id);
    }
  }

  private cancelChild(child: Task, parentId: string): void {
    void this.cancelTask(child, `its parent task ${parentId} was cancelled`).then((t) => this.opts.onChildCancelled?.(t));
  }

  /** Whether every worker of the Function folds reducer batches (and it has one). */
  canFold(namespace: string, name: string): boolean {
    const q = this.queues.get(functionKey(namespace, name));
    if (q === undefined || q.workers.size === 0) return false;
    for (const w of q.workers.values()) if (w.fold !== true) return false;
    return true;
  }

  /** The unfinished tasks `id` started from inside its handler. */
  childrenOf(id: string): string[] {
    return [...(this.children.get(id) ?? [])];
  }

  /**
   * Keeps a finished task in memory for the reads that usually follow at once, within a count
   * and a byte budget (outputs may be megabytes); older ones are read from the store.
   */
  private remember(task: Task): void {
    const size = task.output?.length ?? 0;
    if (size > RECENT_MAX_OUTPUT) return;
    this.recent.set(task.id, task);
    this.recentBytes += size;
    const limit = this.opts.recentLimit ?? 10_000;
    while (this.recent.size > limit || this.recentBytes > RECENT_MAX_BYTES) {
      const oldest = this.recent.values().next();
      if (oldest.done === true) break;
      this.forget(oldest.value.id);
    }
  }

  private forget(id: string): void {
    const t = this.recent.get(id);
    if (t === undefined) return;
    this.recent.delete(id);
    this.recentBytes -= t.output?.length ?? 0;
  }

  private emit(id: string, ev: TaskEvent): void {
    const subs = this.subscribers.get(id);
    if (subs !== undefined) for (const fn of [...subs]) fn(ev);
  }

  private save(task: Task): void {
    this.store.save(toRow(task));
  }
}

function fromRow(row: TaskRow): Task {
  return { ...row, progress: undefined, lease: undefined };
}

function toRow(t: Task): TaskRow {
  return {
    id: t.id,
    namespace: t.namespace,
    name: t.name,
    status: t.status,
    attempts: t.attempts,
    disruptions: t.disruptions,
    encoding: t.encoding,
    input: t.input,
    output: t.output,
    error: t.error,
    idempotencyKey: t.idempotencyKey,
    createdAt: t.createdAt,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
    notBefore: t.notBefore,
    timeoutSeconds: t.timeoutSeconds,
    retries: t.retries,
    parentId: t.parentId,
    depth: t.depth,
    cached: t.cached,
  };
}

function hashInput(encoding: Encoding, input: string): string {
  return createHash("sha256").update(encoding).update("\u0000").update(input).digest("base64url");
}

function submittingKey(fn: FunctionSettings, key: string): string {
  return `${fn.namespace}\u0000${fn.name}\u0000${key}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The task document of `GET /v1/tasks/{id}` as JSON text; the output is spliced, not re-encoded. */
export function renderTask(t: Task): string {
  const doc: Omit<TaskDocument, "output"> = {
    id: t.id,
    function: { namespace: t.namespace, name: t.name },
    status: t.status,
    attempts: t.attempts,
    createdAt: iso(t.createdAt),
  };
  if (t.startedAt !== null) doc.startedAt = iso(t.startedAt);
  if (t.finishedAt !== null) doc.finishedAt = iso(t.finishedAt);
  if (t.progress !== undefined) doc.progress = t.progress;
  if (t.waiting !== undefined && t.status === "queued") doc.waiting = t.waiting;
  if (t.error !== null) doc.error = t.error;
  if (t.cached) doc.cached = true;
  if (t.parentId !== null) {
    doc.parent = t.parentId;
    doc.depth = t.depth;
  }
  if (t.status === "succeeded" && t.output !== null && t.encoding === "pickle") doc.outputB64 = pickleOutputB64(t.output);
  const text = JSON.stringify(doc);
  if (t.status === "succeeded" && t.output !== null && t.encoding === "json") return `${text.slice(0, -1)},"output":${t.output}}`;
  return text;
}
