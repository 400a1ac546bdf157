// Dispatch: queued tasks to workers' lease requests. Enqueueing (front or back, or delayed until
// a retry is due), lease long-polls served in batches once per event-loop turn, the lease each
// grant carries, and giving grants back when their answer could not be delivered.
import type { Clock } from "../kube/clock.ts";
import type { FunctionQueue, FunctionQueues, LeaseWaiter, WorkerInfo } from "./function-queues.ts";
import type { FunctionSettings } from "./registry.ts";
import type { TaskEvents } from "./task-events.ts";
import type { EngineMetrics, Lease, LeaseGrant, LeaseIds, Task } from "./task-model.ts";

export interface DispatchDeps {
  queues: FunctionQueues;
  /** Unfinished tasks by id. */
  active: Map<string, Task>;
  events: TaskEvents;
  clock: Clock;
  leaseIds: LeaseIds;
  metrics?: EngineMetrics | undefined;
  /** Mints the task-scoped token a lease carries (src/gateway/calls.ts); absent = none. */
  leaseToken?: ((task: Task, lease: Lease) => string) | undefined;
}

export class Dispatcher {
  private readonly d: DispatchDeps;

  constructor(deps: DispatchDeps) {
    this.d = deps;
  }

  /**
   * Queues `task`. `now` (a :run whose caller waits): if the queue was empty and no dispatch is
   * scheduled, a waiting long-poll gets it in this call rather than at the end of the event-loop
   * turn; tasks queued after it in the same turn are batched as usual.
   */
  enqueue(q: FunctionQueue, task: Task, front: boolean, now = false): void {
    q.queued++;
    this.d.queues.changed(q, "queue");
    // Counted as queued (demand), but its Job, not a warm worker, takes it.
    if (task.isolated === true) return;
    if (task.notBefore !== null && task.notBefore > this.d.clock.now()) {
      q.delayed.add(task);
      return;
    }
    if (front) q.ready.unshift(task);
    else q.ready.push(task);
    if (now && !q.dispatchScheduled && q.ready.length === 1) {
      this.dispatch(q);
      return;
    }
    this.scheduleDispatch(q);
  }

  /** Hands queued tasks to waiting long-polls once per event-loop turn, so they come in batches. */
  scheduleDispatch(q: FunctionQueue): void {
    if (q.dispatchScheduled || q.waiters.length === 0) return;
    q.dispatchScheduled = true;
    setImmediate(() => {
      q.dispatchScheduled = false;
      this.dispatch(q);
    });
  }

  /** Hands ready tasks to the waiting long-polls, in their order. */
  private dispatch(q: FunctionQueue): void {
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
  }

  /** Long-poll for up to `max` tasks; an empty list once `waitMs` passed. */
  lease(fn: FunctionSettings, q: FunctionQueue, worker: WorkerInfo, max: number, waitMs: number, signal?: AbortSignal): Promise<LeaseGrant[]> {
    const grants = this.take(q, fn, worker, max);
    if (grants.length > 0 || waitMs <= 0) return Promise.resolve(grants);
    return new Promise((resolve) => {
      worker.polling++;
      const waiter: LeaseWaiter = {
        workerId: worker.id,
        max,
        settings: fn,
        done: false,
        resolve: (g) => {
          if (waiter.done) return;
          waiter.done = true;
          worker.polling--;
          worker.lastSeen = this.d.clock.now();
          waiter.timer.cancel();
          signal?.removeEventListener("abort", onAbort);
          q.waiters = q.waiters.filter((w) => w !== waiter);
          resolve(g);
        },
        timer: this.d.clock.setTimer(waitMs, () => waiter.resolve([])),
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
      const task = this.d.active.get(g.id);
      if (task?.lease?.leaseId !== g.leaseId) continue;
      const q = this.d.queues.of(task);
      this.dropLease(q, task);
      task.attempts--;
      task.status = "queued";
      q.queued++;
      this.d.queues.changed(q, "queue");
      q.ready.unshift(task);
      this.scheduleDispatch(q);
    }
  }

  dropLease(q: FunctionQueue, task: Task): void {
    if (task.lease !== undefined) q.workers.get(task.lease.workerId)?.leased.delete(task.id);
    task.lease = undefined;
    if (q.running.delete(task.id)) this.d.queues.changed(q, "queue");
  }

  /** Ends every pending long-poll (shutdown). */
  close(): void {
    for (const q of this.d.queues.values()) for (const w of [...q.waiters]) w.resolve([]);
  }

  private take(q: FunctionQueue, fn: FunctionSettings, worker: WorkerInfo, max: number): LeaseGrant[] {
    const grants: LeaseGrant[] = [];
    const now = this.d.clock.now();
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
        this.d.metrics?.taskStarted(task, now - task.createdAt);
      }
      const timeoutSeconds = task.policy?.timeoutSeconds ?? task.timeoutSeconds ?? fn.timeoutSeconds;
      const lease: Lease = {
        leaseId: this.d.leaseIds.next(),
        workerId: worker.id,
        deadline: now + timeoutSeconds * 1000,
        leasedAt: now,
        timeoutSeconds,
      };
      task.lease = lease;
      q.running.set(task.id, task);
      worker.leased.add(task.id);
      const grant: LeaseGrant = { id: task.id, attempt: task.attempts, leaseId: lease.leaseId, input: task.input ?? "null", encoding: task.encoding, deadline: lease.deadline, timeoutSeconds };
      if (this.d.leaseToken !== undefined) grant.token = this.d.leaseToken(task, lease);
      if (task.outputItems === true) grant.outputItems = true;
      if (task.fold === true) grant.fold = true;
      grants.push(grant);
      if (task.attempts === 1) this.d.events.emit(task.id, { type: "status", task });
    }
    // Reducer batches an older worker cannot fold wait for one that can, in their place.
    if (unfit !== undefined) for (const t of unfit.reverse()) q.ready.unshift(t);
    if (grants.length > 0) this.d.queues.changed(q, "lease");
    return grants;
  }
}
