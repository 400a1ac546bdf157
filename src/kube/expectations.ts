// Cache-lag bookkeeping: a controller's own writes come back through its informer a moment
// later, and until then a reconcile reads a cache that does not show them. Expectations remember
// what was written (a fingerprint per key) and when, on the injected clock, so that a reconcile
// within `ttlMs` does not write the same thing again; past the TTL the cache is trusted again (a
// write that was lost is repeated). One helper instead of a hand-rolled map per controller.
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
