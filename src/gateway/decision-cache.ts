// A bounded cache of review decisions with a TTL per entry (as kube-rbac-proxy and the
// apiserver's webhook authorizer keep theirs): a burst of calls from one identity costs one
// TokenReview and one SubjectAccessReview, and an RBAC change takes effect within the TTL.
// Lookups of the same key that arrive while its review is in flight share that review.
import type { Clock } from "../kube/clock.ts";
import { OldestKey } from "./oldest-key.ts";

interface Entry<V> {
  value: V;
  expires: number;
}

export class DecisionCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** The least recently used entry (hits re-insert theirs), without Map.keys().next()'s walk (oldest-key.ts). */
  private readonly oldest = new OldestKey(this.entries);
  private readonly pending = new Map<string, Promise<V>>();
  private readonly clock: Clock;
  private readonly maxEntries: number;
  private readonly ttlOf: (value: V) => number;

  /** `ttlOf(value)` in ms: allowed and denied decisions usually live for different times. */
  constructor(opts: { clock: Clock; maxEntries: number; ttlOf: (value: V) => number }) {
    this.clock = opts.clock;
    this.maxEntries = opts.maxEntries;
    this.ttlOf = opts.ttlOf;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached value of `key`, or `review()`'s (which is then kept). A failed review is not kept. */
  get(key: string, review: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      if (hit.expires > this.clock.now()) {
        // Map order is insertion order: re-inserting makes this the most recently used.
        this.entries.delete(key);
        this.entries.set(key, hit);
        return Promise.resolve(hit.value);
      }
      this.entries.delete(key);
    }
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const p = review().then(
      (value) => {
        this.pending.delete(key);
        this.put(key, value);
        return value;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, p);
    return p;
  }

  clear(): void {
    this.entries.clear();
  }

  /** Forgets every kept value `matches` (a scan: for rare events, such as a pod's deletion); returns how many. */
  deleteWhere(matches: (value: V) => boolean): number {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (!matches(e.value)) continue;
      this.entries.delete(key);
      n++;
    }
    return n;
  }

  private put(key: string, value: V): void {
    const ttl = this.ttlOf(value);
    if (ttl <= 0 || this.maxEntries <= 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.oldest.next();
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: this.clock.now() + ttl });
  }
}
