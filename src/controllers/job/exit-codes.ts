// The runtime contract's exit-code table (src/protocol/exit-codes.ts) as it applies to isolated
// batch Jobs: a class retrying cannot help fails the Job at once (FailJob), the others are
// counted against backoffLimit (Count).
import type { V1PodFailurePolicy } from "@kubernetes/client-node";
import { EXIT_CLASSES, EXIT_ERROR_TYPES, type ExitErrorType } from "../../protocol/index.ts";

/** Whether a failure of this class ends the batch Job at once (podFailurePolicy FailJob). */
export function failsJobAtOnce(type: ExitErrorType | undefined): boolean {
  return type !== undefined && !EXIT_CLASSES[type].retryable;
}

/**
 * Rules are evaluated in order and the first match wins. Disruption comes first: a pod that was
 * evicted or preempted is the cluster's doing whatever code its container died with (SIGTERM
 * usually gives 143). Exit-code rules name the runtime's container so that a sidecar (a mesh
 * proxy, say) exiting 2 cannot fail the Job; codes outside the table fall through to the Job
 * controller's default, which counts them like `Count`.
 */
export function podFailurePolicy(containerName: string): V1PodFailurePolicy {
  const codes = (failJob: boolean): number[] =>
    EXIT_ERROR_TYPES.filter((t) => failsJobAtOnce(t) === failJob)
      .map((t) => EXIT_CLASSES[t].code)
      .sort((a, b) => a - b);
  return {
    rules: [
      { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
      { action: "FailJob", onExitCodes: { containerName, operator: "In", values: codes(true) } },
      { action: "Count", onExitCodes: { containerName, operator: "In", values: codes(false) } },
    ],
  };
}

/** kube-controller-manager's pod failure backoff (pkg/controller/job: 10 s doubling, 10 min cap). */
export const BATCH_BACKOFF_BASE_SECONDS = 10;
export const BATCH_BACKOFF_MAX_SECONDS = 600;

/** Sum of the Job controller's waits before retries 1..retries. */
export function batchBackoffTotalSeconds(retries: number): number {
  let total = 0;
  for (let i = 0; i < retries; i++) total += Math.min(BATCH_BACKOFF_BASE_SECONDS * 2 ** i, BATCH_BACKOFF_MAX_SECONDS);
  return total;
}
