// The demand stream (docs/protocol.md, GET /v1/demand): per-Function queued and in-flight tasks,
// ready and busy workers and the last cold start, pushed to the operator's autoscaler as they
// change. The engine reports changes (tasks.ts onChange); they are coalesced per event-loop turn,
// so a burst of 500 pushes is one message, and a spike reaches the operator within milliseconds.
import type { Clock } from "../kube/clock.ts";
import type { FunctionStats } from "../protocol/stats.ts";
import type { DemandChange } from "./tasks.ts";

export interface ColdStart {
  seconds: number;
  /** RFC 3339: when the first lease ended the cold start. */
  time: string;
}

/** One Function's demand as the stream sends it. */
export interface FunctionDemand {
  namespace: string;
  name: string;
  queued: number;
  inflight: number;
  readyWorkers: number;
  busyWorkers: number;
  /** Worker ids (pod names) holding a task: the autoscaler never removes these on scale-down. */
  busy: string[];
  /** A call waits with no ready worker (a cold start in progress). */
  coldStarting: boolean;
  lastColdStart?: ColdStart;
}

export interface DemandSource {
  allStats(): { namespace: string; name: string; stats: FunctionStats }[];
  stats(namespace: string, name: string): FunctionStats;
  busyWorkerIds(namespace: string, name: string): string[];
}

export interface DemandHubOptions {
  source: DemandSource;
  clock: Clock;
  /** Cold starts, for the histogram. */
  onColdStart?: (namespace: string, name: string, seconds: number) => void;
}

export type DemandListener = (changed: FunctionDemand[]) => void;

function split(key: string): [string, string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}

export class DemandHub {
  private readonly o: DemandHubOptions;
  private readonly listeners = new Set<DemandListener>();
  private readonly dirty = new Set<string>();
  /** Function key → when its cold start began (a task queued while no worker was ready). */
  private readonly coldSince = new Map<string, number>();
  private readonly lastCold = new Map<string, ColdStart>();
  private flushScheduled = false;

  constructor(opts: DemandHubOptions) {
    this.o = opts;
  }

  /** The engine's hook: cheap, called on the hot path. */
  changed(key: string, what: DemandChange): void {
    if (what === "queue" && !this.coldSince.has(key)) {
      const [ns, name] = split(key);
      const s = this.o.source.stats(ns, name);
      if (s.queueDepth > 0 && s.warmWorkers === 0 && s.inFlight === 0) this.coldSince.set(key, this.o.clock.now());
    } else if (what === "lease") {
      const began = this.coldSince.get(key);
      if (began !== undefined) {
        this.coldSince.delete(key);
        const now = this.o.clock.now();
        const seconds = Math.max(0, now - began) / 1000;
        this.lastCold.set(key, { seconds, time: new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z") });
        const [ns, name] = split(key);
        this.o.onColdStart?.(ns, name, seconds);
      }
    }
    if (this.listeners.size === 0) return;
    this.dirty.add(key);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const keys = [...this.dirty];
    this.dirty.clear();
    // A queue that emptied without a lease (cancelled) ends its cold start unrecorded.
    for (const key of keys) {
      if (!this.coldSince.has(key)) continue;
      const [ns, name] = split(key);
      if (this.o.source.stats(ns, name).queueDepth === 0) this.coldSince.delete(key);
    }
    if (keys.length === 0) return;
    const changed = keys.map((k) => this.demandOf(...split(k)));
    for (const l of [...this.listeners]) l(changed);
  }

  demandOf(namespace: string, name: string): FunctionDemand {
    const key = `${namespace}/${name}`;
    const s = this.o.source.stats(namespace, name);
    const d: FunctionDemand = {
      namespace,
      name,
      queued: s.queueDepth,
      inflight: s.inFlight,
      readyWorkers: s.warmWorkers,
      busyWorkers: s.busyWorkers,
      busy: s.busyWorkers > 0 ? this.o.source.busyWorkerIds(namespace, name) : [],
      coldStarting: this.coldSince.has(key),
    };
    const cold = this.lastCold.get(key);
    if (cold !== undefined) d.lastColdStart = cold;
    return d;
  }

  /** Every Function the gateway has a queue for (the first message of a stream). */
  snapshot(): FunctionDemand[] {
    return this.o.source.allStats().map((f) => this.demandOf(f.namespace, f.name));
  }

  subscribe(listener: DemandListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
