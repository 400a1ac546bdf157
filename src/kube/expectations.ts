// Cache-lag bookkeeping: a controller's own writes come back through its informer a moment
// later, and until then a reconcile reads a cache that does not show them. Expectations remember
// what was written and when, on the injected clock, so that a reconcile within `ttlMs` does not
// write the same thing again; past the TTL the cache is trusted again (a write that was lost is
// repeated). One module instead of a hand-rolled map per controller:
// - WriteExpectations: a fingerprint per key — "did I already write exactly this?" (Function controller);
// - WrittenState: the written value itself, to plan from while the cache lags, and when each key
//   was last written (Job controller: its status, the debounce);
// - Tombstones: deleted objects' last states, until the controller recorded them (Job controller: pods).
import type { Clock } from "./clock.ts";

export const DEFAULT_EXPECTATION_TTL_MS = 30_000;

export class WriteExpectations {
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly written = new Map<string, { fingerprint: string; at: number }>();

  constructor(clock: Clock, ttlMs = DEFAULT_EXPECTATION_TTL_MS) {
    this.clock = clock;
    this.ttlMs = ttlMs;
  }

  /** True when exactly `fingerprint` was written for `key` less than the TTL ago: skip the write. */
  satisfied(key: string, fingerprint: string): boolean {
    const w = this.written.get(key);
    if (w === undefined) return false;
    if (this.clock.now() - w.at >= this.ttlMs) {
      this.written.delete(key);
      return false;
    }
    return w.fingerprint === fingerprint;
  }

  /** Records a write that succeeded. */
  wrote(key: string, fingerprint: string): void {
    this.written.set(key, { fingerprint, at: this.clock.now() });
  }

  /** The object is gone, or the next write must happen whatever was written before. */
  forget(key: string): void {
    this.written.delete(key);
  }

  get size(): number {
    return this.written.size;
  }
}

/**
 * The last state this controller wrote per key (a status, say), until its informer shows it. A
 * reconcile in between plans from `current(key, cached)` — what was written, not the stale cache —
 * so it neither writes the same thing again nor announces the same transition twice. Past the TTL
 * the cache is trusted again. When each key was last written is kept beyond that, until
 * `forget`: a controller that debounces its writes reads it.
 */
export class WrittenState<V> {
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly equal: (a: V, b: V) => boolean;
  private readonly entries = new Map<string, { value?: { v: V }; at: number }>();

  constructor(clock: Clock, equal: (a: V, b: V) => boolean, ttlMs = DEFAULT_EXPECTATION_TTL_MS) {
    this.clock = clock;
    this.equal = equal;
    this.ttlMs = ttlMs;
  }

  /** Records a write that succeeded: `value` as the server returned it. */
  wrote(key: string, value: V): void {
    this.entries.set(key, { value: { v: value }, at: this.clock.now() });
  }

  /**
   * Records a write about to be sent, so that its watch event, which can arrive before the
   * response does, is recognised as its echo. Then either `done` with the value as the server
   * returned it, or `failed`: what was recorded for `key` before comes back. Either does nothing
   * once the entry was replaced or forgotten meanwhile (its echo showed the end, say).
   */
  writing(key: string, value: V): { done(stored: V): void; failed(): void } {
    const before = this.entries.get(key);
    const entry: { value?: { v: V }; at: number } = { value: { v: value }, at: this.clock.now() };
    this.entries.set(key, entry);
    const mine = (): boolean => this.entries.get(key) === entry;
    return {
      done: (stored) => {
        if (mine() && entry.value !== undefined) entry.value = { v: stored };
      },
      failed: () => {
        if (!mine()) return;
        if (before === undefined) this.entries.delete(key);
        else this.entries.set(key, before);
      },
    };
  }

  /** Records that something was written for `key` now (for `lastWriteAt`) unless something already was. */
  touch(key: string): void {
    if (!this.entries.has(key)) this.entries.set(key, { at: this.clock.now() });
  }

  /** What to plan from: the written value while the cache does not show it (within the TTL), else `cached`. */
  current(key: string, cached: V): V {
    const e = this.entries.get(key);
    const w = e?.value;
    if (e === undefined || w === undefined) return cached;
    if (this.equal(w.v, cached) || this.clock.now() - e.at >= this.ttlMs) {
      delete e.value;
      return cached;
    }
    return w.v;
  }

  /**
   * True when `value` is what was last written for `key` and the cache has not shown it yet: an
   * informer event carrying it is the echo of that write (a watch filter may skip it).
   */
  isEcho(key: string, value: V): boolean {
    const w = this.entries.get(key)?.value;
    return w !== undefined && this.equal(w.v, value);
  }

  /** Clock ms of the last write (or touch) of `key`; undefined: none since it was forgotten. */
  lastWriteAt(key: string): number | undefined {
    return this.entries.get(key)?.at;
  }

  /** The object is gone or needs nothing more from this helper. */
  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Last states of objects deleted before the controller recorded what they showed, per key and
 * object name ("tombstones": a pod that ended and was removed within milliseconds, before any
 * reconcile read the cache). Kept until `drop`ped (the controller recorded them) or `forget`.
 * After a restart they are gone: the controller must cope with that.
 */
export class Tombstones<T> {
  private readonly byKey = new Map<string, Map<string, T>>();

  record(key: string, name: string, obj: T): void {
    let dead = this.byKey.get(key);
    if (dead === undefined) this.byKey.set(key, (dead = new Map<string, T>()));
    dead.set(name, obj);
  }

  /** The recorded objects of `key` whose names are not in `live`. */
  of(key: string, live: ReadonlySet<string> = new Set()): T[] {
    const dead = this.byKey.get(key);
    if (dead === undefined) return [];
    return [...dead].filter(([name]) => !live.has(name)).map(([, obj]) => obj);
  }

  /** Drops the named objects of `key` (recorded elsewhere now). */
  drop(key: string, names: Iterable<string>): void {
    const dead = this.byKey.get(key);
    if (dead === undefined) return;
    for (const n of names) dead.delete(n);
    if (dead.size === 0) this.byKey.delete(key);
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }

  get size(): number {
    return this.byKey.size;
  }
}
