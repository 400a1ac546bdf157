// How an isolated invocation stands, from its batch Job and the attempts (pods) it made. The
// batch Job's terminal condition decides *whether* it ended; the pods decide *why*, in the
// runtime contract's words (UserError, BadConfiguration, InputRejected, Fatal, Timeout).
import type { JsonValue } from "../../api/v1alpha1/index.ts";
import type { AttemptFacts } from "./attempts.ts";
import { isExitErrorType, type ExitErrorType } from "../../protocol/index.ts";
import { failsJobAtOnce } from "./exit-codes.ts";
import { TERMINATION_MESSAGE_LIMIT } from "./result.ts";
import type { BatchJobView } from "./views.ts";

/** Waiting reasons that say nothing beyond "not running yet". */
export const GENERIC_WAITING: ReadonlySet<string> = new Set(["Pending", "ContainerCreating", "PodInitializing"]);

export type FailedReason = ExitErrorType | "BackoffLimitExceeded" | "BatchJobLost" | "GatewayRefused" | "Failed";

export type Outcome =
  | {
      readonly state: "waiting";
      readonly reason: string;
      readonly message: string;
      /**
       * The decisive pod has ended (succeeded, failed for good) and kube-controller-manager is
       * about to conclude the batch Job: since when. A status written now would be superseded
       * within moments.
       */
      readonly settlingSince?: string;
    }
  | {
      readonly state: "succeeded";
      readonly message: string;
      readonly output?: JsonValue;
      readonly outputRef?: { readonly kind: string; readonly name: string };
      readonly completionTime: string;
    }
  | { readonly state: "failed"; readonly reason: FailedReason; readonly message: string; readonly completionTime: string };

export interface OutcomeInput {
  readonly batchJob: BatchJobView;
  /** Facts of the pods still present, in attempt order. */
  readonly facts: readonly AttemptFacts[];
  readonly maxRetries: number;
  readonly activeDeadlineSeconds: number | undefined;
  readonly now: string;
}

function batchCondition(job: BatchJobView, type: string): { reason?: string | undefined; message?: string | undefined; lastTransitionTime?: string | undefined } | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

function describeAttempt(f: AttemptFacts): string {
  const a = f.attempt;
  const code = a.exitCode !== undefined ? `exit code ${a.exitCode}` : (a.reason ?? "failed");
  return `pod ${a.pod ?? "?"}: ${code}${a.message !== undefined ? `: ${a.message}` : ""}`;
}

function lastWhere(facts: readonly AttemptFacts[], pred: (f: AttemptFacts) => boolean): AttemptFacts | undefined {
  for (let i = facts.length - 1; i >= 0; i--) {
    const f = facts[i];
    if (f !== undefined && pred(f)) return f;
  }
  return undefined;
}

function succeeded(input: OutcomeInput, completionTime: string): Outcome {
  const pod = lastWhere(input.facts, (f) => f.succeeded);
  if (pod === undefined) return { state: "succeeded", message: "completed; the pod was gone before its result could be read", completionTime };
  const r = pod.result;
  switch (r.kind) {
    case "output":
      return { state: "succeeded", message: `completed in pod ${pod.attempt.pod ?? "?"}`, output: r.output, completionTime };
    case "outputB64":
      // The status has no separate field for pickle: the base64 text is the output, and the
      // Function's `encoding: pickle` tells readers how to decode it.
      return { state: "succeeded", message: `completed in pod ${pod.attempt.pod ?? "?"} (output is base64 pickle)`, output: r.outputB64, completionTime };
    case "outputRef":
      return { state: "succeeded", message: `completed in pod ${pod.attempt.pod ?? "?"}; the output is held by ${r.outputRef.kind} ${r.outputRef.name}`, outputRef: r.outputRef, completionTime };
    case "empty":
      return { state: "succeeded", message: "completed without a result document (termination message empty)", completionTime };
    case "invalid":
      return { state: "succeeded", message: "completed; its termination message is not a Hearth result document, so there is no output", completionTime };
    case "truncated":
      return {
        state: "failed",
        reason: "BadConfiguration",
        message: `output is at least ${r.bytes} bytes; isolated Jobs return at most ${TERMINATION_MESSAGE_LIMIT} bytes through the termination message: write large results to storage and return a reference`,
        completionTime,
      };
    case "error":
      return {
        state: "failed",
        reason: isExitErrorType(r.type) ? r.type : "BadConfiguration",
        message: `the runtime exited 0 but reported ${r.type}: ${r.message}`,
        completionTime,
      };
  }
}

function failed(input: OutcomeInput, reason: string | undefined, batchMessage: string, completionTime: string): Outcome {
  const counted = input.facts.filter((f) => f.counted);
  const last = counted[counted.length - 1];
  const tries = `${counted.length} attempt${counted.length === 1 ? "" : "s"}`;
  switch (reason ?? "") {
    case "PodFailurePolicy": {
      const failJob = lastWhere(counted, (f) => failsJobAtOnce(f.failureClass)) ?? last;
      return {
        state: "failed",
        reason: failJob?.failureClass ?? "BadConfiguration",
        message: failJob !== undefined ? `not retried: ${describeAttempt(failJob)}` : batchMessage,
        completionTime,
      };
    }
    case "DeadlineExceeded":
      return {
        state: "failed",
        reason: "Timeout",
        message: `the invocation ran past its overall deadline (activeDeadlineSeconds ${input.activeDeadlineSeconds ?? "?"}: every attempt's timeoutSeconds plus slack and retry backoff)${last !== undefined ? `; last failure: ${describeAttempt(last)}` : ""}`,
        completionTime,
      };
    case "BackoffLimitExceeded":
      return {
        state: "failed",
        reason: last?.failureClass ?? "BackoffLimitExceeded",
        message: `${tries} failed (maxRetries ${input.maxRetries})${last !== undefined ? `; last: ${describeAttempt(last)}` : ""}`,
        completionTime,
      };
    default:
      return {
        state: "failed",
        reason: last?.failureClass ?? "Failed",
        message: `batch Job failed${reason !== undefined && reason !== "" ? ` (${reason})` : ""}: ${batchMessage}`,
        completionTime,
      };
  }
}

function inProgress(input: OutcomeInput): Outcome {
  const facts = input.facts;
  const last = facts[facts.length - 1];
  const total = input.maxRetries + 1;
  const used = facts.filter((f) => f.counted).length;
  if (last === undefined) return { state: "waiting", reason: "Pending", message: "batch Job created; waiting for its pod" };
  const which = `attempt ${Math.min(used + 1, total)} of ${total}`;
  const pod = last.attempt.pod ?? "?";
  if (last.disrupted) {
    return { state: "waiting", reason: "Running", message: `pod ${pod} was disrupted (not counted as an attempt): a new pod is starting` };
  }
  const since = last.attempt.endTime ?? input.now;
  if (last.counted) {
    const final = used > input.maxRetries || failsJobAtOnce(last.failureClass);
    if (final) return { state: "waiting", reason: "Running", message: `${describeAttempt(last)}; the batch Job is failing`, settlingSince: since };
    return { state: "waiting", reason: "BackingOff", message: `${describeAttempt(last)}; retrying (${used} of ${total} attempts used)` };
  }
  if (last.terminal) return { state: "waiting", reason: "Running", message: `pod ${pod} ended; waiting for the batch Job to finish`, settlingSince: since };
  if (last.attempt.reason === "Running") return { state: "waiting", reason: "Running", message: `${which} running in pod ${pod}` };
  const waiting = last.attempt.reason ?? "Pending";
  const generic = GENERIC_WAITING.has(waiting);
  return {
    state: "waiting",
    reason: generic ? "Pending" : waiting,
    message: `${which}: pod ${pod} is ${generic ? "pending" : waiting}${last.attempt.message !== undefined ? `: ${last.attempt.message}` : ""}`,
  };
}

export function deriveOutcome(input: OutcomeInput): Outcome {
  const job = input.batchJob;
  const complete = batchCondition(job, "Complete");
  if (complete !== undefined) return succeeded(input, job.status?.completionTime ?? complete.lastTransitionTime ?? input.now);
  const fail = batchCondition(job, "Failed");
  if (fail !== undefined) return failed(input, fail.reason, fail.message ?? "", fail.lastTransitionTime ?? input.now);
  return inProgress(input);
}
