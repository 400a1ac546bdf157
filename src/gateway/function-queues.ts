// Per-function queues and the worker registry: each Function's ready/delayed/running tasks, its
// waiting lease requests, and its workers as their heartbeats and leases describe them; what the
// stats, the autoscaler's demand and the console read. No dispatch here (dispatch.ts).
import type { FunctionStats, WorkerState } from "../protocol/index.ts";
import type { Clock, TimerHandle } from "../kube/clock.ts";
import { Deque } from "./queue.ts";
import { functionKey, type FunctionSettings } from "./registry.ts";
import type { DemandChange, LeaseGrant, Task } from "./task-model.ts";

export interface WorkerInfo {
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

export interface LeaseWaiter {
  workerId: string;
  max: number;
  settings: FunctionSettings;
  resolve: (grants: LeaseGrant[]) => void;
  timer: TimerHandle;
  done: boolean;
}

export class FunctionQueue {
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

export class FunctionQueues {
  private readonly clock: Clock;
  private readonly onChange: ((functionKey: string, what: DemandChange) => void) | undefined;
  private readonly queues = new Map<string, FunctionQueue>();

  constructor(clock: Clock, onChange?: (functionKey: string, what: DemandChange) => void) {
    this.clock = clock;
    this.onChange = onChange;
  }

  /** The function's queue, made on first use. */
  queue(key: string): FunctionQueue {
    let q = this.queues.get(key);
    if (q === undefined) this.queues.set(key, (q = new FunctionQueue(key)));
    return q;
  }

  /** The queue of a task's function. */
  of(task: Task): FunctionQueue {
    return this.queue(functionKey(task.namespace, task.name));
  }

  find(namespace: string, name: string): FunctionQueue | undefined {
    return this.queues.get(functionKey(namespace, name));
  }

  values(): IterableIterator<FunctionQueue> {
    return this.queues.values();
  }

  /** A worker was heard from: known from now on, its state as it says. */
  touch(q: FunctionQueue, workerId: string, state: WorkerState): WorkerInfo {
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

  /** Tells the demand stream (demand.ts) that a function's queue, leases or workers changed. */
  changed(q: FunctionQueue, what: DemandChange): void {
    this.onChange?.(q.key, what);
  }

  stats(namespace: string, name: string): FunctionStats {
    const q = this.find(namespace, name);
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
    const q = this.find(namespace, name);
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

  /** True when workers exist for the function and every one reports a configuration failure. */
  degraded(namespace: string, name: string): { type: string; message: string } | undefined {
    const q = this.find(namespace, name);
    if (q === undefined || q.workers.size === 0) return undefined;
    let error: { type: string; message: string } | undefined;
    for (const w of q.workers.values()) {
      if (w.state !== "failed" || w.error?.type !== "BadConfiguration") return undefined;
      error = w.error;
    }
    return error;
  }

  /** Whether every worker of the Function folds reducer batches (and it has one). */
  canFold(namespace: string, name: string): boolean {
    const q = this.find(namespace, name);
    if (q === undefined || q.workers.size === 0) return false;
    for (const w of q.workers.values()) if (w.fold !== true) return false;
    return true;
  }
}
