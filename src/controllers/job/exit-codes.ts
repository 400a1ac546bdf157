// The runtime contract's exit-code table (DESIGN.md, docs/protocol.md) as it applies to isolated
// batch Jobs: which class each code means and which podFailurePolicy action it gets.
import type { V1PodFailurePolicy } from "@kubernetes/client-node";
import { EXIT_CODES, type ExitErrorType } from "../../client/protocol.ts";

/** The classes an exit code can mean (docs/protocol.md); the codes themselves are the protocol's. */
export type FailureClass = ExitErrorType;

interface ExitCodeRule {
  readonly code: number;
  readonly failureClass: FailureClass;
  /** FailJob: retrying cannot help. Count: retried up to backoffLimit. */
  readonly action: "FailJob" | "Count";
}

const ACTIONS: Readonly<Record<FailureClass, ExitCodeRule["action"]>> = {
  UserError: "Count",
  BadConfiguration: "FailJob",
  InputRejected: "FailJob",
  Fatal: "Count",
  Timeout: "Count",
};

export const FAILURE_CLASSES = Object.keys(ACTIONS) as readonly FailureClass[];

export const EXIT_CODE_TABLE: readonly ExitCodeRule[] = FAILURE_CLASSES.map((c) => ({ code: EXIT_CODES[c], failureClass: c, action: ACTIONS[c] })).sort(
  (a, b) => a.code - b.code,
);

export function classifyExitCode(code: number): FailureClass | undefined {
  return EXIT_CODE_TABLE.find((r) => r.code === code)?.failureClass;
}

export function isFailureClass(s: string): s is FailureClass {
  return (FAILURE_CLASSES as readonly string[]).includes(s);
}

/**
 * Rules are evaluated in order and the first match wins. Disruption comes first: a pod that was
 * evicted or preempted is the cluster's doing whatever code its container died with (SIGTERM
 * usually gives 143). Exit-code rules name the runtime's container so that a sidecar (a mesh
 * proxy, say) exiting 2 cannot fail the Job; codes outside the table fall through to the Job
 * controller's default, which counts them like `Count`.
 */
export function podFailurePolicy(containerName: string): V1PodFailurePolicy {
  const codes = (action: ExitCodeRule["action"]): number[] => EXIT_CODE_TABLE.filter((r) => r.action === action).map((r) => r.code);
  return {
    rules: [
      { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
      { action: "FailJob", onExitCodes: { containerName, operator: "In", values: codes("FailJob") } },
      { action: "Count", onExitCodes: { containerName, operator: "In", values: codes("Count") } },
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
