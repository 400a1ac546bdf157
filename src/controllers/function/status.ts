// Function status from what was planned and observed: Ready / Progressing / Degraded with
// reasons a user can act on, replica counts, the GPU summary and the endpoint. Pure. Also
// decides whether the status changed (only then is it written) and which transitions deserve a
// Kubernetes Event.
import type { Condition, FunctionStatus, SetupStatus } from "../../api/v1alpha1/index.ts";
import type { GpuStatusSummary } from "../../gpu/plan.ts";
import { PROBLEM_REASONS, type PoolObservation, type Problem, type ProblemReason } from "./observe.ts";

export type ConditionType = "Ready" | "Progressing" | "Degraded";
const OWN_CONDITIONS: ReadonlySet<string> = new Set<ConditionType>(["Ready", "Progressing", "Degraded"]);
/** The built-in autoscaler's condition: it reaches status through this controller's one write (AutoscalerStatus). */
export const AUTOSCALER_CONDITION = "Autoscaling";

/**
 * What the built-in autoscaler says about a Function. The autoscaler publishes it in-process
 * (src/controllers/shared.ts AutoscalerBoard); the Function controller carries it in its one
 * status write, so a single field manager owns all of status (except status.setup).
 */
type AutoscalerField = "desiredReplicas" | "queueDepth" | "inFlight" | "warmWorkers" | "busyWorkers" | "lastScaleTime" | "lastColdStart";
export type AutoscalerStatus = { condition: Condition } & Pick<FunctionStatus, AutoscalerField>;

/** The autoscaler's fields of `s`, those that are set. */
function autoscalerFields(s: Pick<FunctionStatus, AutoscalerField>): Pick<FunctionStatus, AutoscalerField> {
  const all: Pick<FunctionStatus, AutoscalerField> = {
    desiredReplicas: s.desiredReplicas,
    queueDepth: s.queueDepth,
    inFlight: s.inFlight,
    warmWorkers: s.warmWorkers,
    busyWorkers: s.busyWorkers,
    lastScaleTime: s.lastScaleTime,
    lastColdStart: s.lastColdStart,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

/** The autoscaler's part of a status as it stands (a new leader's autoscaler has not spoken yet: keep it). */
export function autoscalerStatusOf(s: FunctionStatus | undefined): AutoscalerStatus | undefined {
  const condition = s?.conditions?.find((c) => c.type === AUTOSCALER_CONDITION);
  if (s === undefined || condition === undefined) return undefined;
  return { condition, ...autoscalerFields(s) };
}

/** `status` (this controller's) with the autoscaler's part added; `undefined` adds nothing. */
export function withAutoscalerStatus(status: FunctionStatus, a: AutoscalerStatus | undefined): FunctionStatus {
  if (a === undefined) return status;
  return { ...status, ...autoscalerFields(a), conditions: [...(status.conditions ?? []), a.condition] };
}

/** The autoscaler's part in a comparable form. */
export function autoscalerFingerprint(a: AutoscalerStatus | undefined): string {
  if (a === undefined) return "";
  const c = a.condition;
  const f = autoscalerFields(a);
  return JSON.stringify([[c.status, c.reason, c.message, c.observedGeneration, c.lastTransitionTime], f.desiredReplicas, f.queueDepth, f.inFlight, f.warmWorkers, f.busyWorkers, f.lastScaleTime, f.lastColdStart]);
}

/** The controller's verdict before it becomes conditions. */
export type Situation =
  /** The spec cannot be rendered; `pool` is the previous pool if one still runs. */
  | { kind: "invalid"; reason: "InvalidGPU" | "InvalidSpec" | "DeploymentConflict"; message: string; pool: PoolObservation | undefined }
  | { kind: "isolated" }
  | { kind: "pool"; pool: PoolObservation; minReplicas: number; setup?: SetupStatus | undefined };

export interface StatusInput {
  generation: number | undefined;
  namespace: string;
  name: string;
  endpoint: string;
  deployment: string | undefined;
  gpu: GpuStatusSummary | NonNullable<FunctionStatus["gpu"]> | undefined;
  /** The warm pool's pods as a label selector (the scale subresource reads it). */
  selector: string | undefined;
  situation: Situation;
  previous: FunctionStatus | undefined;
  /** RFC 3339, used only for conditions that change. */
  now: string;
}

interface NewCondition {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

function problemMessage(p: Problem): string {
  const who = p.pods > 1 ? `${p.pods} workers (e.g. ${p.example})` : p.example !== "" ? `worker ${p.example}` : "the pool";
  return p.pods === 0 ? p.message : `${who}: ${p.message}`;
}

/**
 * The workers' own report of a failed setup (status.setup.lastFailure, from their heartbeats)
 * joins the problems the pods show: it carries the worker's message, and in dev mode (local
 * processes, kwok pods) it is the only report there is.
 */
export function withSetupFailure(problems: readonly Problem[], setup: SetupStatus | undefined): Problem[] {
  const f = setup?.lastFailure;
  if (f === undefined || !(PROBLEM_REASONS as readonly string[]).includes(f.reason)) return [...problems];
  const reason = f.reason as ProblemReason;
  const fromWorker: Problem = { reason, pods: 1, example: f.worker ?? "", message: f.message };
  const merged = problems.filter((p) => p.reason !== reason);
  const seen = problems.find((p) => p.reason === reason);
  // The worker's message says more than the pod's exit code; keep the pod count.
  merged.push(seen === undefined ? fromWorker : { ...fromWorker, pods: seen.pods, example: seen.example === "" ? fromWorker.example : seen.example });
  return merged.sort((a, b) => PROBLEM_REASONS.indexOf(a.reason) - PROBLEM_REASONS.indexOf(b.reason));
}

function poolConditions(observed: PoolObservation, minReplicas: number, setup: SetupStatus | undefined): NewCondition[] {
  const pool: PoolObservation = { ...observed, problems: withSetupFailure(observed.problems, setup) };
  const loading = setup?.message !== undefined && setup.message !== "" ? `; ${setup.message}` : "";
  const top = pool.problems[0];
  const needed = Math.min(minReplicas, pool.desired);
  const degraded: NewCondition =
    top !== undefined
      ? { type: "Degraded", status: "True", reason: top.reason, message: pool.problems.map(problemMessage).join("; ") }
      : { type: "Degraded", status: "False", reason: "AsExpected", message: "" };

  let ready: NewCondition;
  if (needed === 0 && pool.desired === 0) {
    ready = { type: "Ready", status: "True", reason: "ScaledToZero", message: "no warm workers (warmPool.minReplicas: 0): the first call scales the pool up" };
  } else if (needed === 0 && pool.ready === 0) {
    // Scaling up from zero serves as soon as a worker is ready: calls wait (run) or queue (push).
    const why = top !== undefined ? `; ${problemMessage(top)}` : "";
    ready = { type: "Ready", status: "True", reason: "ScalingFromZero", message: `0 of ${plural(pool.desired, "warm worker")} ready; calls wait for the first${why}` };
  } else if (pool.ready >= needed && pool.ready > 0) {
    ready = { type: "Ready", status: "True", reason: "WorkersReady", message: `${pool.ready} of ${plural(pool.desired, "warm worker")} ready${loading}` };
  } else {
    const reason = top?.reason ?? "WorkersStarting";
    const msg = `${pool.ready} of ${plural(Math.max(needed, 1), "warm worker")} ready`;
    ready = { type: "Ready", status: "False", reason, message: top !== undefined ? `${msg}; ${problemMessage(top)}${loading}` : `${msg}; waiting for setup() to finish${loading}` };
  }

  let progressing: NewCondition;
  if (pool.deadlineExceeded !== undefined) {
    progressing = { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: pool.deadlineExceeded };
  } else if (pool.replicas > pool.updated) {
    // Workers of an older spec still run: a rollout (a scale-up alone never leaves old pods).
    progressing = {
      type: "Progressing",
      status: "True",
      reason: "RollingOut",
      message: `${pool.updated} of ${plural(pool.desired, "worker")} on the current spec, ${plural(pool.replicas - pool.updated, "old worker")} still running`,
    };
  } else if (!pool.observedLatest || pool.updated < pool.desired || pool.ready < pool.desired) {
    progressing = { type: "Progressing", status: "True", reason: "ScalingUp", message: `${pool.ready} of ${plural(pool.desired, "worker")} ready` };
  } else {
    progressing = { type: "Progressing", status: "False", reason: "Complete", message: "every warm worker runs the current spec" };
  }
  return [ready, progressing, degraded];
}

function situationConditions(s: Situation): NewCondition[] {
  switch (s.kind) {
    case "isolated":
      return [
        { type: "Ready", status: "True", reason: "IsolatedInvocation", message: "invocation: isolated runs each call as its own batch Job; there is no warm pool" },
        { type: "Progressing", status: "False", reason: "IsolatedInvocation", message: "" },
        { type: "Degraded", status: "False", reason: "AsExpected", message: "" },
      ];
    case "invalid": {
      const keeps = s.pool !== undefined && s.pool.desired > 0 ? " (the previous warm pool keeps running)" : "";
      const degraded: NewCondition = { type: "Degraded", status: "True", reason: s.reason, message: `${s.message}${keeps}` };
      const progressing: NewCondition = { type: "Progressing", status: "False", reason: s.reason, message: "the spec cannot be rolled out; fix it to continue" };
      if (s.pool !== undefined && s.pool.ready > 0) {
        return [{ type: "Ready", status: "True", reason: "PreviousSpecServing", message: `${plural(s.pool.ready, "warm worker")} of the previous spec serving` }, progressing, degraded];
      }
      return [{ type: "Ready", status: "False", reason: s.reason, message: s.message }, progressing, degraded];
    }
    case "pool":
      return poolConditions(s.pool, s.minReplicas, s.setup);
    default: {
      const never: never = s;
      return never;
    }
  }
}

/** Keeps lastTransitionTime when the status of a condition did not change (metav1 semantics). */
function withTransitions(next: NewCondition[], previous: Condition[] | undefined, generation: number | undefined, now: string): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const cond: Condition = { type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: old !== undefined && old.status === c.status ? old.lastTransitionTime : now };
    if (generation !== undefined) cond.observedGeneration = generation;
    return cond;
  });
}

export function computeStatus(input: StatusInput): FunctionStatus {
  const conditions = withTransitions(situationConditions(input.situation), input.previous?.conditions, input.generation, input.now);
  const status: FunctionStatus = { conditions, endpoint: input.endpoint };
  if (input.generation !== undefined) status.observedGeneration = input.generation;
  const pool = input.situation.kind === "pool" ? input.situation.pool : input.situation.kind === "invalid" ? input.situation.pool : undefined;
  if (pool !== undefined) {
    status.replicas = pool.replicas;
    status.readyReplicas = pool.ready;
    status.updatedReplicas = pool.updated;
  } else if (input.situation.kind === "isolated") {
    status.replicas = 0;
    status.readyReplicas = 0;
    status.updatedReplicas = 0;
  }
  if (input.gpu !== undefined) {
    const g: NonNullable<FunctionStatus["gpu"]> = { resource: input.gpu.resource, units: input.gpu.units, fraction: input.gpu.fraction, strategy: input.gpu.strategy };
    if (input.gpu.profile !== undefined) g.profile = input.gpu.profile;
    status.gpu = g;
  }
  if (input.deployment !== undefined) status.deployment = input.deployment;
  if (input.selector !== undefined) status.selector = input.selector;
  return status;
}

/** The fields this controller owns, in a comparable form. */
function owned(s: FunctionStatus | undefined): unknown {
  if (s === undefined) return undefined;
  return {
    observedGeneration: s.observedGeneration,
    // Conditions are a map by type; the autoscaler's is compared below.
    conditions: (s.conditions ?? [])
      .filter((c) => OWN_CONDITIONS.has(c.type))
      .map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration, c.lastTransitionTime])
      .sort((a, b) => byCodePoint(String(a[0]), String(b[0]))),
    replicas: s.replicas,
    readyReplicas: s.readyReplicas,
    updatedReplicas: s.updatedReplicas,
    gpu: s.gpu === undefined ? undefined : [s.gpu.resource, s.gpu.units, s.gpu.fraction, s.gpu.strategy, s.gpu.profile],
    endpoint: s.endpoint,
    deployment: s.deployment,
    selector: s.selector,
    autoscaler: autoscalerFingerprint(autoscalerStatusOf(s)),
  };
}

export function statusChanged(previous: FunctionStatus | undefined, next: FunctionStatus): boolean {
  return JSON.stringify(owned(previous)) !== JSON.stringify(owned(next));
}

/** A comparable string of the fields this controller owns. */
export function statusFingerprint(s: FunctionStatus): string {
  return JSON.stringify(owned(s));
}

export interface TransitionEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/**
 * Whether `previous` is a Function that has never been Ready: no status yet, or workers starting
 * since its first status — Ready False WorkersStarting, with Degraded False since the same
 * moment. (After an outage Ready turned False later than Degraded last changed; after a
 * problem Degraded changed, or Ready's reason is the problem's.)
 */
export function firstReadiness(previous: FunctionStatus | undefined): boolean {
  const ready = previous?.conditions?.find((c) => c.type === "Ready");
  if (ready === undefined) return true;
  const degraded = previous?.conditions?.find((c) => c.type === "Degraded");
  return ready.status === "False" && ready.reason === "WorkersStarting" && degraded?.status === "False" && degraded.lastTransitionTime === ready.lastTransitionTime;
}

/** Events for user-visible transitions between two statuses. */
export function transitionEvents(previous: FunctionStatus | undefined, next: FunctionStatus): TransitionEvent[] {
  const get = (s: FunctionStatus | undefined, t: ConditionType): Condition | undefined => s?.conditions?.find((c) => c.type === t);
  const out: TransitionEvent[] = [];
  const pd = get(previous, "Degraded");
  const nd = get(next, "Degraded");
  if (nd?.status === "True" && (pd?.status !== "True" || pd.reason !== nd.reason)) out.push({ type: "Warning", reason: nd.reason, message: nd.message });
  if (nd?.status === "False" && pd?.status === "True") out.push({ type: "Normal", reason: "Recovered", message: `no longer degraded (was ${pd.reason})` });
  const pr = get(previous, "Ready");
  const nr = get(next, "Ready");
  // A Function's first readiness is no Event (the Ready condition and `kubectl get functions`
  // show it; a Deployment does not emit one either). Ready again after an outage or a problem is.
  if (nr?.status === "True" && pr?.status !== "True" && !firstReadiness(previous)) out.push({ type: "Normal", reason: "Ready", message: nr.message });
  // Losing readiness with a Degraded reason is reported by that reason's Warning above.
  if (nr?.status === "False" && pr?.status === "True" && nd?.status !== "True") out.push({ type: "Normal", reason: "NotReady", message: nr.message });
  const pp = get(previous, "Progressing");
  const np = get(next, "Progressing");
  if (np?.reason === "RollingOut" && pp !== undefined && pp.reason !== "RollingOut") out.push({ type: "Normal", reason: "RollingOut", message: "rolling the warm pool to the new spec" });
  if (np?.reason === "ProgressDeadlineExceeded" && pp?.reason !== "ProgressDeadlineExceeded") out.push({ type: "Warning", reason: "ProgressDeadlineExceeded", message: np.message });
  return out;
}

/**
 * When a changed status is written. Every write is an API request and echoes back as a watch
 * event, so on a mass apply interim statuses cost the apiserver more than they tell anyone:
 * - a transition (a condition's status or reason, an Event, a new generation, the GPU summary,
 *   endpoint, Deployment or selector, anything the autoscaler published — it paces itself) is
 *   written at once;
 * - a brand-new Function whose workers are merely starting (Ready False WorkersStarting, not
 *   Degraded, no setup() progress reported yet) is written at once on an operator that is not
 *   `busy` (one Function applied: the user sees it at once); on a busy one (a mass apply) it
 *   gets its first status when it turns Ready, shows a problem or setup progress, or is
 *   `firstGraceMs` old — a pool that starts in time is written once;
 * - progress alone (replica counts, condition messages) is written at most every `paceMs`.
 * Deferred writes are re-planned when due (the controller requeues), so the latest state wins.
 */
export interface StatusTimingInput {
  previous: FunctionStatus | undefined;
  next: FunctionStatus;
  /** Events the transition would record (a write with events is never deferred). */
  events: number;
  now: number;
  /** The Function's metadata.creationTimestamp (ms), if known. */
  createdAt: number | undefined;
  /** This process's last status write for the Function (ms), if any. */
  lastWrittenAt: number | undefined;
  /** Many Functions are starting at once (see `busy`): a new one's first status waits. */
  busy: boolean;
  firstGraceMs: number;
  paceMs: number;
}

export type StatusTiming = { write: "now" } | { write: "later"; afterMs: number };

/** New Functions without a first status, plus reconciles waiting, from which on the operator counts as busy. */
export const BUSY_BACKLOG = 8;

/** Whether many Functions start at once: `starting` new Functions awaiting their first status, `queued` keys waiting. */
export function busy(starting: number, queued: number): boolean {
  return starting + queued >= BUSY_BACKLOG;
}

/** The owned fields minus what merely reports progress (counts, condition messages). */
function shape(s: FunctionStatus | undefined): string {
  if (s === undefined) return "";
  return JSON.stringify({
    observedGeneration: s.observedGeneration,
    conditions: (s.conditions ?? [])
      .filter((c) => OWN_CONDITIONS.has(c.type))
      .map((c) => [c.type, c.status, c.reason, c.observedGeneration])
      .sort((a, b) => byCodePoint(String(a[0]), String(b[0]))),
    gpu: s.gpu === undefined ? undefined : [s.gpu.resource, s.gpu.units, s.gpu.fraction, s.gpu.strategy, s.gpu.profile],
    endpoint: s.endpoint,
    deployment: s.deployment,
    selector: s.selector,
    autoscaler: autoscalerFingerprint(autoscalerStatusOf(s)),
  });
}

/** No status of this controller yet (the autoscaler's and status.setup do not count). */
export function firstStatus(previous: FunctionStatus | undefined): boolean {
  return (previous?.conditions ?? []).every((c) => !OWN_CONDITIONS.has(c.type));
}

/** Workers merely starting: Ready False for WorkersStarting, nothing Degraded. */
export function isQuietStart(s: FunctionStatus): boolean {
  const cond = (t: ConditionType): Condition | undefined => s.conditions?.find((c) => c.type === t);
  return cond("Ready")?.status === "False" && cond("Ready")?.reason === "WorkersStarting" && cond("Degraded")?.status !== "True";
}

export function statusTiming(input: StatusTimingInput): StatusTiming {
  const { previous, next, now } = input;
  if (input.events > 0) return { write: "now" };
  if (firstStatus(previous)) {
    const setupReported = (previous?.setup?.message ?? "") !== "" || previous?.setup?.lastFailure !== undefined;
    const quietStart = isQuietStart(next) && !setupReported;
    if (!quietStart || !input.busy || input.createdAt === undefined) return { write: "now" };
    const due = input.createdAt + input.firstGraceMs;
    return due > now ? { write: "later", afterMs: due - now } : { write: "now" };
  }
  if (shape(previous) !== shape(next) || input.lastWrittenAt === undefined) return { write: "now" };
  const due = input.lastWrittenAt + input.paceMs;
  return due > now ? { write: "later", afterMs: due - now } : { write: "now" };
}

/**
 * Orders condition types by code point: the same everywhere (localeCompare depends on the locale)
 * and it keeps ICU's collation data (megabytes of the node binary) out of the operator's memory.
 */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
