// Gives memory back after a burst. A burst of work (a mass apply, a full relist at start-up)
// grows V8's heap to several times what stays live; V8 keeps the emptied pages (heap slack and
// its page pool) until a memory-reducing GC, and its own memory reducer only starts one while the
// allocation rate is low — an operator with thousands of cached objects, watches and a lease to
// renew never drops under that rate, so the pages stayed resident (bench/reconcile: V8 heap
// 108 MiB committed for 47 MiB live at 5,000 Functions). When every controller has been idle
// for a while after the process grew, this runs one memory-reducing full GC (compacting, and
// releasing the pooled pages). README "Operator sizing".
// With the optional malloc_trim addon (malloc-trim.ts) it also gives malloc's free pages back:
// after each reclaim, and every `trimSeconds` while busy (a burst's peak is what a memory limit
// must fit, and the operator may stay busy for minutes while thousands of pods start).
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { every, type Clock, type TimerHandle } from "../kube/clock.ts";
import type { MallocTrim } from "./malloc-trim.ts";

export interface ReclaimSettings {
  /** Idle this long (no reconcile queued or running) before reclaiming. 0 = never reclaim. */
  idleSeconds: number;
  /** Reclaim only when the RSS grew by at least this much since the last reclaim (or start). */
  minGrowthBytes: number;
}

export interface ReclaimState {
  /** When the current idle stretch began; undefined while busy. */
  idleSince: number | undefined;
  /** RSS right after the last reclaim (or at start). */
  baselineRss: number;
}

/** Pure: the next state, and whether to reclaim now. */
export function planReclaim(state: ReclaimState, sample: { now: number; idle: boolean; rss: number }, settings: ReclaimSettings): { state: ReclaimState; reclaim: boolean } {
  if (settings.idleSeconds <= 0) return { state, reclaim: false };
  if (!sample.idle) return { state: { ...state, idleSince: undefined }, reclaim: false };
  const idleSince = state.idleSince ?? sample.now;
  const reclaim = sample.now - idleSince >= settings.idleSeconds * 1000 && sample.rss - state.baselineRss >= settings.minGrowthBytes;
  return { state: { ...state, idleSince }, reclaim };
}

/** Pure: whether a malloc_trim is due (`trimSeconds` 0 = only after a reclaim). */
export function trimDue(lastTrimAt: number, now: number, trimSeconds: number): boolean {
  return trimSeconds > 0 && now - lastTrimAt >= trimSeconds * 1000;
}

/** A memory-reducing full GC: V8's `gc({flavor: "last-resort"})` (compacts, releases pooled pages). */
export type ReclaimGc = () => void;

/**
 * The gc extension of V8, installed without starting node with --expose-gc (a code-generation
 * flag would miss the image's compile cache): the flag is set once modules are loaded, and only
 * contexts made afterwards get `gc`.
 */
export function v8ReclaimGc(): ReclaimGc {
  let gc: ((opts: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void) | undefined;
  return () => {
    if (gc === undefined) {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as typeof gc;
    }
    gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  };
}

export interface MemoryReclaimerOptions {
  clock: Clock;
  logger: Logger;
  registry?: Registry;
  settings: ReclaimSettings;
  /** True while no controller has work queued or running. */
  idle: () => boolean;
  /** Resident set size in bytes (default process.memoryUsage.rss). */
  rss?: () => number;
  gc?: ReclaimGc;
  /** glibc's malloc_trim (malloc-trim.ts); undefined: none. */
  trim?: MallocTrim;
  /** Trim at least this often, busy or not; 0 = only after a reclaim. */
  trimSeconds?: number;
  /** How often to look (default 2 s). */
  intervalMs?: number;
}

export function startMemoryReclaimer(opts: MemoryReclaimerOptions): TimerHandle {
  const rss = opts.rss ?? (() => process.memoryUsage.rss());
  const gc = opts.gc ?? v8ReclaimGc();
  const registers = opts.registry !== undefined ? [opts.registry] : [];
  const reclaims = new Counter({ name: "hearth_operator_memory_reclaims_total", help: "Memory-reducing GCs run after a burst, once the operator turned idle.", registers });
  const freed = new Counter({ name: "hearth_operator_memory_reclaimed_bytes_total", help: "RSS given back by those GCs (before minus after).", registers });
  const pause = new Gauge({ name: "hearth_operator_memory_reclaim_pause_seconds", help: "How long the last reclaim blocked the event loop.", registers });
  const trims = new Counter({ name: "hearth_operator_malloc_trims_total", help: "malloc_trim(0) calls (the optional addon): after each reclaim, and every memory.trimSeconds.", registers });
  const trimmed = new Counter({ name: "hearth_operator_malloc_trimmed_bytes_total", help: "RSS given back by malloc_trim (before minus after).", registers });
  const trimPause = new Gauge({ name: "hearth_operator_malloc_trim_pause_seconds", help: "How long the last malloc_trim blocked the event loop.", registers });
  let state: ReclaimState = { idleSince: undefined, baselineRss: rss() };
  let lastTrimAt = opts.clock.now();
  const trim = (): void => {
    if (opts.trim === undefined) return;
    const before = rss();
    const started = performance.now();
    opts.trim();
    trimPause.set((performance.now() - started) / 1000);
    trims.inc();
    trimmed.inc(Math.max(0, before - rss()));
    lastTrimAt = opts.clock.now();
  };
  return every(opts.clock, opts.intervalMs ?? 2000, () => {
    const next = planReclaim(state, { now: opts.clock.now(), idle: opts.idle(), rss: rss() }, opts.settings);
    state = next.state;
    if (!next.reclaim) {
      if (opts.trim !== undefined && trimDue(lastTrimAt, opts.clock.now(), opts.trimSeconds ?? 0)) trim();
      return;
    }
    const before = rss();
    const started = performance.now();
    gc();
    trim();
    const ms = performance.now() - started;
    const after = rss();
    state = { idleSince: undefined, baselineRss: after };
    reclaims.inc();
    freed.inc(Math.max(0, before - after));
    pause.set(ms / 1000);
    const mib = (b: number): number => Math.round(b / 1048576);
    opts.logger.info({ rssBeforeMiB: mib(before), rssAfterMiB: mib(after), pauseMs: Math.round(ms) }, "idle after a burst: reclaimed memory");
  });
}
