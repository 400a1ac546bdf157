// Which informer updates can change what planJob decides (watch predicates). kube-controller-manager
// and the kubelet (kwok) update batch Jobs and pods many times per Job — ready counts, conditions,
// finalizers, IPs — and only some of those fields reach the plan; a reconcile for the others
// costs a queue slot and does nothing. Pure: each projection lists exactly what the plan reads
// (attempts.ts, outcome.ts, plan.ts), so a field added there must be added here.
import { isDeepStrictEqual } from "node:util";
import { GENERIC_WAITING } from "./outcome.ts";
import type { BatchJobView, ContainerStatusView, PodView } from "./views.ts";

/** The metadata the plan reads of a batch Job or pod: identity, ownership, deletion, the Job label. */
function metaOf(m: BatchJobView["metadata"]): unknown {
  return [m.name, m.uid, m.deletionTimestamp, m.labels, m.ownerReferences];
}

function statesOf(cs: readonly ContainerStatusView[] | undefined): unknown {
  return cs?.map((c) => [c.name, c.state]);
}

/** What attemptFromPod (attempts.ts) reads of a pod. */
export function podProjection(p: PodView): unknown {
  const s = p.status;
  return [
    metaOf(p.metadata),
    s?.phase,
    s?.reason,
    s?.message,
    s?.startTime,
    // Only DisruptionTarget and an Unschedulable PodScheduled change an attempt; Ready & co. do not.
    // (Absent and empty lists project alike: the first Ready-type conditions are no news either.)
    (s?.conditions ?? []).filter((c) => c.type === "DisruptionTarget" || (c.type === "PodScheduled" && c.status === "False")),
    statesOf(s?.containerStatuses),
    statesOf(s?.initContainerStatuses),
  ];
}

/** What observeBatchJob and deriveOutcome (outcome.ts) read of a batch Job. */
export function batchJobProjection(b: BatchJobView): unknown {
  const s = b.status;
  return [
    metaOf(b.metadata),
    b.spec?.backoffLimit,
    b.spec?.activeDeadlineSeconds,
    b.spec?.podFailurePolicy,
    // Not startTime: KCM sets it as it makes the first pod, and the plan only copies it into a
    // status written for something else (the pod's own events come right after).
    s?.completionTime,
    // Its end only: SuccessCriteriaMet/FailureTarget come just before, counts change throughout.
    (s?.conditions ?? []).filter((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True"),
  ];
}

export const podChanged = (a: PodView, b: PodView): boolean => !isDeepStrictEqual(podProjection(a), podProjection(b));
export const batchJobChanged = (a: BatchJobView, b: BatchJobView): boolean => !isDeepStrictEqual(batchJobProjection(a), batchJobProjection(b));

/** A container not started: no state yet, or waiting for nothing in particular (ContainerCreating). */
function notStarted(cs: readonly ContainerStatusView[] | undefined): boolean {
  return (cs ?? []).every((c) => c.state?.running === undefined && c.state?.terminated === undefined && GENERIC_WAITING.has(c.state?.waiting?.reason ?? "Pending"));
}

/**
 * A pod that is merely created: Pending, nothing started, no reason or message, not being
 * deleted, no condition the plan reads. Planned with, it is a Pending attempt, and a Job with no
 * status yet gets none for that (plan.ts `idlePending`); the pod's next update that the plan reads
 * (unschedulable, started, ended, disrupted) wakes the Job anyway. So the add of such a pod, for
 * a Job without a status, wakes nothing (the controller checks the Job): one reconcile fewer per Job.
 */
export function isFreshPod(p: PodView): boolean {
  const s = p.status;
  return (
    p.metadata.deletionTimestamp === undefined &&
    (s?.phase ?? "Pending") === "Pending" &&
    s?.reason === undefined &&
    s?.message === undefined &&
    s?.startTime === undefined &&
    notStarted(s?.containerStatuses) &&
    notStarted(s?.initContainerStatuses) &&
    !(s?.conditions ?? []).some((c) => c.type === "DisruptionTarget" || (c.type === "PodScheduled" && c.status === "False"))
  );
}
