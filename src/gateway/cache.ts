// The result cache of `cacheable: true` Functions (docs/workflows.md, Caching): the same
// Function identity (its behaviour-changing spec fields, registry.ts) and the same input bytes
// give the stored output without running anything. Bounded by bytes and age; kept in the task
// store (table cache_entries, same writer) so a restarted gateway keeps its hits. Only
// successful outputs are stored. Direct calls (server.ts) and workflow steps (the executor)
// both submit through submit() here.
import { createHash } from "node:crypto";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Encoding } from "../protocol/index.ts";
import type { Clock } from "../kube/clock.ts";
import { OldestKey } from "./oldest-key.ts";
import type { FunctionSettings } from "./registry.ts";
import type { TaskStore } from "./store.ts";
import type { SubmitOptions, Task, TaskEngine } from "./tasks.ts";

export interface CacheConfig {
  /** Total bytes of stored outputs; the oldest entries go first. Default 256 MiB; 0 = no cache. */
  maxBytes: number;
  /** Entries older than this are not used. Default 1 h. */
  ttlMs: number;
}

export const DEFAULT_CACHE: CacheConfig = { maxBytes: 256 * 1024 * 1024, ttlMs: 3_600_000 };

interface Entry {
  output: string;
  createdAt: number;
  fn: string;
}

export class ResultCache {
  private readonly config: CacheConfig;
  private readonly store: TaskStore;
  private readonly clock: Clock;
  private readonly engine: TaskEngine;
  /** In insertion (= age) order: the first is the oldest. */
  private readonly entries = new Map<string, Entry>();
  /** The least recently used entry, without Map.keys().next()'s walk (oldest-key.ts). */
  private readonly oldest = new OldestKey(this.entries);
  private bytes = 0;
  private readonly requests: Counter<"namespace" | "function" | "result">;

  constructor(opts: { config?: Partial<CacheConfig>; store: TaskStore; clock: Clock; engine: TaskEngine; registry: Registry }) {
    this.config = { ...DEFAULT_CACHE, ...opts.config };
    this.store = opts.store;
    this.clock = opts.clock;
    this.engine = opts.engine;
    this.requests = new Counter({
      name: "hearth_gateway_cache_requests_total",
      help: "Calls of cacheable Functions by result: hit (answered from the cache, nothing ran) or miss.",
      labelNames: ["namespace", "function", "result"],
      registers: [opts.registry],
    });
    const bytes = (): number => this.bytes;
    new Gauge({
      name: "hearth_gateway_cache_bytes",
      help: "Bytes of outputs held by the result cache.",
      registers: [opts.registry],
      collect() {
        this.set(bytes());
      },
    });
  }

  /** Loads the stored entries still within the TTL (newest kept when over the size bound). */
  load(): number {
    const cutoff = this.clock.now() - this.config.ttlMs;
    const rows = this.store.query("SELECT key, function, output, created_at FROM cache_entries WHERE created_at >= ? ORDER BY created_at", cutoff);
    for (const r of rows) this.remember(String(r["key"]), { output: String(r["output"]), createdAt: Number(r["created_at"]), fn: String(r["function"]) }, false);
    this.purgeStale(cutoff);
    return this.entries.size;
  }

  /**
   * Submits a call: a hit becomes a task that is already done (`cached: true`); a miss is queued
   * as usual and its output stored once it succeeds. Keyed calls (Idempotency-Key) always go
   * through the engine, so that a key keeps naming exactly one task.
   */
  async submit(fn: FunctionSettings, input: string, encoding: Encoding, opts: SubmitOptions = {}): Promise<{ task: Task; repeat: boolean }> {
    const key = this.keyOf(fn, encoding, input);
    if (key === undefined) return this.engine.submit(fn, input, encoding, opts);
    if (opts.idempotencyKey === undefined) {
      const hit = this.hit(fn, key, input, encoding);
      if (hit !== undefined) return { task: hit, repeat: false };
    }
    const r = await this.engine.submit(fn, input, encoding, opts);
    if (!r.repeat) this.miss(fn, key, r.task);
    return r;
  }

  /** The same for a workflow step: synchronous, staged with the run's rows (engine.submitStep). */
  submitStep(fn: FunctionSettings, input: string, encoding: Encoding): Task {
    const key = this.keyOf(fn, encoding, input);
    if (key === undefined) return this.engine.submitStep(fn, input, encoding);
    const hit = this.hit(fn, key, input, encoding);
    if (hit !== undefined) return hit;
    const task = this.engine.submitStep(fn, input, encoding);
    this.miss(fn, key, task);
    return task;
  }

  private keyOf(fn: FunctionSettings, encoding: Encoding, input: string): string | undefined {
    return fn.cache === undefined || this.config.maxBytes <= 0 ? undefined : cacheKey(fn.cache.identity, encoding, input);
  }

  private hit(fn: FunctionSettings, key: string, input: string, encoding: Encoding): Task | undefined {
    const output = this.lookup(key);
    if (output === undefined) return undefined;
    this.count(fn, "hit");
    return this.engine.submitCached(fn, input, encoding, output);
  }

  private miss(fn: FunctionSettings, key: string, task: Task): void {
    this.count(fn, "miss");
    this.storeWhenDone(task, key, fn);
  }

  private count(fn: FunctionSettings, result: "hit" | "miss"): void {
    this.requests.inc({ namespace: fn.namespace, function: fn.name, result });
  }

  private storeWhenDone(task: Task, key: string, fn: FunctionSettings): void {
    const unsubscribe = this.engine.subscribe(task.id, (ev) => {
      if (ev.type !== "done") return;
      unsubscribe();
      if (ev.task.status === "succeeded" && ev.task.output !== null) this.put(key, ev.task.output, `${fn.namespace}/${fn.name}`);
    });
  }

  private lookup(key: string): string | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (this.clock.now() - e.createdAt > this.config.ttlMs) {
      this.drop(key);
      return undefined;
    }
    return e.output;
  }

  private put(key: string, output: string, fn: string): void {
    if (output.length > this.config.maxBytes) return;
    const entry = { output, createdAt: this.clock.now(), fn };
    this.remember(key, entry, true);
  }

  private remember(key: string, entry: Entry, save: boolean): void {
    if (this.entries.has(key)) this.drop(key);
    this.entries.set(key, entry);
    this.bytes += entry.output.length;
    if (save) this.store.saveExtra("cache_entries", key, () => [key, entry.fn, entry.output, entry.output.length, entry.createdAt]);
    while (this.bytes > this.config.maxBytes) {
      const oldest = this.oldest.next();
      if (oldest === undefined) break;
      this.drop(oldest);
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.bytes -= e.output.length;
    this.store.saveExtra("cache_entries", key, () => null);
  }

  private purgeStale(cutoff: number): void {
    for (const r of this.store.query("SELECT key FROM cache_entries WHERE created_at < ?", cutoff)) this.store.saveExtra("cache_entries", String(r["key"]), () => null);
  }

  /** Drops expired entries (called from the gateway's periodic tick). */
  expire(): void {
    const cutoff = this.clock.now() - this.config.ttlMs;
    for (const [key, e] of this.entries) {
      if (e.createdAt >= cutoff) break;
      this.drop(key);
    }
  }
}

export function cacheKey(identity: string, encoding: Encoding, input: string): string {
  return createHash("sha256").update(identity).update("\u0000").update(encoding).update("\u0000").update(input).digest("base64url");
}
