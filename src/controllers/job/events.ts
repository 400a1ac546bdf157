// Kubernetes Events for the transitions a user wants to see in `kubectl describe hjob`, derived
// by comparing the stored status with the new one (so a reconcile that changes nothing says nothing).
import type { Attempt, JobStatus } from "../../api/v1alpha1/index.ts";
import { findCondition } from "./conditions.ts";

export interface JobEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

/** Waiting reasons worth an Event when a Job enters them; Pending/Running/BackingOff churn is not. */
const WAITING_EVENTS: Readonly<Record<string, JobEvent["type"]>> = {
  FunctionNotFound: "Warning",
  InputNotFound: "Warning",
  BatchJobConflict: "Warning",
  InvalidSpec: "Warning",
  GatewayUnavailable: "Warning",
};

const FAILED_ATTEMPT_REASONS = new Set(["Succeeded", "Running", "Pending", "Disrupted"]);

function attemptEnded(a: Attempt): "failed" | "disrupted" | undefined {
  if (a.reason === "Disrupted") return a.endTime !== undefined ? "disrupted" : undefined;
  if (a.endTime === undefined || a.reason === undefined || FAILED_ATTEMPT_REASONS.has(a.reason)) return undefined;
  return "failed";
}

export function transitionEvents(prev: JobStatus | undefined, next: JobStatus): JobEvent[] {
  // No Event for creating the batch Job: status.batchJob names it, and kube-controller-manager
  // already reports its pods; an Event per Job would be a write per Job for nothing new. Nor for
  // a success: the Complete condition (its reason, message and lastTransitionTime) says it, and
  // the batch Job's own `Completed` Event too; an Event POST cost the control plane 1.1–2.5 ms
  // of CPU (bench/support/op-cost-jobs.ts), about a tenth of what a Hearth Job adds to its
  // batch Job. Failures, failed or disrupted attempts and reasons to wait keep their Events.
  const events: JobEvent[] = [];

  const before = new Map((prev?.attempts ?? []).map((a) => [a.pod, a]));
  for (const a of next.attempts ?? []) {
    const ended = attemptEnded(a);
    if (ended === undefined) continue;
    const old = before.get(a.pod);
    if (old !== undefined && attemptEnded(old) === ended) continue;
    const what = `attempt ${a.index + 1} (pod ${a.pod ?? "?"})`;
    const detail = `${a.exitCode !== undefined ? `exit code ${a.exitCode}` : ""}${a.message !== undefined ? `: ${a.message}` : ""}`;
    events.push(
      ended === "disrupted"
        ? { type: "Normal", reason: "AttemptDisrupted", message: `${what} was disrupted; not counted as a try${a.message !== undefined ? `: ${a.message}` : ""}` }
        : { type: "Warning", reason: "AttemptFailed", message: `${what} failed with ${a.reason ?? "an error"}${detail !== "" ? ` (${detail})` : ""}` },
    );
  }

  const wasComplete = findCondition(prev?.conditions, "Complete");
  const complete = findCondition(next.conditions, "Complete");
  const failed = findCondition(next.conditions, "Failed");
  if (failed?.status === "True" && findCondition(prev?.conditions, "Failed")?.status !== "True") {
    events.push({ type: "Warning", reason: "Failed", message: `${failed.reason}: ${failed.message}` });
  } else if (complete !== undefined && complete.status === "False" && complete.reason !== wasComplete?.reason) {
    const type = WAITING_EVENTS[complete.reason];
    if (type !== undefined) events.push({ type, reason: complete.reason, message: complete.message });
  }
  return events;
}
