// Isolated calls, the I/O: a run/push to an `invocation: isolated` Function becomes one
// hearth.dev Job (plan.ts), which the operator's Job controller runs as a batch Job with the
// exit-code table. The gateway watches those Jobs and keeps each task in step with its Job: the
// pod claims the task and posts its output here; waiting reasons, retries and failures come
// back through the Job's status. Level-triggered: a periodic pass creates Jobs that are missing
// (a gateway that crashed between commit and create) and deletes Jobs of ended tasks (cancel).
import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../../kube/clock.ts";
import type { KubeClient } from "../../kube/client.ts";
import { describeStatus, isAlreadyExists, isTransient, toStatus } from "../../kube/errors.ts";
import { Informer } from "../../kube/informer.ts";
import { hearthJobs, withSchema } from "../../kube/resources.ts";
import { isTerminal } from "../../protocol/index.ts";
import type { Task, TaskEngine } from "../tasks.ts";
import { callJob, callJobName, callJobView, callUpdate, DEFAULT_CALL_JOB_TTL_SECONDS, LABEL_TASK, taskOf, type CallJobView } from "./plan.ts";

/** What the HTTP server asks of isolated calls. */
export interface IsolatedCallsPort {
  /** Creates the task's Job (one try; the periodic pass retries what failed for a transient reason). */
  dispatch(task: Task): Promise<void>;
  /** The task ended outside its Job (cancelled): stop the Job. */
  taskEnded(task: Task): void;
  /** Every task of a Function was cancelled (the Function is being deleted). */
  functionCancelled(namespace: string, name: string): void;
}

export interface IsolatedCallsOptions {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  engine: TaskEngine;
  /** Namespaces the gateway serves; empty = all. */
  namespaces?: readonly string[];
  jobTtlSeconds?: number;
  /** Period of the repair pass. Default 5 s. */
  resyncMs?: number;
  /** A task's Job may lag its creation this long before the repair pass creates it again. Default 10 s. */
  createGraceMs?: number;
}

const callJobs = withSchema(hearthJobs, callJobView);

/**
 * Whether a call Job still running must be stopped: its task is gone, cancelled, or failed outside
 * the Job (a succeeded one only waits for its pod to exit; its Job ends on its own).
 */
function stoppable(task: Task | undefined): boolean {
  return task === undefined || task.status === "cancelled" || task.status === "failed";
}

export class IsolatedCalls implements IsolatedCallsPort {
  private readonly o: IsolatedCallsOptions;
  private readonly informer: Informer<CallJobView>;
  /** When each task's Job was last asked for (clock ms): the repair pass leaves recent ones alone. */
  private readonly requested = new Map<string, number>();
  /** Jobs this gateway deleted (cancel): their disappearance is no news. */
  private readonly deleting = new Set<string>();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(opts: IsolatedCallsOptions) {
    this.o = opts;
    this.informer = new Informer({
      client: opts.client,
      resource: callJobs,
      clock: opts.clock,
      logger: opts.log,
      namespaces: opts.namespaces,
      labelSelector: LABEL_TASK,
      name: "gateway-call-jobs",
    });
    this.informer.on({
      add: (job) => this.observe(job),
      update: (_old, job) => this.observe(job),
      delete: (job) => this.gone(job),
    });
  }

  /** Starts watching, then adopts the isolated tasks the store holds (after a restart). */
  async start(): Promise<void> {
    // First the tasks (their isolated flag is not stored), so that the Jobs listed next find them.
    this.o.engine.isolatedTasks();
    this.informer.start();
    await this.informer.waitForSync();
    for (const job of this.informer.list()) this.observe(job);
    this.repair();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    void this.informer.stop();
  }

  async dispatch(task: Task): Promise<void> {
    this.requested.set(task.id, this.o.clock.now());
    const job = callJob({
      taskId: task.id,
      namespace: task.namespace,
      functionName: task.name,
      ttlSecondsAfterFinished: this.o.jobTtlSeconds ?? DEFAULT_CALL_JOB_TTL_SECONDS,
      timeoutSeconds: task.timeoutSeconds,
      retries: task.retries,
    });
    try {
      await this.o.client.create(hearthJobs, job, AbortSignal.timeout(10_000));
    } catch (err) {
      if (isAlreadyExists(err)) return;
      const status = toStatus(err);
      if (isTransient(err)) {
        this.o.log.warn({ task: task.id, error: describeStatus(status) }, "cannot create the Job of an isolated call yet; retrying");
        return;
      }
      // Forbidden, invalid, no such namespace: retrying cannot help, and the caller must hear why.
      this.o.log.error({ task: task.id, error: describeStatus(status) }, "cannot create the Job of an isolated call");
      this.o.engine.isolatedFinished(task.id, {
        error: { type: "BadConfiguration", message: `the gateway cannot create Job ${task.namespace}/${job.metadata.name} for this call: ${describeStatus(status)}`, attempt: 0 },
        attempts: 0,
      });
      this.requested.delete(task.id);
    }
  }

  taskEnded(task: Task): void {
    void this.deleteJob(task.namespace, callJobName(task.id));
  }

  functionCancelled(namespace: string, name: string): void {
    for (const job of this.informer.list()) {
      if (job.metadata.namespace === namespace && job.metadata.labels?.["hearth.dev/function"] === name) this.settle(job);
    }
  }

  /** Keeps the task in step with what its Job says. */
  private observe(job: CallJobView): void {
    const id = taskOf(job);
    if (id === undefined) return;
    this.requested.delete(id);
    const task = this.o.engine.get(id);
    if (task === undefined || isTerminal(task.status)) {
      if (stoppable(task)) this.settle(job);
      return;
    }
    if (task.isolated !== true) return;
    const update = callUpdate(job.status, task.encoding);
    switch (update.kind) {
      case "none":
        return;
      case "delivered":
        // The pod's complete() reached this gateway before its exit (the normal case) makes the
        // task terminal first; an unfinished one means the output was lost (a restart in between).
        this.o.engine.isolatedFinished(id, {
          error: { type: "Disrupted", message: `the call's pod reported its output delivered, but this gateway has no record of it (restarted while the call ran?)`, attempt: update.attempts },
          attempts: update.attempts,
        });
        return;
      case "running":
        this.o.engine.isolatedObserved(id, { state: "running", started: update.started });
        return;
      case "waiting":
        this.o.engine.isolatedObserved(id, { state: "waiting", ended: update.ended, waiting: { reason: update.reason, message: update.message } });
        return;
      case "succeeded":
        this.o.engine.isolatedFinished(id, { output: update.output, attempts: update.attempts });
        return;
      case "failed":
        this.o.engine.isolatedFinished(id, { error: { type: update.type, message: update.message, attempt: update.attempts }, attempts: update.attempts });
        return;
    }
  }

  /** The Job of an ended task: a running one is stopped; a finished one is left to its TTL. */
  private settle(job: CallJobView): void {
    const done = job.status?.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True") === true;
    if (!done) void this.deleteJob(job.metadata.namespace ?? "", job.metadata.name, job.metadata.uid);
  }

  private gone(job: CallJobView): void {
    const key = `${job.metadata.namespace ?? ""}/${job.metadata.name}`;
    if (this.deleting.delete(key)) return;
    const id = taskOf(job);
    const task = id === undefined ? undefined : this.o.engine.get(id);
    if (id === undefined || task === undefined || isTerminal(task.status)) return;
    this.o.log.info({ task: id, job: key }, "the Job of an unfinished isolated call was deleted; the call is cancelled");
    this.o.engine.isolatedFinished(id, { cancelled: `Job ${key} was deleted before the call finished` });
  }

  private async deleteJob(namespace: string, name: string, uid?: string): Promise<void> {
    const key = `${namespace}/${name}`;
    this.deleting.add(key);
    try {
      const opts: { signal: AbortSignal; uid?: string } = { signal: AbortSignal.timeout(10_000) };
      if (uid !== undefined) opts.uid = uid;
      const found = await this.o.client.delete(hearthJobs, name, namespace, opts);
      if (!found) this.deleting.delete(key);
    } catch (err) {
      this.deleting.delete(key);
      this.o.log.warn({ job: key, error: describeStatus(toStatus(err)) }, "cannot delete the Job of an ended call; the repair pass retries");
    }
  }

  /** Creates the Jobs that should exist and do not; stops those of ended tasks. Then again later. */
  private repair(): void {
    if (this.stopped) return;
    const now = this.o.clock.now();
    const grace = this.o.createGraceMs ?? 10_000;
    for (const task of this.o.engine.isolatedTasks()) {
      if (this.informer.getByName(task.namespace, callJobName(task.id)) !== undefined) continue;
      const asked = this.requested.get(task.id);
      if (asked !== undefined && now - asked < grace) continue;
      void this.dispatch(task);
    }
    for (const job of this.informer.list()) {
      const id = taskOf(job);
      const task = id === undefined ? undefined : this.o.engine.get(id);
      if (stoppable(task)) {
        const key = `${job.metadata.namespace ?? ""}/${job.metadata.name}`;
        if (!this.deleting.has(key)) this.settle(job);
      }
    }
    this.timer = this.o.clock.setTimer(this.o.resyncMs ?? 5_000, () => this.repair());
  }
}
