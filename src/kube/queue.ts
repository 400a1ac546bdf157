// The keyed work queue every controller runs on. A key is queued at most once (dedup), is never
// processed by two workers at once (a key added while in flight is re-queued when it finishes),
// retries back off per key (exponential) and globally (token bucket), at most `concurrency`
// reconciles run at a time, and each gets an AbortSignal that fires at its timeout.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock, TimerHandle } from "./clock.ts";
import { toStatus } from "./errors.ts";
import { backoffDelay, TokenBucket, type BackoffOptions } from "./ratelimit.ts";

/** What a reconcile returns: nothing (done) or when to look again. */
export type ReconcileResult = void | { requeueAfterMs: number };

/** Thrown by a reconcile to stop retrying: the error is logged and counted, the key dropped until its next event. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
  }
}

export interface ReconcileContext {
  key: string;
  /** Aborts at the reconcile timeout or at shutdown; pass it to every request. */
  signal: AbortSignal;
  /** 0 for the first try, n after n consecutive failures of this key. */
  failures: number;
  /** Unique per reconcile, for logs. */
  reconcileID: string;
}

export type ReconcileHandler = (ctx: ReconcileContext) => Promise<ReconcileResult>;

/** Metrics shared by every queue of one registry. */
export class QueueMetrics {
  readonly depth: Gauge<"name">;
  readonly inFlight: Gauge<"name">;
  readonly adds: Counter<"name">;
  readonly retries: Counter<"name">;
  readonly queueLatency: Histogram<"name">;
  readonly reconciles: Counter<"controller" | "result">;
  readonly errors: Counter<"controller">;
  readonly duration: Histogram<"controller">;

  constructor(registry: Registry) {
    const registers = [registry];
    const buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    this.depth = new Gauge({ name: "hearth_workqueue_depth", help: "Keys waiting to be reconciled.", labelNames: ["name"], registers });
    this.inFlight = new Gauge({ name: "hearth_workqueue_in_flight", help: "Reconciles running.", labelNames: ["name"], registers });
    this.adds = new Counter({ name: "hearth_workqueue_adds_total", help: "Keys added (before dedup).", labelNames: ["name"], registers });
    this.retries = new Counter({ name: "hearth_workqueue_retries_total", help: "Keys re-queued with backoff after a failure.", labelNames: ["name"], registers });
    this.queueLatency = new Histogram({
      name: "hearth_workqueue_queue_duration_seconds",
      help: "Time a key waited in the queue before its reconcile started.",
      labelNames: ["name"],
      buckets,
      registers,
    });
    this.reconciles = new Counter({
      name: "hearth_controller_reconcile_total",
      help: "Reconciles by result (success, requeue, error, terminal, timeout).",
      labelNames: ["controller", "result"],
      registers,
    });
    this.errors = new Counter({ name: "hearth_controller_reconcile_errors_total", help: "Reconciles that failed.", labelNames: ["controller"], registers });
    this.duration = new Histogram({ name: "hearth_controller_reconcile_duration_seconds", help: "Reconcile duration.", labelNames: ["controller"], buckets, registers });
  }
}

export interface WorkQueueOptions {
  name: string;
  clock: Clock;
  logger: Logger;
  /** Reconciles in parallel. Default 4. */
  concurrency?: number;
  /** Per-reconcile deadline (the signal aborts). Default 60 s. */
  timeoutMs?: number;
  /** After the deadline, how long a reconcile that ignores its signal keeps its worker slot. Default 5 s. */
  abandonAfterMs?: number;
  /** Per-key exponential backoff. Default 50 ms doubling to 5 min. */
  backoff?: BackoffOptions;
  /** Global bucket for retries: at most `qps` per second after `burst`. Default 10/100. */
  retryRate?: { qps: number; burst: number };
  metrics?: QueueMetrics | undefined;
  random?: () => number;
}

export class WorkQueue {
  private readonly opts: WorkQueueOptions;
  private readonly handler: ReconcileHandler;
  private readonly bucket: TokenBucket;
  private readonly log: Logger;
  /** FIFO of ready keys; `head` avoids O(n) shifts on large queues. */
  private items: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly failures = new Map<string, number>();
  private readonly controllers = new Set<AbortController>();
  private running = 0;
  private started = false;
  private shuttingDown = false;
  private idleWaiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];

  constructor(opts: WorkQueueOptions, handler: ReconcileHandler) {
    this.opts = opts;
    this.handler = handler;
    this.bucket = new TokenBucket(opts.clock, opts.retryRate?.qps ?? 10, opts.retryRate?.burst ?? 100);
    this.log = opts.logger.child({ queue: opts.name });
  }

  /** Keys waiting (not counting delayed ones). */
  get depth(): number {
    return this.items.length - this.head;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Keys waiting for a delayed add. */
  get waiting(): number {
    return this.delayed.size;
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    this.opts.metrics?.adds.inc({ name: this.opts.name });
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.addedAt.set(key, this.opts.clock.now());
    this.items.push(key);
    this.updateDepth();
    this.pump();
  }

  /** Adds `key` after `ms`; an earlier pending add wins over a later one. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.opts.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing !== undefined && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.opts.clock.setTimer(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, timer });
  }

  /** Re-queues after a failure: the later of the key's backoff and the global bucket. */
  addRateLimited(key: string, minDelayMs = 0): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.max(minDelayMs, backoffDelay(n - 1, this.opts.backoff, this.opts.random), this.bucket.reserve());
    this.opts.metrics?.retries.inc({ name: this.opts.name });
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.pump();
  }

  /** Resolves when nothing is queued or running (delayed adds may still be pending). */
  onIdle(): Promise<void> {
    if (this.depth === 0 && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Stops taking keys, waits up to `graceMs` for running reconciles, then aborts them and waits
   * for them to settle (bounded by the abandon delay).
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    if (this.running === 0) return;
    const drained = new Promise<void>((r) => this.drainWaiters.push(r));
    const t = this.opts.clock.setTimer(graceMs, () => {
      for (const c of this.controllers) c.abort(new Error("shutting down"));
    });
    await drained;
    t.cancel();
  }

  private updateDepth(): void {
    this.opts.metrics?.depth.set({ name: this.opts.name }, this.depth);
  }

  private pump(): void {
    if (!this.started || this.shuttingDown) return;
    while (this.running < (this.opts.concurrency ?? 4) && this.head < this.items.length) {
      const key = this.items[this.head++];
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (key === undefined) continue;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      this.updateDepth();
      this.opts.metrics?.inFlight.set({ name: this.opts.name }, this.running);
      const addedAt = this.addedAt.get(key);
      this.addedAt.delete(key);
      if (addedAt !== undefined) this.opts.metrics?.queueLatency.observe({ name: this.opts.name }, (this.opts.clock.now() - addedAt) / 1000);
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    const abandonMs = this.opts.abandonAfterMs ?? 5_000;
    let timedOut = false;
    const deadline = this.opts.clock.setTimer(timeoutMs, () => {
      timedOut = true;
      controller.abort(Object.assign(new Error(`reconcile of ${key} exceeded its ${timeoutMs} ms timeout`), { name: "TimeoutError" }));
    });
    const started = this.opts.clock.now();
    const ctx: ReconcileContext = { key, signal: controller.signal, failures: this.failures.get(key) ?? 0, reconcileID: randomUUID() };
    // A reconcile that ignores its signal must not hold a worker slot forever: after the timeout
    // plus a grace period the slot is freed, but the key stays "processing" until it settles so
    // that two reconciles of one key never overlap.
    let releaseSlot: (() => void) | undefined;
    const slotFreed = new Promise<"abandoned">((resolve) => {
      releaseSlot = () => resolve("abandoned");
    });
    const abandonTimer = this.opts.clock.setTimer(timeoutMs + abandonMs, () => releaseSlot?.());
    const work = (async () => this.handler(ctx))().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const first = await Promise.race([work, slotFreed]);
    abandonTimer.cancel();
    if (first === "abandoned") {
      this.log.error({ key, reconcileID: ctx.reconcileID }, "reconcile ignored its timeout; freeing its worker slot");
      this.opts.metrics?.reconciles.inc({ controller: this.opts.name, result: "timeout" });
      this.opts.metrics?.errors.inc({ controller: this.opts.name });
      this.freeSlot();
      const late = await work;
      deadline.cancel();
      this.controllers.delete(controller);
      this.finish(key, late, true, started);
      return;
    }
    deadline.cancel();
    this.controllers.delete(controller);
    this.finish(key, first, timedOut, started);
    this.freeSlot();
  }

  private freeSlot(): void {
    this.running--;
    this.opts.metrics?.inFlight.set({ name: this.opts.name }, this.running);
    if (this.running === 0 && this.drainWaiters.length > 0) for (const w of this.drainWaiters.splice(0)) w();
    this.pump();
    if (this.running === 0 && this.depth === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private finish(key: string, outcome: { ok: true; value: ReconcileResult } | { ok: false; error: unknown }, timedOut: boolean, started: number): void {
    this.processing.delete(key);
    const seconds = (this.opts.clock.now() - started) / 1000;
    this.opts.metrics?.duration.observe({ controller: this.opts.name }, seconds);
    if (outcome.ok && !timedOut) {
      this.forget(key);
      // Converged: a retry still waiting from an earlier failure has nothing left to do.
      const pending = this.delayed.get(key);
      if (pending !== undefined) {
        pending.timer.cancel();
        this.delayed.delete(key);
      }
      const again = outcome.value;
      if (again !== undefined && again.requeueAfterMs >= 0) {
        this.opts.metrics?.reconciles.inc({ controller: this.opts.name, result: "requeue" });
        this.addAfter(key, again.requeueAfterMs);
      } else {
        this.opts.metrics?.reconciles.inc({ controller: this.opts.name, result: "success" });
      }
    } else {
      const error = outcome.ok ? new Error("reconcile timed out") : outcome.error;
      this.opts.metrics?.errors.inc({ controller: this.opts.name });
      if (error instanceof TerminalError) {
        this.opts.metrics?.reconciles.inc({ controller: this.opts.name, result: "terminal" });
        this.forget(key);
        this.log.error({ key, err: error }, "reconcile failed permanently; waiting for the next change");
      } else if (!this.shuttingDown) {
        this.opts.metrics?.reconciles.inc({ controller: this.opts.name, result: timedOut ? "timeout" : "error" });
        const retryAfter = (toStatus(error).retryAfterSeconds ?? 0) * 1000;
        const delay = this.addRateLimited(key, retryAfter);
        this.log.warn({ key, err: error, failures: this.failures.get(key), retryInMs: delay }, "reconcile failed; retrying with backoff");
      }
    }
    if (this.dirty.delete(key)) this.add(key);
  }
}
