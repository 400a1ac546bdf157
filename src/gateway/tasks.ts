// The gateway's core: per-function queues, leases with per-attempt deadlines, retries by the
// Function's policy, workers known by their heartbeats, waiters for results and progress. No
// HTTP here (server.ts) and no SQL (store.ts); time comes from the injected clock, and tick()
// does the periodic work so tests drive it with a fake clock. The parts, one purpose each:
// function-queues.ts (queues and the worker registry), dispatch.ts (queues → leases),
// task-events.ts (waiters and subscribers), recent-results.ts (finished tasks in memory),
// idempotency.ts (keys), task-commits.ts (outcomes visible once durable), task-family.ts
// (calls from inside a handler), task-isolated.ts (isolated calls' hooks). This class is the
// facade: submit, the worker reports, cancel and the periodic work, which tie the parts together.
import { DEFAULT_RETRY_POLICY, isTerminal, type Encoding, type ExitErrorType, type FunctionStats, type TaskError, type TaskErrorType, type WorkerState } from "../protocol/index.ts";
import type { Clock } from "../kube/clock.ts";
import { Dispatcher } from "./dispatch.ts";
import { FunctionQueues, type FunctionQueue } from "./function-queues.ts";
import { hashInput, IdempotencyKeys } from "./idempotency.ts";
import { RecentResults } from "./recent-results.ts";
import { functionKey, type FunctionSettings } from "./registry.ts";
import { planFailure } from "./retry.ts";
import type { TaskStore } from "./store.ts";
import { TaskCommits } from "./task-commits.ts";
import { TaskEvents } from "./task-events.ts";
import { TaskFamily } from "./task-family.ts";
import { timeOrderedId } from "./task-id.ts";
import { IsolatedTasks } from "./task-isolated.ts";
import { EngineError, fromRow, LeaseIds, toRow, type EngineOptions, type Finishing, type LeaseGrant, type SubmitOptions, type Task, type TaskEvent, type TaskWaiting } from "./task-model.ts";

export {
  EngineError,
  type DemandChange,
  type EngineMetrics,
  type EngineOptions,
  type LeaseGrant,
  type SubmitOptions,
  type Task,
  type TaskEvent,
  type TaskPolicy,
  type TaskWaiting,
} from "./task-model.ts";
export { renderTask } from "./task-render.ts";

export class TaskEngine {
  private readonly opts: EngineOptions;
  private readonly store: TaskStore;
  private readonly clock: Clock;
  private readonly queues: FunctionQueues;
  /** Unfinished tasks (including those whose outcome is being committed), by id. */
  private readonly active = new Map<string, Task>();
  private readonly recent: RecentResults;
  private readonly lostLeases = new Set<(fn: FunctionSettings, workerId: string, n: number) => void>();
  /** Finished tasks not yet counted in the metrics (countFinished, after the answers went out). */
  private metricsDue: [Task, "succeeded" | TaskErrorType, number | undefined][] = [];
  private readonly events: TaskEvents;
  private readonly keys: IdempotencyKeys;
  private readonly dispatcher: Dispatcher;
  private readonly commits: TaskCommits;
  private readonly family: TaskFamily;
  private readonly isolated: IsolatedTasks;
  private lastGc = 0;
  private collecting = false;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.clock = opts.clock;
    this.queues = new FunctionQueues(opts.clock, opts.onChange);
    this.recent = new RecentResults(opts.recentLimit);
    this.events = new TaskEvents(opts.clock);
    this.keys = new IdempotencyKeys(opts.store, opts.clock, opts.idempotencyWindowMs);
    const leaseIds = new LeaseIds();
    this.dispatcher = new Dispatcher({ queues: this.queues, active: this.active, events: this.events, clock: opts.clock, leaseIds, metrics: opts.metrics, leaseToken: opts.leaseToken });
    this.commits = new TaskCommits({ store: opts.store, clock: opts.clock, log: opts.log, commitRetryMs: opts.commitRetryMs, published: (task, f) => this.published(task, f) });
    this.family = new TaskFamily({
      get: (id) => this.get(id),
      active: (id) => this.active.get(id),
      cancelChild: (child, parentId) => void this.cancelTask(child, `its parent task ${parentId} was cancelled`).then((t) => this.opts.onChildCancelled?.(t)),
    });
    this.isolated = new IsolatedTasks({
      active: this.active,
      queues: this.queues,
      registry: opts.registry,
      events: this.events,
      clock: opts.clock,
      leaseIds,
      metrics: opts.metrics,
      mintToken: opts.mintToken,
      get: (id) => this.get(id),
      save: (task) => this.save(task),
      finish: (task, status, error, runMs, output) => this.commits.finish(task, status, error, runMs, output),
    });
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
      this.family.adopt(task);
      this.dispatcher.enqueue(this.queues.queue(functionKey(task.namespace, task.name)), task, false);
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
      const existing = this.keys.find(fn, key, inputHash, (id) => this.get(id));
      if (existing !== undefined) return Promise.resolve(existing).then((task) => ({ task, repeat: true }));
    }
    const q = this.queues.queue(functionKey(fn.namespace, fn.name));
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
        if (key !== undefined) this.keys.settled(fn, key);
        this.active.set(task.id, task);
        this.dispatcher.enqueue(q, task, false);
        this.family.adopt(task);
        return task;
      },
      () => {
        q.submitting--;
        if (key !== undefined) this.keys.settled(fn, key);
        throw new EngineError("Unavailable", "the task store could not commit the task; it was not accepted (retry)");
      },
    );
    if (key !== undefined) this.keys.pending(fn, key, { task, inputHash, done });
    return done.then((t) => ({ task: t, repeat: false }));
  }

  /**
   * A task whose caller waits for it on the connection (`:run`): queued at once, no commit first.
   * Its row is staged when it ends (the outcome's commit writes it whole) or, if it is still
   * unfinished after `runStageMs`, then, so a longer task survives a restart as before. The
   * outcome is visible once it survives the gateway's crash: in the store's run log (or, without
   * one, committed by SQLite); neither its commit nor its fsync is waited for (store.saveLogged,
   * docs/protocol.md "Durability"). A gateway that dies before the
   * row's commit loses a task nobody was told about: the caller's connection drops with it.
   */
  private dispatchAtOnce(q: FunctionQueue, task: Task): Task {
    task.answerWhenWritten = true;
    this.active.set(task.id, task);
    this.dispatcher.enqueue(q, task, false, true);
    this.family.adopt(task);
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
    void this.commits.finish(task, "succeeded", null, 0, output);
    return task;
  }

  /**
   * A workflow step's task, for a run already accepted: staged in the same commit as the run's
   * rows and queued at once (its outcome still becomes visible only after its own commit).
   */
  submitStep(fn: FunctionSettings, input: string, encoding: Encoding): Task {
    const q = this.queues.queue(functionKey(fn.namespace, fn.name));
    if (q.queued + q.submitting >= this.maxQueue) throw new EngineError("QueueFull", `function ${q.key} has ${q.queued} queued tasks (limit ${this.maxQueue})`);
    const task = this.newTask(fn, input, encoding, {});
    this.active.set(task.id, task);
    this.save(task);
    this.dispatcher.enqueue(q, task, false);
    return task;
  }

  private newTask(fn: FunctionSettings, input: string, encoding: Encoding, opts: SubmitOptions): Task {
    const now = this.clock.now();
    const task: Task = {
      id: timeOrderedId(now),
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
      createdAt: now,
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
    const q = this.queues.queue(functionKey(fn.namespace, fn.name));
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
    return this.events.wait(id, ms, signal);
  }

  subscribe(id: string, fn: (ev: TaskEvent) => void): () => void {
    return this.events.subscribe(id, fn);
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
    const q = this.queues.of(task);
    if (task.status === "queued") {
      q.queued--;
      q.delayed.delete(task);
      this.queues.changed(q, "queue");
    }
    if (task.lease !== undefined) {
      const w = q.workers.get(task.lease.workerId);
      w?.leased.delete(task.id);
      w?.cancel.add(task.id);
    }
    q.running.delete(task.id);
    return this.commits.finish(task, "cancelled", { type: "Cancelled", message, attempt: task.attempts });
  }

  stats(namespace: string, name: string): FunctionStats {
    return this.queues.stats(namespace, name);
  }

  /** Workers of a function holding a task (worker ids are pod names): scale-down spares them. */
  busyWorkerIds(namespace: string, name: string, limit = 1000): string[] {
    return this.queues.busyWorkerIds(namespace, name, limit);
  }

  /** Every function with a queue, for metrics. */
  allStats(): { namespace: string; name: string; stats: FunctionStats }[] {
    return this.queues.allStats();
  }

  /**
   * The function's newest tasks in memory (unfinished, and finished ones still remembered),
   * newest first: what the console lists. Read-only.
   */
  recentTasks(namespace: string, name: string, limit: number): Task[] {
    const out: Task[] = [];
    for (const tasks of [this.active.values(), this.recent.values()]) {
      for (const t of tasks) if (t.namespace === namespace && t.name === name) out.push(t);
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).slice(0, limit);
  }

  /** True when workers exist for the function and every one reports a configuration failure. */
  degraded(namespace: string, name: string): { type: string; message: string } | undefined {
    return this.queues.degraded(namespace, name);
  }

  /** Whether every worker of the Function folds reducer batches (and it has one). */
  canFold(namespace: string, name: string): boolean {
    return this.queues.canFold(namespace, name);
  }

  /** The unfinished tasks `id` started from inside its handler. */
  childrenOf(id: string): string[] {
    return this.family.childrenOf(id);
  }

  // ---- workers ---------------------------------------------------------------------------

  /** Long-poll for up to `max` tasks; an empty list once `waitMs` passed. */
  lease(fn: FunctionSettings, workerId: string, max: number, waitMs: number, signal?: AbortSignal, caps: { fold?: boolean } = {}): Promise<LeaseGrant[]> {
    const q = this.queues.queue(functionKey(fn.namespace, fn.name));
    const worker = this.queues.touch(q, workerId, "ready");
    worker.fold = caps.fold === true;
    return this.dispatcher.lease(fn, q, worker, max, waitMs, signal);
  }

  /**
   * Gives leased tasks back (their lease answer could not be delivered): queued again at the
   * front, the attempt not counted.
   */
  unlease(grants: readonly LeaseGrant[]): void {
    this.dispatcher.unlease(grants);
  }

  /**
   * Calls `listener` when a worker's heartbeat shows it never received `n` of its leases (they are
   * queued again): a worker channel gives that credit back. Returns how to stop.
   */
  onLostLeases(listener: (fn: FunctionSettings, workerId: string, n: number) => void): () => void {
    this.lostLeases.add(listener);
    return () => this.lostLeases.delete(listener);
  }

  heartbeat(fn: FunctionSettings, workerId: string, hb: { state: WorkerState; error?: { type: string; message: string } | undefined; tasks?: readonly string[] | undefined }): { cancel: string[] } {
    const q = this.queues.queue(functionKey(fn.namespace, fn.name));
    const w = this.queues.touch(q, workerId, hb.state);
    w.error = hb.error;
    if (hb.tasks !== undefined) {
      // Leases granted a while ago that the worker does not hold: the answer was lost on the way.
      const held = new Set(hb.tasks);
      const cutoff = this.clock.now() - (this.opts.leaseReceiptMs ?? 5000);
      let lost = 0;
      for (const id of [...w.leased]) {
        const task = this.active.get(id);
        if (task?.lease !== undefined && !held.has(id) && task.lease.leasedAt < cutoff) {
          lost++;
          void this.attemptFailed(task, "Disrupted", `worker ${workerId} never received the lease`);
        }
      }
      // The worker's credit for them was never spent: its channel gets it back (worker-channel.ts).
      if (lost > 0) for (const l of [...this.lostLeases]) l(fn, workerId, lost);
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
    this.events.emit(task.id, { type: "progress", progress: task.progress });
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
    const q = this.queues.of(task);
    const runMs = task.lease === undefined ? undefined : this.clock.now() - task.lease.leasedAt;
    this.dispatcher.dropLease(q, task);
    return this.commits.finish(task, "succeeded", null, runMs, output, leaseId);
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
    if (task.lease?.leaseId !== leaseId && !this.isolated.adoptLease(task, leaseId)) throw new EngineError("Conflict", `lease ${leaseId} of task ${id} is no longer held`);
    return task;
  }

  private attemptFailed(task: Task, type: TaskErrorType, message: string, leaseId?: string): Promise<Task> {
    const q = this.queues.of(task);
    const runMs = task.lease === undefined ? undefined : this.clock.now() - task.lease.leasedAt;
    this.dispatcher.dropLease(q, task);
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
    if (plan.action === "fail") return this.commits.finish(task, "failed", error, runMs, null, leaseId);
    this.opts.metrics?.retried(task, type);
    this.opts.log?.("task retried", { task: task.id, function: q.key, type, message, delayMs: plan.delayMs });
    task.status = "queued";
    task.notBefore = plan.delayMs > 0 ? this.clock.now() + plan.delayMs : null;
    task.progress = undefined;
    this.save(task);
    // A disrupted task did nothing wrong: it goes back to the front.
    this.dispatcher.enqueue(q, task, type === "Disrupted");
    this.events.emit(task.id, { type: "status", task });
    return Promise.resolve(task);
  }

  /** An outcome is durable (task-commits.ts): the task is finished for everyone. */
  private published(task: Task, f: Finishing): void {
    this.active.delete(task.id);
    this.recent.remember(task);
    if (this.opts.metrics !== undefined && this.metricsDue.push([task, f.status === "succeeded" ? "succeeded" : (f.error?.type ?? "UserError"), f.runMs]) === 1) {
      setImmediate(() => this.countFinished());
    }
    this.events.ended(task);
    this.family.released(task);
  }

  /** Finished tasks into the metrics, after the turn that answered their callers. */
  private countFinished(): void {
    const due = this.metricsDue;
    this.metricsDue = [];
    for (const [task, outcome, runMs] of due) this.opts.metrics?.taskFinished(task, outcome, runMs);
  }

  // ---- isolated calls (task-isolated.ts, src/gateway/isolated/) ------------------------------

  /** Every active isolated task (the flag comes back from the registry after a restart). */
  isolatedTasks(): Task[] {
    return this.isolated.all();
  }

  /** The pod of an isolated task's Job starts an attempt: its lease grant. */
  claim(id: string, workerId: string): LeaseGrant {
    return this.isolated.claim(id, workerId);
  }

  /** The Job's view while it runs: an attempt is running, or it waits (pending, unschedulable, backing off). */
  isolatedObserved(id: string, seen: { state: "running"; started: number } | { state: "waiting"; ended: number; waiting: TaskWaiting }): void {
    this.isolated.observed(id, seen);
  }

  /** The Job ended without the pod's output reaching the gateway: its fallback output, or its failure. */
  isolatedFinished(id: string, end: { output: string; attempts: number } | { error: TaskError; attempts: number } | { cancelled: string }): void {
    this.isolated.finished(id, end);
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
          this.queues.changed(q, "workers");
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
          this.dispatcher.scheduleDispatch(q);
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
        const ids = await this.store.deleteFinishedBefore(cutoff, 5000, now - this.keys.windowMs);
        for (const id of ids) this.recent.forget(id);
        if (ids.length < 5000) return;
      }
    };
    round()
      .catch((err: unknown) => this.opts.log?.("deleting expired results failed", { err: String(err) }))
      .finally(() => (this.collecting = false));
  }

  /** Ends every pending long-poll (shutdown). */
  close(): void {
    this.dispatcher.close();
  }

  private save(task: Task): void {
    this.store.save(toRow(task));
  }
}
