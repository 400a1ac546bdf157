// A list-watch cache. Lists (paged), then watches from the list's resourceVersion with
// bookmarks; re-watches from the last seen version when a watch ends, relists on 410 Gone, and
// a watchdog restarts watches that went silent (a half-open TCP connection never errors).
// Objects are parsed by the resource's schema on the way in (its hand-written view when it has
// one: src/kube/views.ts), so the cache holds only the fields controllers read. Handlers run synchronously and should only enqueue keys.
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock, TimerHandle } from "./clock.ts";
import type { KubeClient } from "./client.ts";
import { describeStatus, isGone, toStatus } from "./errors.ts";
import { sharedStrings, type StringInterner } from "./intern.ts";
import { keyOf, type KubeObject } from "./objects.ts";
import { backoffDelay } from "./ratelimit.ts";
import { parseObject, type ResourceType } from "./resources.ts";

export interface EventHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

/** Metrics shared by every informer of one registry (prom-client names are per registry). */
export class InformerMetrics {
  readonly events: Counter<"resource" | "type">;
  readonly relists: Counter<"resource" | "cause">;
  readonly watchRestarts: Counter<"resource" | "cause">;
  readonly objects: Gauge<"resource">;

  constructor(registry: Registry) {
    this.events = new Counter({ name: "hearth_informer_events_total", help: "Watch events received.", labelNames: ["resource", "type"], registers: [registry] });
    this.relists = new Counter({ name: "hearth_informer_lists_total", help: "Full lists (initial, after 410 Gone, after errors).", labelNames: ["resource", "cause"], registers: [registry] });
    this.watchRestarts = new Counter({
      name: "hearth_informer_watch_restarts_total",
      help: "Watches restarted (server timeout, error, watchdog).",
      labelNames: ["resource", "cause"],
      registers: [registry],
    });
    this.objects = new Gauge({ name: "hearth_informer_objects", help: "Objects in the informer cache.", labelNames: ["resource"], registers: [registry] });
  }
}

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  resource: ResourceType<T>;
  clock: Clock;
  logger: Logger;
  /** Namespaces to watch; absent or empty = all namespaces (one cluster-wide watch). */
  namespaces?: readonly string[] | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Secondary indexes: name → function giving the index values of an object. */
  indexers?: Record<string, (obj: T) => string[]>;
  /** Restart a watch that delivered nothing (not even a bookmark) for this long. Default 3 min. */
  watchdogMs?: number;
  /** Server-side watch timeout, randomised ±50% so watches do not all reconnect at once. Default 300 s. */
  watchTimeoutSeconds?: number;
  metrics?: InformerMetrics | undefined;
  /** Shares repeated string values of cached objects (intern.ts); default the process-wide interner, false: none. */
  interner?: StringInterner | false;
  /** Label for logs and metrics; default the resource plural. */
  name?: string;
}

interface Scope {
  namespace: string | undefined;
  synced: boolean;
  controller: AbortController | undefined;
  lastSeen: number;
}

export class Informer<T extends KubeObject> {
  private readonly opts: InformerOptions<T>;
  private readonly cache = new Map<string, T>();
  /** Index name → value → the keys of the objects with that value: one key as is, more in a Set (most values have one object). */
  private readonly indexes = new Map<string, Map<string, string | Set<string>>>();
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly scopes: Scope[];
  private readonly name: string;
  private readonly log: Logger;
  private stopped = true;
  private stopSignal = new AbortController();
  private loops: Promise<void>[] = [];
  private watchdog: TimerHandle | undefined;
  private syncWaiters: (() => void)[] = [];

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.name = opts.name ?? opts.resource.plural;
    this.log = opts.logger.child({ informer: this.name });
    const ns = opts.namespaces !== undefined && opts.namespaces.length > 0 && opts.resource.namespaced ? [...new Set(opts.namespaces)] : [undefined];
    this.scopes = ns.map((namespace) => ({ namespace, synced: false, controller: undefined, lastSeen: 0 }));
    for (const idx of Object.keys(opts.indexers ?? {})) this.indexes.set(idx, new Map());
  }

  get resource(): ResourceType<T> {
    return this.opts.resource;
  }

  /** Registers handlers; objects already cached are replayed as adds. */
  on(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    for (const obj of this.cache.values()) handlers.add?.(obj);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopSignal = new AbortController();
    this.loops = this.scopes.map((s) => this.run(s));
    const every = Math.max(1000, Math.floor(this.watchdogMs() / 4));
    const check = (): void => {
      const now = this.opts.clock.now();
      for (const s of this.scopes) {
        if (s.controller !== undefined && s.lastSeen > 0 && now - s.lastSeen > this.watchdogMs()) {
          this.log.warn({ namespace: s.namespace, silentMs: now - s.lastSeen }, "watch silent too long; restarting it");
          this.opts.metrics?.watchRestarts.inc({ resource: this.name, cause: "watchdog" });
          s.controller.abort(new Error("watchdog"));
        }
      }
      if (!this.stopped) this.watchdog = this.opts.clock.setTimer(every, check);
    };
    this.watchdog = this.opts.clock.setTimer(every, check);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort(new Error("informer stopped"));
    this.watchdog?.cancel();
    for (const s of this.scopes) s.controller?.abort(new Error("informer stopped"));
    await Promise.allSettled(this.loops);
    for (const w of this.syncWaiters.splice(0)) w();
  }

  hasSynced(): boolean {
    return this.scopes.every((s) => s.synced);
  }

  /** Resolves once every namespace was listed (or the informer stopped, or the signal aborted). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.hasSynced() || this.stopped) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace !== undefined && namespace !== "" ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  get size(): number {
    return this.cache.size;
  }

  /** Objects whose indexer `index` yields `value`. */
  byIndex(index: string, value: string): T[] {
    const keys = this.indexes.get(index)?.get(value);
    if (keys === undefined) return [];
    if (typeof keys === "string") {
      const o = this.cache.get(keys);
      return o === undefined ? [] : [o];
    }
    const out: T[] = [];
    for (const k of keys) {
      const o = this.cache.get(k);
      if (o !== undefined) out.push(o);
    }
    return out;
  }

  private watchdogMs(): number {
    return this.opts.watchdogMs ?? 180_000;
  }

  private async run(scope: Scope): Promise<void> {
    let resourceVersion: string | undefined;
    let failures = 0;
    let listCause = "initial";
    while (!this.stopped) {
      try {
        if (resourceVersion === undefined) {
          const res = await this.opts.client.list(this.opts.resource, {
            namespace: scope.namespace,
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            signal: this.stopSignal.signal,
          });
          this.opts.metrics?.relists.inc({ resource: this.name, cause: listCause });
          for (const bad of res.invalid) this.log.warn({ object: bad.name, error: bad.error }, "ignoring an object that does not match the schema");
          this.replace(scope.namespace, res.items);
          resourceVersion = res.resourceVersion;
          if (!scope.synced) {
            scope.synced = true;
            if (this.hasSynced()) for (const w of this.syncWaiters.splice(0)) w();
          }
        }
        scope.controller = new AbortController();
        const watchSignal = AbortSignal.any([scope.controller.signal, this.stopSignal.signal]);
        scope.lastSeen = this.opts.clock.now();
        const base = this.opts.watchTimeoutSeconds ?? 300;
        const rv: string = resourceVersion;
        let latest = rv;
        await this.opts.client.watch(
          this.opts.resource,
          {
            namespace: scope.namespace,
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            resourceVersion: rv,
            timeoutSeconds: Math.round(base * (0.5 + Math.random())),
            signal: watchSignal,
          },
          (type, raw) => {
            scope.lastSeen = this.opts.clock.now();
            failures = 0;
            const next = this.handleEvent(type, raw);
            if (next !== undefined) latest = next;
          },
        );
        resourceVersion = latest;
        this.opts.metrics?.watchRestarts.inc({ resource: this.name, cause: "closed" });
      } catch (err) {
        if (this.stopped) break;
        const s = toStatus(err);
        if (isGone(err)) {
          this.log.info({ namespace: scope.namespace }, "resource version too old (410); relisting");
          resourceVersion = undefined;
          listCause = "gone";
          continue;
        }
        if (scope.controller?.signal.aborted === true) continue; // watchdog: re-watch from where we were
        failures++;
        const delay = backoffDelay(failures, { baseMs: 200, maxMs: 30_000 });
        this.opts.metrics?.watchRestarts.inc({ resource: this.name, cause: "error" });
        this.log.warn({ namespace: scope.namespace, error: describeStatus(s), retryInMs: delay }, "list/watch failed");
        if (failures > 3) {
          resourceVersion = undefined;
          listCause = "error";
        }
        try {
          await this.opts.clock.sleep(delay, this.stopSignal.signal);
        } catch {
          break;
        }
      } finally {
        scope.controller = undefined;
      }
    }
  }

  /** Applies one watch event to the cache; returns the resourceVersion it carried. */
  private handleEvent(type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK", raw: unknown): string | undefined {
    const rv = rawResourceVersion(raw);
    this.opts.metrics?.events.inc({ resource: this.name, type });
    if (type === "BOOKMARK") return rv;
    const parsed = parseObject(this.opts.resource, raw);
    if (!parsed.ok) {
      const key = rawKey(raw);
      this.log.warn({ object: key, error: parsed.error }, "ignoring an object that does not match the schema");
      const old = key !== undefined ? this.cache.get(key) : undefined;
      if (old !== undefined && key !== undefined) this.remove(key, old);
      return rv;
    }
    const obj = parsed.value;
    const key = keyOf(obj);
    if (type === "DELETED") {
      const old = this.cache.get(key);
      this.remove(key, old ?? obj);
    } else {
      this.upsert(key, obj);
    }
    return rv;
  }

  /** Shares the repeated string values of an object about to be cached (in place). */
  private intern(obj: T): T {
    const interner = this.opts.interner ?? sharedStrings;
    return interner === false ? obj : interner.values(obj);
  }

  private upsert(key: string, fresh: T): void {
    const old = this.cache.get(key);
    if (old !== undefined && old.metadata.resourceVersion === fresh.metadata.resourceVersion) return;
    if (old !== undefined) this.unindex(key, old);
    // Interned here, once, for what is cached: not for an unchanged object a relist brings again.
    const obj = this.intern(fresh);
    this.cache.set(key, obj);
    this.index(key, obj);
    this.opts.metrics?.objects.set({ resource: this.name }, this.cache.size);
    for (const h of this.handlers) {
      try {
        if (old === undefined) h.add?.(obj);
        else h.update?.(old, obj);
      } catch (err) {
        this.log.error({ err, key }, "event handler threw");
      }
    }
  }

  private remove(key: string, last: T): void {
    const had = this.cache.get(key);
    if (had === undefined) return;
    this.unindex(key, had);
    this.cache.delete(key);
    this.opts.metrics?.objects.set({ resource: this.name }, this.cache.size);
    for (const h of this.handlers) {
      try {
        h.delete?.(last);
      } catch (err) {
        this.log.error({ err, key }, "event handler threw");
      }
    }
  }

  /** A fresh list of one scope: adds, updates and deletes whatever changed while we were not watching. */
  private replace(namespace: string | undefined, items: T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      this.upsert(key, obj);
    }
    for (const [key, obj] of [...this.cache]) {
      if (seen.has(key)) continue;
      if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
      this.remove(key, obj);
    }
  }

  private index(key: string, obj: T): void {
    for (const [name, fn] of Object.entries(this.opts.indexers ?? {})) {
      const idx = this.indexes.get(name);
      if (idx === undefined) continue;
      for (const v of fn(obj)) {
        const keys = idx.get(v);
        if (keys === undefined) idx.set(v, key);
        else if (typeof keys === "string") {
          if (keys !== key) idx.set(v, new Set([keys, key]));
        } else keys.add(key);
      }
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of Object.entries(this.opts.indexers ?? {})) {
      const idx = this.indexes.get(name);
      if (idx === undefined) continue;
      for (const v of fn(obj)) {
        const keys = idx.get(v);
        if (keys === key) idx.delete(v);
        else if (typeof keys === "object") {
          keys.delete(key);
          if (keys.size === 1) idx.set(v, keys.values().next().value ?? "");
          else if (keys.size === 0) idx.delete(v);
        }
      }
    }
  }
}

function rawMeta(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== "object" || raw === null || !("metadata" in raw)) return undefined;
  const m = raw.metadata;
  return typeof m === "object" && m !== null ? (m as Record<string, unknown>) : undefined;
}

function rawResourceVersion(raw: unknown): string | undefined {
  const rv = rawMeta(raw)?.["resourceVersion"];
  return typeof rv === "string" ? rv : undefined;
}

function rawKey(raw: unknown): string | undefined {
  const m = rawMeta(raw);
  const name = m?.["name"];
  const ns = m?.["namespace"];
  if (typeof name !== "string") return undefined;
  return typeof ns === "string" && ns !== "" ? `${ns}/${name}` : name;
}
