// The built-in autoscaler's decision for one Function. Pure: the pool's spec, the gateway's
// demand and the recent recommendations in; the replicas to set, the new history and the
// Autoscaling condition out. No clock (`now` is an input), no I/O.
//
//   demand  = queued + in-flight tasks
//   raw     = ceil(demand / (concurrency × targetUtilization)), clamped to [minReplicas, maxReplicas]
//   up      at once to raw
//   down    only to the highest recommendation of the last scaleDownDelaySeconds (a stable
//           window, like the HPA's), so a bursty queue does not thrash a GPU pool
//   no data (gateway unreachable): hold the current size, never scale to zero on missing data
import type { WarmPoolSpec } from "../api/v1alpha1/index.ts";

/** A recommendation made at `at` (ms), valid until the next one. */
export interface Sample {
  at: number;
  replicas: number;
}

export interface Demand {
  queued: number;
  inflight: number;
}

export interface DecideInput {
  pool: WarmPoolSpec;
  concurrency: number;
  /** The operator-wide default of warmPool.targetUtilization. */
  defaultTargetUtilization: number;
  /** undefined: no demand data (the gateway cannot be reached). */
  demand: Demand | undefined;
  /** Why there is no demand data, for the condition. */
  missing?: string;
  history: readonly Sample[];
  now: number;
  /**
   * Since when this process has observed demand. Until a whole window has been observed (a new
   * leader after a failover), the current size counts as a recommendation: no premature scale-down.
   */
  observingSince: number;
}

export interface AutoscalingCondition {
  status: "True" | "False";
  reason: "ScalingActive" | "ScaleDownStabilizing" | "AtMaximum" | "DemandUnavailable" | "ExternalAutoscaler";
  message: string;
}

export interface Decision {
  /** The replicas warmPool.replicas should hold. */
  desired: number;
  /** What the pool is sized to now (warmPool.replicas, or minReplicas when unset). */
  current: number;
  /** The recommendation from demand alone (clamped); undefined without data. */
  recommended: number | undefined;
  /** Write warmPool.replicas (it differs from desired, or is unset). */
  write: boolean;
  direction: "up" | "down" | "none";
  history: Sample[];
  condition: AutoscalingCondition;
  /** When to decide again without new demand (a scale-down waiting for its window), ms from now. */
  recheckAfterMs: number | undefined;
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), max);
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** The size the pool is set to now. */
export function currentSize(pool: WarmPoolSpec): number {
  const r = pool.replicas ?? pool.minReplicas;
  return pool.autoscaler === "external" ? r : clamp(r, pool.minReplicas, pool.maxReplicas);
}

/** Workers needed for `demand` tasks, before the [min, max] clamp. */
export function workersFor(demand: number, concurrency: number, targetUtilization: number): number {
  if (demand <= 0) return 0;
  // Rounding guard: 10 tasks / (10 × 1.0) is exactly 1 worker, not 2 after float noise.
  return Math.ceil(demand / (Math.max(1, concurrency) * targetUtilization) - 1e-9);
}

/** Keeps what the window needs: samples inside it plus the one in force when it began. */
export function pruneHistory(history: readonly Sample[], cutoff: number): Sample[] {
  let inForce = 0;
  for (let i = 0; i < history.length; i++) if ((history[i]?.at ?? Infinity) <= cutoff) inForce = i;
  return history.slice(inForce);
}

export function decide(input: DecideInput): Decision {
  const { pool, now } = input;
  const current = currentSize(pool);
  const unset = pool.replicas === undefined;
  const hold = (condition: AutoscalingCondition): Decision => ({
    desired: current,
    current,
    recommended: undefined,
    write: false,
    direction: "none",
    history: [...input.history],
    condition,
    recheckAfterMs: undefined,
  });

  if (pool.autoscaler === "external") {
    return hold({
      status: "False",
      reason: "ExternalAutoscaler",
      message: `warmPool.autoscaler: external: the scale subresource (kubectl scale, an HPA, KEDA) sizes the pool; ${plural(current, "worker")} requested`,
    });
  }
  if (input.demand === undefined) {
    const why = input.missing !== undefined && input.missing !== "" ? ` (${input.missing})` : "";
    return hold({ status: "False", reason: "DemandUnavailable", message: `no demand data from the gateway${why}: holding ${plural(current, "worker")}` });
  }

  const utilization = pool.targetUtilization ?? input.defaultTargetUtilization;
  const demand = input.demand.queued + input.demand.inflight;
  const raw = workersFor(demand, input.concurrency, utilization);
  const recommended = clamp(raw, pool.minReplicas, pool.maxReplicas);
  const delayMs = pool.scaleDownDelaySeconds * 1000;
  const cutoff = now - delayMs;

  const last = input.history[input.history.length - 1];
  const appended = last !== undefined && last.replicas === recommended ? [...input.history] : [...input.history, { at: now, replicas: recommended }];
  const history = pruneHistory(appended, cutoff);
  let windowMax = Math.max(...history.map((s) => s.replicas));
  // A new leader has not seen the whole window: what the pool has counts as seen.
  const observedWholeWindow = now - input.observingSince >= delayMs;
  if (!observedWholeWindow) windowMax = Math.max(windowMax, current);

  let desired = recommended > current ? recommended : Math.min(current, windowMax);
  desired = clamp(desired, pool.minReplicas, pool.maxReplicas);

  // When the highest recommendation still inside the window expires, decide again.
  let recheckAfterMs: number | undefined;
  if (desired > recommended) {
    const expiries = history.slice(1).map((s) => s.at + delayMs - now);
    const windowEnd = observedWholeWindow ? undefined : input.observingSince + delayMs - now;
    const candidates = [...expiries, ...(windowEnd !== undefined ? [windowEnd] : [])].filter((ms) => ms > 0);
    recheckAfterMs = candidates.length > 0 ? Math.min(...candidates) : delayMs;
  }

  const needs = `demand ${demand} (${input.demand.queued} queued, ${input.demand.inflight} in flight) needs ${plural(recommended, "worker")}`;
  let condition: AutoscalingCondition;
  if (raw > pool.maxReplicas) {
    condition = { status: "True", reason: "AtMaximum", message: `demand ${demand} would need ${plural(raw, "worker")}; warmPool.maxReplicas is ${pool.maxReplicas}` };
  } else if (desired > recommended) {
    condition = { status: "True", reason: "ScaleDownStabilizing", message: `${needs}; keeping ${desired} until demand stays lower for scaleDownDelaySeconds (${pool.scaleDownDelaySeconds}s)` };
  } else {
    condition = { status: "True", reason: "ScalingActive", message: needs };
  }
  return {
    desired,
    current,
    recommended,
    write: unset || desired !== pool.replicas,
    direction: desired > current ? "up" : desired < current ? "down" : "none",
    history,
    condition,
    recheckAfterMs,
  };
}
