// Isolated calls, the pure part: the hearth.dev Job that runs one call, and what a Job's status
// means for the call's task. The I/O is in calls.ts; the Job controller does the rest (batch
// Job, exit-code table, attempts), exactly as for a hand-written isolated Job.
import { z } from "zod";
import { API_VERSION, jobStatus, type JobStatus } from "../../api/v1alpha1/index.ts";
import { isExitErrorType, type Encoding, type RetryPolicy, type TaskErrorType } from "../../protocol/index.ts";
import { LABELS } from "../../workload/labels.ts";

/** On every call Job: the task it runs (the gateway's informer selects on it). */
export const LABEL_TASK = "hearth.dev/task";
export const CALL_MANAGED_BY = "hearth-gateway";

/** How long a finished call Job stays (the result itself lives in the gateway). Default 1 h. */
export const DEFAULT_CALL_JOB_TTL_SECONDS = 3600;

/** Task ids are UUIDs: `call-<uuid>` is 41 characters, within a Hearth name's 52. */
export function callJobName(taskId: string): string {
  return `call-${taskId}`;
}

export interface CallJobInput {
  readonly taskId: string;
  readonly namespace: string;
  readonly functionName: string;
  readonly ttlSecondsAfterFinished: number;
  /** The call's own overrides (push `?timeout`/retries), else the Function's settings apply. */
  readonly timeoutSeconds?: number | null;
  readonly retries?: RetryPolicy | null;
}

/** The Job of one call: no input (the pod claims it from the gateway), the Function's own settings. */
export function callJob(c: CallJobInput): { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: Record<string, unknown> } {
  return {
    apiVersion: API_VERSION,
    kind: "Job",
    metadata: {
      name: callJobName(c.taskId),
      namespace: c.namespace,
      labels: { [LABEL_TASK]: c.taskId, [LABELS.function]: c.functionName, [LABELS.managedBy]: CALL_MANAGED_BY },
    },
    spec: {
      functionRef: { name: c.functionName },
      taskId: c.taskId,
      invocation: "isolated",
      ttlSecondsAfterFinished: c.ttlSecondsAfterFinished,
      ...(c.timeoutSeconds !== undefined && c.timeoutSeconds !== null ? { timeoutSeconds: c.timeoutSeconds } : {}),
      ...(c.retries !== undefined && c.retries !== null ? { retries: c.retries } : {}),
    },
  };
}

/** What the gateway's cache keeps of a call Job: its task, and its status. */
export const callJobView = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  // A status this version cannot read counts as none: the call waits rather than failing.
  status: z.unknown().transform((s): JobStatus | undefined => {
    const parsed = jobStatus.safeParse(s ?? {});
    return parsed.success ? parsed.data : undefined;
  }),
});
export type CallJobView = z.output<typeof callJobView>;

export function taskOf(job: CallJobView): string | undefined {
  return job.metadata.labels?.[LABEL_TASK];
}

/** What a call Job's status says about its task. */
export type CallUpdate =
  | { readonly kind: "none" }
  | { readonly kind: "running"; readonly started: number }
  | { readonly kind: "waiting"; readonly ended: number; readonly reason: string; readonly message: string }
  /** The output from the termination message: the pod could not post it. */
  | { readonly kind: "succeeded"; readonly output: string; readonly attempts: number }
  /** Succeeded, and the pod says its output went to the gateway: nothing to do if it arrived. */
  | { readonly kind: "delivered"; readonly attempts: number }
  | { readonly kind: "failed"; readonly type: TaskErrorType; readonly message: string; readonly attempts: number };

function condition(status: JobStatus, type: string): { status: string; reason: string; message: string } | undefined {
  return status.conditions?.find((c) => c.type === type);
}

/** Failure reasons of a Job (src/controllers/job/outcome.ts) → the task's error class. */
export function errorTypeOf(reason: string): TaskErrorType {
  if (isExitErrorType(reason)) return reason;
  switch (reason) {
    case "BatchJobLost":
      return "Disrupted";
    case "FunctionNotFound":
      return "BadConfiguration";
    default:
      // An exit code outside the table (137 after an OOM kill, say): the process and its state are gone.
      return "Fatal";
  }
}

export function callUpdate(status: JobStatus | undefined, encoding: Encoding): CallUpdate {
  if (status === undefined) return { kind: "none" };
  const attempts = (status.attempts ?? []).filter((a) => a.reason !== "Disrupted");
  const started = attempts.length;
  const ended = attempts.filter((a) => a.endTime !== undefined || a.reason === "Lost").length;
  const failed = condition(status, "Failed");
  if (failed?.status === "True") return { kind: "failed", type: errorTypeOf(failed.reason), message: failed.message, attempts: Math.max(ended, 1) };
  const complete = condition(status, "Complete");
  if (complete === undefined) return { kind: "none" };
  if (complete.status === "True") {
    if (status.outputRef?.kind === "Task") return { kind: "delivered", attempts: started };
    if (status.output !== undefined) {
      // With encoding pickle the status holds the base64 text, which is how the gateway stores it.
      const output = encoding === "pickle" && typeof status.output === "string" ? status.output : JSON.stringify(status.output);
      return { kind: "succeeded", output, attempts: started };
    }
    return {
      kind: "failed",
      type: "BadConfiguration",
      message: `the pod exited 0 without a result (${complete.message}): is spec.command the Hearth runtime?`,
      attempts: Math.max(started, 1),
    };
  }
  switch (complete.reason) {
    case "Running":
      // Every attempt ended but the batch Job has not concluded yet: the end is a moment away.
      return started > ended ? { kind: "running", started } : { kind: "none" };
    case "FunctionNotFound":
      return { kind: "failed", type: "BadConfiguration", message: `${complete.message}: the Function was deleted before the call ran`, attempts: ended };
    default:
      return { kind: "waiting", ended, reason: complete.reason, message: complete.message };
  }
}
