// Runs controllers: shared informers (started on every replica, so a standby's caches are warm),
// one work queue per registered controller (started only on the leader, after the caches
// synced), periodic resyncs, leader election, and an orderly shutdown.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Clock, TimerHandle } from "../kube/clock.ts";
import { SharedCaches } from "./caches.ts";
import type { KubeClient } from "../kube/client.ts";
import { EventRecorder } from "../kube/events.ts";
import { Informer, InformerMetrics } from "../kube/informer.ts";
import { LeaderElector, leaseClient, type LeaderElectionConfig } from "../kube/leader.ts";
import { keyOf, type KubeObject } from "../kube/objects.ts";
import { QueueMetrics, WorkQueue, type ReconcileContext, type ReconcileResult } from "../kube/queue.ts";
import type { ResourceType } from "../kube/resources.ts";

/** What the manager needs from an informer (any object type). */
export interface ManagedInformer {
  readonly size: number;
  start(): void;
  stop(): Promise<void>;
  hasSynced(): boolean;
  waitForSync(signal?: AbortSignal): Promise<void>;
}

/** An informer whose events enqueue keys of a controller. Build with `watch()`. */
export interface Watch {
  informer: ManagedInformer;
  subscribe(enqueue: (key: string) => void): void;
  /** Keys of every cached object (used for the initial and periodic full reconciles). */
  keys(): string[];
}

/**
 * Which events of a watch enqueue keys (predicates, as controller-runtime calls them). Each
 * returns whether the event can change what the controller decides; the cache is updated
 * either way. Default: every event.
 */
export interface WatchFilter<T> {
  add?(obj: T): boolean;
  update?(oldObj: T, newObj: T): boolean;
  delete?(obj: T): boolean;
}

/** Events of `informer` enqueue `keys(obj)` (default: the object's own namespace/name). */
export function watch<T extends KubeObject>(informer: Informer<T>, keys: (obj: T) => string[] = (o) => [keyOf(o)], filter: WatchFilter<T> = {}): Watch {
  return {
    informer,
    subscribe(enqueue) {
      informer.on({
        add: (o) => {
          if (filter.add?.(o) ?? true) keys(o).forEach(enqueue);
        },
        update: (a, b) => {
          if (!(filter.update?.(a, b) ?? true)) return;
          for (const k of new Set([...keys(a), ...keys(b)])) enqueue(k);
        },
        delete: (o) => {
          if (filter.delete?.(o) ?? true) keys(o).forEach(enqueue);
        },
      });
    },
    keys: () => informer.list().flatMap(keys),
  };
}

export interface ControllerContext extends ReconcileContext {
  /** Child logger with controller, key and reconcileID. */
  log: Logger;
}

export interface ControllerRegistration {
  /** Used in logs, metrics ("controller" label) and the queue name. */
  name: string;
  /** The first watch is the primary resource: its keys are reconciled at start and on every resync. */
  watches: [Watch, ...Watch[]];
  reconcile(ctx: ControllerContext): Promise<ReconcileResult>;
  /**
   * On a graceful stop, after the queue drained and before the lease is released: write what
   * the controller deferred (paced status writes), so the next leader finds nothing pending.
   * Bounded: `signal` aborts after FLUSH_MS. Not called when leadership was lost (another
   * replica may already lead).
   */
  flush?(signal: AbortSignal): Promise<void>;
  /** Reconcile every primary key this often even without events. Default 10 min; 0 = never. */
  resyncMs?: number;
  concurrency?: number;
  timeoutMs?: number;
}

export interface RegisteredController {
  name: string;
  queue: WorkQueue;
}

/** Something else the manager starts and stops (e.g. a self-contained controller). */
export interface Runnable {
  name: string;
  /** Start only on the leader (controllers); false for things every replica runs. */
  leaderOnly: boolean;
  start(signal: AbortSignal): Promise<void> | void;
  stop(): Promise<void>;
}

export interface ManagerOptions {
  client: KubeClient;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  /** Unique per process; shown as the lease holder and in Events. */
  identity: string;
  /** Absent: this process leads from the start (single replica, tests). */
  leaderElection?: LeaderElectionConfig | undefined;
  /** Called once if leadership is lost after being held; the process should exit. */
  onLostLeadership?: () => void;
  /** The lease's own client (a Transport lane); default `client`. */
  leaseClient?: KubeClient | undefined;
  /** Default for informers the manager creates. */
  namespaces?: readonly string[];
  watchdogMs?: number;
}

export type ManagerState = "idle" | "standby" | "leading" | "lost" | "stopped";

/** How long a graceful stop waits for controllers' flushes (ControllerRegistration.flush). */
export const FLUSH_MS = 5_000;

export class Manager {
  readonly client: KubeClient;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly identity: string;
  readonly queueMetrics: QueueMetrics;
  readonly informerMetrics: InformerMetrics;
  readonly recorder: EventRecorder;
  /** Informers shared between controllers, by name (see caches.ts). */
  readonly caches: SharedCaches;
  private readonly opts: ManagerOptions;
  private readonly informers: ManagedInformer[] = [];
  private readonly controllers: (RegisteredController & { reg: ControllerRegistration })[] = [];
  private readonly runnables: Runnable[] = [];
  private readonly resyncTimers: TimerHandle[] = [];
  private elector: LeaderElector | undefined;
  private stopController = new AbortController();
  private electionDone: Promise<void> | undefined;
  private leaderWork: Promise<void> | undefined;
  private stateValue: ManagerState = "idle";
  private resolveDone: ((why: "stopped" | "lost-leadership") => void) | undefined;
  /** Resolves when the manager stopped, saying why. */
  readonly done: Promise<"stopped" | "lost-leadership">;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.client = opts.client;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.registry = opts.registry;
    this.identity = opts.identity;
    this.queueMetrics = new QueueMetrics(opts.registry);
    this.informerMetrics = new InformerMetrics(opts.registry);
    this.recorder = new EventRecorder({ client: opts.client.as("hearth-events"), clock: opts.clock, logger: opts.logger, component: "hearth-operator", instance: opts.identity });
    this.caches = new SharedCaches((resource, o) => this.informer(resource, o));
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  get state(): ManagerState {
    return this.stateValue;
  }

  isLeader(): boolean {
    return this.stateValue === "leading";
  }

  /** A new informer with the manager's defaults (namespaces, watchdog, metrics), started with the manager. */
  informer<T extends KubeObject>(
    resource: ResourceType<T>,
    opts: { name?: string; labelSelector?: string; fieldSelector?: string; indexers?: Record<string, (obj: T) => string[]>; namespaces?: readonly string[]; client?: KubeClient } = {},
  ): Informer<T> {
    const inf = new Informer<T>({
      client: opts.client ?? this.client,
      resource,
      clock: this.clock,
      logger: this.logger,
      namespaces: opts.namespaces ?? this.opts.namespaces,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      ...(opts.indexers !== undefined ? { indexers: opts.indexers } : {}),
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(this.opts.watchdogMs !== undefined ? { watchdogMs: this.opts.watchdogMs } : {}),
      metrics: this.informerMetrics,
    });
    this.informers.push(inf);
    return inf;
  }

  /** Registers a controller: a work queue fed by its watches, reconciled on the leader. */
  register(reg: ControllerRegistration): RegisteredController {
    if (this.controllers.some((c) => c.name === reg.name)) throw new Error(`controller ${reg.name} is already registered`);
    const queue = new WorkQueue(
      {
        name: reg.name,
        clock: this.clock,
        logger: this.logger,
        concurrency: reg.concurrency ?? 8,
        timeoutMs: reg.timeoutMs ?? 60_000,
        metrics: this.queueMetrics,
      },
      (ctx) => reg.reconcile({ ...ctx, log: this.logger.child({ controller: reg.name, key: ctx.key, reconcileID: ctx.reconcileID }) }),
    );
    for (const w of reg.watches) {
      if (!this.informers.includes(w.informer)) this.informers.push(w.informer);
      w.subscribe((key) => queue.add(key));
    }
    const entry = { name: reg.name, queue, reg };
    this.controllers.push(entry);
    return { name: reg.name, queue };
  }

  /** The work queue of a registered controller (tests and diagnostics). */
  queue(name: string): WorkQueue | undefined {
    return this.controllers.find((c) => c.name === name)?.queue;
  }

  /** True while no controller has a reconcile queued or running (delayed requeues do not count). */
  idle(): boolean {
    return this.controllers.every((c) => c.queue.depth === 0 && c.queue.inFlight === 0);
  }

  add(r: Runnable): void {
    this.runnables.push(r);
  }

  /** All informers synced (what /readyz reports). */
  synced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  /** Starts informers and (when elected) the controllers. Returns at once; see `done`. */
  start(): void {
    if (this.stateValue !== "idle") throw new Error("manager already started");
    this.stateValue = "standby";
    const signal = this.stopController.signal;
    for (const i of this.informers) i.start();
    for (const r of this.runnables) if (!r.leaderOnly) void this.startRunnable(r, signal);
    const le = this.opts.leaderElection;
    if (le === undefined) {
      this.leaderWork = this.lead(signal);
      return;
    }
    this.elector = new LeaderElector({
      ...le,
      client: leaseClient((this.opts.leaseClient ?? this.client).as("hearth-leader-election")),
      clock: this.clock,
      logger: this.logger,
      registry: this.registry,
      onStartedLeading: () => {
        this.leaderWork = this.lead(signal);
      },
      onStoppedLeading: () => {
        // A release during our own shutdown is not a loss.
        if (this.stateValue !== "leading" || this.shuttingDown !== undefined) return;
        this.stateValue = "lost";
        this.logger.error("lost leadership: stopping controllers");
        void this.shutdown("lost-leadership");
      },
      onNewLeader: (id) => {
        if (id !== this.identity) this.logger.info({ leader: id }, "another replica leads; standing by");
      },
    });
    this.electionDone = this.elector.run(signal);
  }

  private async startRunnable(r: Runnable, signal: AbortSignal): Promise<void> {
    try {
      await r.start(signal);
    } catch (err) {
      if (!signal.aborted) this.logger.error({ err, runnable: r.name }, "runnable failed to start");
    }
  }

  private async lead(signal: AbortSignal): Promise<void> {
    this.stateValue = "leading";
    try {
      await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
    } catch {
      return;
    }
    if (signal.aborted || this.stateValue !== "leading") return;
    this.logger.info({ controllers: this.controllers.map((c) => c.name), informers: this.informers.length }, "caches synced; starting controllers");
    for (const c of this.controllers) {
      for (const k of c.reg.watches[0].keys()) c.queue.add(k);
      c.queue.start();
      const every = c.reg.resyncMs ?? 600_000;
      if (every > 0) {
        const tick = (): void => {
          if (signal.aborted) return;
          for (const k of c.reg.watches[0].keys()) c.queue.add(k);
          this.resyncTimers.push(this.clock.setTimer(every, tick));
        };
        this.resyncTimers.push(this.clock.setTimer(every, tick));
      }
    }
    for (const r of this.runnables) if (r.leaderOnly) void this.startRunnable(r, signal);
  }

  /** Graceful stop: drain reconciles, stop runnables, release the lease, stop informers. */
  async stop(): Promise<void> {
    await this.shutdown("stopped");
  }

  private shuttingDown: Promise<void> | undefined;

  /** Runs every controller's flush, at most FLUSH_MS in all. */
  private async flush(): Promise<void> {
    const flushing = this.controllers.filter((c) => c.reg.flush !== undefined);
    if (flushing.length === 0) return;
    const ac = new AbortController();
    const timer = this.clock.setTimer(FLUSH_MS, () => ac.abort(new Error(`flush exceeded ${FLUSH_MS} ms`)));
    const results = await Promise.allSettled(flushing.map(async (c) => c.reg.flush?.(ac.signal)));
    timer.cancel();
    results.forEach((r, i) => {
      if (r.status === "rejected") this.logger.warn({ err: r.reason, controller: flushing[i]?.name }, "flush before stopping failed");
    });
  }

  private shutdown(why: "stopped" | "lost-leadership"): Promise<void> {
    this.shuttingDown ??= (async () => {
      for (const t of this.resyncTimers.splice(0)) t.cancel();
      await Promise.allSettled(this.controllers.map((c) => c.queue.shutdown(10_000)));
      if (why === "stopped" && this.stateValue === "leading") await this.flush();
      await Promise.allSettled(this.runnables.map((r) => r.stop()));
      await this.recorder.flush();
      // Aborting the election's signal makes a leader release its lease (standbys just stop).
      this.stopController.abort(new Error("manager stopping"));
      await this.electionDone;
      await this.leaderWork;
      await Promise.allSettled(this.informers.map((i) => i.stop()));
      this.stateValue = why === "lost-leadership" ? "lost" : "stopped";
      if (why === "lost-leadership") this.opts.onLostLeadership?.();
      this.resolveDone?.(why);
    })();
    return this.shuttingDown;
  }
}
