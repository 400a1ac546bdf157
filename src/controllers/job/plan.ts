// planJob: everything the Job controller decides, as a pure function of what it gathered.
// The controller only gathers (informer caches, a few live reads) and applies the plan.
import { isDeepStrictEqual } from "node:util";
import type { V1ConfigMap, V1Job, V1Secret } from "@kubernetes/client-node";
import type { Attempt, HearthFunction, HearthJob, InvocationMode, JobStatus, JobStepSummary, RetryPolicy } from "../../api/v1alpha1/index.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { mergeAttempts } from "./attempts.ts";
import { batchJobName, renderBatchJob, renderInputConfigMap, renderTaskSecret, resolveInput, type InputSource } from "./batch-job.ts";
import { isConditionTrue, reconcileConditions, type DesiredCondition } from "./conditions.ts";
import { transitionEvents, type JobEvent } from "./events.ts";
import { deriveOutcome, GENERIC_WAITING, type Outcome } from "./outcome.ts";
import { controllerOf } from "../../kube/objects.ts";
import { runtimeContainer, type BatchJobView, type PodView } from "./views.ts";
import { EXIT_CODES, isExitErrorType } from "../../protocol/index.ts";
import type { GatewayTask, GatewayTaskView, RunStepCounts, WarmEnqueue } from "./gateway.ts";

export interface JobControllerConfig {
  /** Added to every attempt's timeoutSeconds in the activeDeadlineSeconds backstop. */
  readonly deadlineSlackSeconds: number;
  /** batch Job ttlSecondsAfterFinished when the Hearth Job sets none; absent: kept until the Hearth Job goes. */
  readonly defaultBatchJobTTLSeconds?: number;
  /** Inline inputs up to this size ride in a pod annotation (downward API file): no extra object per Job. */
  readonly maxAnnotationInputBytes: number;
  /** Largest inline input copied into a ConfigMap (etcd caps objects near 1.5 MiB). */
  readonly maxInlineInputBytes: number;
  /** How often to look again while something outside our watches may change (a missing input). */
  readonly recheckAfterMs: number;
  /** Progress-only status changes wait up to this long after the previous write (see JobPlan.statusUrgent). */
  readonly statusDebounceMs: number;
  /** How long a status that kube-controller-manager is about to supersede is held back (see JobPlan.holdStatusMs). */
  readonly settleHoldMs: number;
}

export const DEFAULT_JOB_CONTROLLER_CONFIG: JobControllerConfig = {
  // Scheduling onto a busy GPU node, a multi-GB image pull and setup() all come before the
  // runtime's own deadline starts.
  deadlineSlackSeconds: 600,
  // Every pod of the Job carries the annotation, and every watcher of pods receives it.
  maxAnnotationInputBytes: 4_096,
  maxInlineInputBytes: 1_000_000,
  recheckAfterMs: 30_000,
  statusDebounceMs: 5_000,
  // kube-controller-manager concludes a batch Job within a second of its pod's end — unless the
  // control plane is overloaded, when it can take tens of seconds, and an interim status write
  // (that the end replaces moments later) per Job would only add to the load. Long enough to
  // ride that out, short enough that a Job whose batch Job never concludes still shows its end.
  settleHoldMs: 120_000,
};

/** Whether the ConfigMap/Secret key named by spec.inputFrom exists (read only when it matters). */
export type InputCheck = { readonly state: "unchecked" } | { readonly state: "present" } | { readonly state: "missing"; readonly message: string };

export interface JobPlanInput {
  readonly job: HearthJob;
  /** undefined: no such Function. */
  readonly fn: HearthFunction | undefined;
  /** The batch Job named batchJobName(job), whoever owns it. */
  readonly batchJob: BatchJobView | undefined;
  /** A live read (not the cache) confirmed that the batch Job this Job created is gone. */
  readonly batchJobGone: boolean;
  /** Pods labelled with this Hearth Job's name; the plan keeps those its batch Job controls. */
  readonly pods: readonly PodView[];
  readonly inputCheck: InputCheck;
  readonly now: Date;
  readonly config: JobControllerConfig;
  /** The operator's pod rendering config (gateway, runtimes, GPU sharing), shared with the Function controller. */
  readonly workload: WorkloadConfig;
  /** Warm Jobs: the gateway's task for this Job, once the controller has pushed it (plan.enqueue). */
  readonly gatewayTask?: GatewayTaskView;
  /** Isolated calls (spec.taskId): the task token, when the gateway checks worker tokens. */
  readonly taskToken?: string;
  /**
   * When this controller last wrote the Job's status (or created its batch Job): progress-only
   * changes wait until statusDebounceMs after it (see JobPlan.statusUrgent).
   */
  readonly lastStatusWrite?: Date;
}

export interface JobPlan {
  readonly status: JobStatus;
  /** Write status only when it semantically changed. */
  readonly statusChanged: boolean;
  /**
   * The change is one a user waits for: the end, or anything that comes with an Event (an
   * attempt failing, a Job that cannot start and why). Other changes (Pending → Running,
   * messages) may be held back briefly and written together: status writes are most of what a
   * Job costs the apiserver beyond its batch Job.
   */
  readonly statusUrgent?: boolean;
  /**
   * Do not write this status for this long: its pod has ended and the batch Job's own end, a
   * moment away, will replace it (one write with both the attempt and the result, not two); or it
   * is a progress-only change within statusDebounceMs of the last write.
   */
  readonly holdStatusMs?: number;
  /** Apply before the batch Job: the pod mounts it. */
  readonly inputConfigMap?: V1ConfigMap;
  /** Apply before the batch Job: an isolated call's pod reads its task token from it. */
  readonly taskSecret?: V1Secret;
  /** Create if absent; never updated afterwards (its pod template is immutable). */
  readonly batchJob?: V1Job;
  /** Read spec.inputFrom's ConfigMap/Secret, then plan again. */
  readonly needsInputCheck?: boolean;
  /** ttlSecondsAfterFinished has passed: delete the Hearth Job (the GC takes what it owns). */
  readonly deleteJob?: boolean;
  readonly requeueAfterMs?: number;
  /** Emitted once the status is written. */
  readonly events: readonly JobEvent[];
  /** Warm Jobs: push this to the gateway (idempotent by the Job's UID), then plan again with its task. */
  readonly enqueue?: WarmEnqueue;
}

/** How often a warm Job's task is looked at while it is queued or running. */
export const WARM_POLL_MS = 2_000;

interface Effective {
  readonly invocation: InvocationMode;
  readonly timeoutSeconds: number;
  readonly retries: RetryPolicy;
}

/** The Job's own settings win over its Function's defaults. */
export function effectiveSettings(job: HearthJob, fn: HearthFunction): Effective {
  return {
    invocation: job.spec.invocation ?? fn.spec.invocation,
    timeoutSeconds: job.spec.timeoutSeconds ?? fn.spec.timeoutSeconds,
    retries: job.spec.retries ?? fn.spec.retries,
  };
}

export function isFinished(status: JobStatus | undefined): boolean {
  return isConditionTrue(status?.conditions, "Complete") || isConditionTrue(status?.conditions, "Failed");
}

function desiredConditions(o: Outcome): DesiredCondition[] {
  switch (o.state) {
    case "waiting":
      return [{ type: "Complete", status: "False", reason: o.reason, message: o.message }];
    case "succeeded":
      return [{ type: "Complete", status: "True", reason: "Succeeded", message: o.message }];
    case "failed":
      return [
        { type: "Complete", status: "False", reason: o.reason, message: o.message },
        { type: "Failed", status: "True", reason: o.reason, message: o.message },
      ];
  }
}

interface StatusParts {
  readonly outcome: Outcome;
  readonly invocation?: InvocationMode;
  readonly batchJob?: string;
  readonly attempts?: JobStatus["attempts"];
  readonly startTime?: string | undefined;
}

function buildStatus(input: JobPlanInput, parts: StatusParts): JobStatus {
  const prev = input.job.status;
  const now = input.now.toISOString();
  const status: JobStatus = {
    conditions: reconcileConditions(prev?.conditions, desiredConditions(parts.outcome), input.job.metadata.generation, now),
  };
  if (input.job.metadata.generation !== undefined) status.observedGeneration = input.job.metadata.generation;
  if (parts.invocation !== undefined) status.invocation = parts.invocation;
  if (parts.batchJob !== undefined) status.batchJob = parts.batchJob;
  if (parts.attempts !== undefined && parts.attempts.length > 0) status.attempts = parts.attempts;
  const start = prev?.startTime ?? parts.startTime;
  if (start !== undefined) status.startTime = start;
  const o = parts.outcome;
  if (o.state === "succeeded" && o.output !== undefined) status.output = o.output;
  if (o.state === "succeeded" && o.outputRef !== undefined) status.outputRef = { kind: o.outputRef.kind, name: o.outputRef.name };
  if (o.state !== "waiting") status.completionTime = o.completionTime;
  return status;
}

type PlanExtras = Omit<JobPlan, "status" | "statusChanged" | "statusUrgent" | "events">;

/**
 * A Job that is merely pending (no pod yet, or one waiting for nothing in particular) and has no
 * status yet is left without one: the next state worth telling (Running, a reason to wait, the
 * end) is written instead. Saves a write per Job; `kubectl get` shows nothing for those moments.
 */
function idlePending(prev: JobStatus | undefined, status: JobStatus): boolean {
  const complete = status.conditions?.find((c) => c.type === "Complete");
  return (
    prev?.conditions === undefined &&
    complete?.status === "False" &&
    complete.reason === "Pending" &&
    (status.attempts ?? []).every((a) => GENERIC_WAITING.has(a.reason ?? "Pending"))
  );
}

function finish(input: JobPlanInput, status: JobStatus, extra: PlanExtras = {}): JobPlan {
  const prev = input.job.status;
  const statusChanged = !isDeepStrictEqual(prev ?? {}, status) && !idlePending(prev, status);
  const events = statusChanged ? transitionEvents(prev, status) : [];
  // Every state a user must hear about at once comes with an Event (or is the end).
  const statusUrgent = statusChanged && (events.length > 0 || isFinished(status));
  const { holdStatusMs, ...rest } = extra;
  const plan: JobPlan = { status, statusChanged, statusUrgent, events, ...rest };
  // The settling hold covers attempts that failed for good too (their Event comes with the end).
  const settle = holdStatusMs !== undefined && (!statusUrgent || events.every((e) => e.reason === "AttemptFailed")) ? holdStatusMs : 0;
  const debounce = statusChanged && !statusUrgent ? debounceLeftMs(input) : 0;
  if (holdStatusMs !== undefined && settle > 0) return { ...plan, holdStatusMs: Math.max(settle, debounce) };
  if (debounce > 0) return { ...plan, holdStatusMs: debounce };
  if (isFinished(status)) return { ...plan, ...ttlPlan(input, status) };
  return plan;
}

/** How much longer a progress-only status change waits after the last write. */
function debounceLeftMs(input: JobPlanInput): number {
  if (input.lastStatusWrite === undefined) return 0;
  return input.lastStatusWrite.getTime() + input.config.statusDebounceMs - input.now.getTime();
}

/** How much later than the Hearth Job's TTL its batch Job's own TTL fires (a backstop). */
export const BATCH_JOB_TTL_BACKSTOP_SECONDS = 300;

function ttlPlan(input: JobPlanInput, status: JobStatus): Pick<JobPlan, "deleteJob" | "requeueAfterMs"> {
  const ttl = input.job.spec.ttlSecondsAfterFinished;
  if (ttl === undefined || status.completionTime === undefined) return {};
  const expires = Date.parse(status.completionTime) + ttl * 1000;
  const left = expires - input.now.getTime();
  return left <= 0 ? { deleteJob: true } : { requeueAfterMs: left };
}

function waiting(reason: string, message: string): Outcome {
  return { state: "waiting", reason, message };
}

function failedNow(input: JobPlanInput, reason: "InputRejected" | "BadConfiguration" | "BatchJobLost" | "GatewayRefused", message: string): Outcome {
  return { state: "failed", reason, message, completionTime: input.now.toISOString() };
}

export function planJob(input: JobPlanInput): JobPlan {
  const { job, config } = input;
  const prev = job.status;
  if (isFinished(prev)) return { status: prev ?? {}, statusChanged: false, events: [], ...ttlPlan(input, prev ?? {}) };
  if (job.metadata.deletionTimestamp !== undefined) return { status: prev ?? {}, statusChanged: false, events: [] };

  if (job.spec.workflowRef !== undefined) return planGatewayTask(input, { kind: "workflow", name: job.spec.workflowRef.name });
  const name = batchJobName(job.metadata.name);
  const existing = input.batchJob;
  // Once the batch Job exists the invocation is under way: it no longer needs the Function
  // (which may since have changed or gone), only its own batch Job and pods.
  if (existing !== undefined) return observeBatchJob(input, existing);
  if (prev?.batchJob !== undefined && input.batchJobGone) {
    const outcome = failedNow(input, "BatchJobLost", `batch Job ${name} was deleted before its outcome was recorded; the invocation's result is unknown`);
    return finish(input, buildStatus(input, { invocation: "isolated", batchJob: name, attempts: prev.attempts, outcome }));
  }

  const fnName = job.spec.functionRef?.name;
  if (fnName === undefined) return finish(input, buildStatus(input, { outcome: waiting("InvalidSpec", "set spec.functionRef or spec.workflowRef") }));
  const fn = input.fn;
  if (fn === undefined) {
    return finish(input, buildStatus(input, { outcome: waiting("FunctionNotFound", `Function ${fnName} not found in namespace ${job.metadata.namespace ?? ""}`) }), {
      requeueAfterMs: config.recheckAfterMs,
    });
  }
  const eff = effectiveSettings(job, fn);
  switch (eff.invocation) {
    case "warm":
      return planGatewayTask(input, { kind: "function", name: fnName });
    case "isolated":
      return planCreate(input, fn, eff);
  }
}

/**
 * A warm Job, or a workflowRef Job: its task (a workflow run is one) on the gateway decides its
 * status. A run's status also carries each step's executions by state.
 */
function planGatewayTask(input: JobPlanInput, target: { kind: "function" | "workflow"; name: string }): JobPlan {
  const { job } = input;
  const workflow = target.kind === "workflow";
  const invocation = workflow ? {} : { invocation: "warm" as const };
  if (job.spec.inputFrom !== undefined) {
    const message = workflow
      ? "inputFrom is read by the pod of an isolated Job; a workflowRef Job takes spec.input"
      : "inputFrom is read by the pod of an isolated Job; a warm Job takes spec.input (or set invocation: isolated)";
    return finish(input, buildStatus(input, { ...invocation, outcome: failedNow(input, "BadConfiguration", message) }));
  }
  const view = input.gatewayTask;
  if (view === undefined) {
    const enqueue: WarmEnqueue = {
      kind: target.kind,
      namespace: job.metadata.namespace ?? "",
      function: target.name,
      idempotencyKey: job.metadata.uid ?? job.metadata.name,
      input: job.spec.input ?? null,
      // The Job's own deadline and retries apply to its task, not only the Function's (a
      // workflow's steps keep their own policies: docs/workflows.md).
      ...(workflow ? {} : { timeoutSeconds: job.spec.timeoutSeconds, retries: job.spec.retries }),
    };
    return { status: job.status ?? {}, statusChanged: false, events: [], enqueue };
  }
  if (view.state === "refused") {
    return finish(input, buildStatus(input, { ...invocation, outcome: failedNow(input, "GatewayRefused", view.message) }));
  }
  if (view.state === "unavailable") {
    return finish(input, buildStatus(input, { ...invocation, outcome: waiting("GatewayUnavailable", view.message) }), { requeueAfterMs: 5_000 });
  }
  const task = view.task;
  const what = workflow ? `run ${task.id} of Workflow ${target.name}` : `task ${task.id}`;
  const parts = { ...invocation, attempts: workflow ? undefined : warmAttempts(task), startTime: task.startedAt };
  const steps = workflow ? stepSummaries(task.steps) : undefined;
  const status = (outcome: Outcome): JobStatus => ({ ...buildStatus(input, { ...parts, outcome }), taskId: task.id, ...(steps === undefined ? {} : { steps }) });
  const end = task.finishedAt ?? input.now.toISOString();
  switch (task.status) {
    case "queued":
      return finish(input, status(waiting("Queued", `${what} is queued${workflow ? "" : ` for a warm worker of ${target.name}`}`)), { requeueAfterMs: WARM_POLL_MS });
    case "running":
      return finish(input, status(waiting("Running", workflow ? `${what} is running${progressOf(steps)}` : `${what} runs on a warm worker (attempt ${task.attempts})`)), {
        requeueAfterMs: WARM_POLL_MS,
      });
    case "succeeded": {
      const output = task.output ?? (task.outputB64 !== undefined ? task.outputB64 : undefined);
      const outcome: Outcome = { state: "succeeded", message: `${what} succeeded`, completionTime: end, ...(output !== undefined ? { output } : {}) };
      return finish(input, status(outcome));
    }
    case "failed": {
      const type = task.error?.type ?? "Failed";
      const outcome: Outcome = { state: "failed", reason: isExitErrorType(type) ? type : "Failed", message: task.error?.message ?? `${what} failed`, completionTime: end };
      return finish(input, status(outcome));
    }
    case "cancelled":
      return finish(input, status({ state: "failed", reason: "Failed", message: `${what} was cancelled`, completionTime: end }));
  }
}

const STEP_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;

/** The run document's step counts as status entries, in the order the gateway listed the steps. */
export function stepSummaries(counts: RunStepCounts | undefined): JobStepSummary[] | undefined {
  if (counts === undefined) return undefined;
  return Object.entries(counts)
    .slice(0, 256)
    .map(([name, byState]) => {
      const summary: JobStepSummary = { name };
      for (const s of STEP_STATES) {
        const n = byState[s];
        if (n !== undefined && n > 0) summary[s] = n;
      }
      return summary;
    });
}

/** ": 3 of 5 step executions finished" for a running run's message. */
function progressOf(steps: readonly JobStepSummary[] | undefined): string {
  if (steps === undefined || steps.length === 0) return "";
  let done = 0;
  let all = 0;
  for (const s of steps) {
    done += (s.succeeded ?? 0) + (s.failed ?? 0) + (s.cancelled ?? 0);
    all += (s.queued ?? 0) + (s.running ?? 0) + (s.succeeded ?? 0) + (s.failed ?? 0) + (s.cancelled ?? 0);
  }
  return `: ${done} of ${all} step executions finished so far`;
}

/** The gateway reports the attempt count and the last attempt's outcome: one entry for that attempt. */
function warmAttempts(task: GatewayTask): JobStatus["attempts"] {
  if (task.attempts === 0) return undefined;
  const attempt: NonNullable<JobStatus["attempts"]>[number] = { index: task.attempts - 1 };
  if (task.startedAt !== undefined) attempt.startTime = task.startedAt;
  if (task.finishedAt !== undefined) attempt.endTime = task.finishedAt;
  if (task.status === "succeeded") attempt.exitCode = 0;
  if (task.status === "failed" && task.error !== undefined) {
    attempt.reason = task.error.type;
    attempt.message = task.error.message.slice(0, 4096);
    if (isExitErrorType(task.error.type)) attempt.exitCode = EXIT_CODES[task.error.type];
  }
  return [attempt];
}

function observeBatchJob(input: JobPlanInput, existing: BatchJobView): JobPlan {
  const { job } = input;
  const name = existing.metadata.name;
  const base = { invocation: "isolated" as const, batchJob: name };
  if (controllerOf(existing)?.uid !== job.metadata.uid) {
    return finish(
      input,
      buildStatus(input, {
        invocation: "isolated",
        outcome: waiting("BatchJobConflict", `batch Job ${name} exists and is not controlled by this Job (left over from an earlier Job of the same name?); waiting for it to go`),
      }),
      { requeueAfterMs: input.config.recheckAfterMs },
    );
  }
  const uid = existing.metadata.uid;
  const pods = input.pods.filter((p) => uid !== undefined && controllerOf(p)?.uid === uid);
  const { attempts, facts } = mergeAttempts(job.status?.attempts ?? [], pods, runtimeContainer(existing));
  const outcome = deriveOutcome({
    batchJob: existing,
    facts,
    maxRetries: existing.spec?.backoffLimit ?? 0,
    activeDeadlineSeconds: existing.spec?.activeDeadlineSeconds,
    now: input.now.toISOString(),
  });
  const firstStart = attempts.find((a) => a.startTime !== undefined)?.startTime;
  const status = buildStatus(input, { ...base, attempts, outcome, startTime: existing.status?.startTime ?? firstStart });
  const hold = holdFor(input, outcome, attempts);
  return finish(input, status, hold > 0 ? { holdStatusMs: hold } : {});
}

/**
 * How long to keep a status unwritten because the next one is near: the batch Job is about to
 * conclude, or an attempt only just started (most pods end within seconds: "Running" would be
 * written only to be replaced). Urgent changes are never held this way (see finish()).
 */
function holdFor(input: JobPlanInput, outcome: Outcome, attempts: readonly Attempt[]): number {
  if (outcome.state !== "waiting") return 0;
  const now = input.now.getTime();
  if (outcome.settlingSince !== undefined) return Date.parse(outcome.settlingSince) + input.config.settleHoldMs - now;
  const last = attempts[attempts.length - 1];
  if (outcome.reason === "Running" && last?.reason === "Running" && last.startTime !== undefined) {
    return Date.parse(last.startTime) + input.config.statusDebounceMs - now;
  }
  return 0;
}

function planCreate(input: JobPlanInput, fn: HearthFunction, eff: Effective): JobPlan {
  const { job, config } = input;
  const name = batchJobName(job.metadata.name);
  const base = { invocation: "isolated" as const };
  const resolved = resolveInput(job, fn.spec.encoding, { maxAnnotationBytes: config.maxAnnotationInputBytes, maxInlineBytes: config.maxInlineInputBytes });
  if (!resolved.ok) return finish(input, buildStatus(input, { ...base, outcome: failedNow(input, "InputRejected", resolved.message) }));
  const source: InputSource = resolved.source;
  if (source.kind === "configMap" || source.kind === "secret") {
    switch (input.inputCheck.state) {
      case "unchecked":
        return { status: job.status ?? {}, statusChanged: false, events: [], needsInputCheck: true };
      case "missing":
        return finish(input, buildStatus(input, { ...base, outcome: waiting("InputNotFound", input.inputCheck.message) }), { requeueAfterMs: config.recheckAfterMs });
      case "present":
        break;
    }
  }

  const rendered = renderBatchJob(job, fn, input.workload, source, {
    maxRetries: eff.retries.maxRetries,
    timeoutSeconds: eff.timeoutSeconds,
    deadlineSlackSeconds: config.deadlineSlackSeconds,
    // The operator deletes the Hearth Job (and the GC its batch Job) at its TTL; the batch Job's own
    // TTL is only a backstop, later, so that Kubernetes cannot delete it before its outcome is read.
    ttlSecondsAfterFinished: job.spec.ttlSecondsAfterFinished !== undefined ? job.spec.ttlSecondsAfterFinished + BATCH_JOB_TTL_BACKSTOP_SECONDS : config.defaultBatchJobTTLSeconds,
    taskToken: input.taskToken !== undefined,
  });
  if (!rendered.ok) {
    return finish(input, buildStatus(input, { ...base, outcome: failedNow(input, "BadConfiguration", `Function ${fn.metadata.name} cannot run (${rendered.reason}): ${rendered.message}`) }));
  }
  const batchJob = rendered.batchJob;
  const status = buildStatus(input, { ...base, batchJob: name, outcome: waiting("Pending", `creating batch Job ${name}`) });
  const extra: PlanExtras = {
    batchJob,
    ...(source.kind === "inline" ? { inputConfigMap: renderInputConfigMap(job, fn.metadata.name, source.data) } : {}),
    ...(input.taskToken !== undefined && job.spec.taskId !== undefined ? { taskSecret: renderTaskSecret(job, fn.metadata.name, input.taskToken) } : {}),
  };
  return finish(input, status, extra);
}
