// One attempt per pod of the batch Job: what the pod says about how the attempt went.
import type { Attempt } from "../../api/v1alpha1/index.ts";
import { errorTypeOfExitCode, type ExitErrorType } from "../../protocol/index.ts";
import { clip, parseTerminationMessage, type OneshotResult } from "./result.ts";
import type { ContainerStatusView, PodView } from "./views.ts";

/** Attempt messages are clipped so that 128 attempts stay far below etcd's object limit. */
export const MAX_ATTEMPT_MESSAGE = 1024;
/** The status schema holds this many attempts; older ones are dropped first. */
export const MAX_ATTEMPTS_IN_STATUS = 128;

export interface AttemptFacts {
  readonly attempt: Attempt;
  /** The pod has ended (Succeeded or Failed). */
  readonly terminal: boolean;
  readonly succeeded: boolean;
  /** Disrupted (preempted, evicted, drained): podFailurePolicy ignores it, so it is no retry. */
  readonly disrupted: boolean;
  /** Failed, not disrupted: uses up one try. */
  readonly counted: boolean;
  readonly failureClass?: ExitErrorType;
  readonly result: OneshotResult;
}

const SIGNALS: Record<number, string> = { 130: "SIGINT", 134: "SIGABRT", 137: "SIGKILL", 139: "SIGSEGV", 143: "SIGTERM" };

function describeExit(code: number, reason: string | undefined): string {
  const signal = SIGNALS[code];
  const why = reason !== undefined && reason !== "Error" && reason !== "Completed" ? ` (${reason})` : signal !== undefined ? ` (${signal})` : "";
  return `exited with code ${code}${why}`;
}

function isTrue(pod: PodView, type: string): { message?: string | undefined } | undefined {
  return pod.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

function mainStatus(pod: PodView, container: string): ContainerStatusView | undefined {
  const all = pod.status?.containerStatuses ?? [];
  return all.find((c) => c.name === container) ?? all[0];
}

/** An init container (pythonPackages install) that failed ends the pod before the runtime starts. */
function failedInit(pod: PodView): ContainerStatusView | undefined {
  return pod.status?.initContainerStatuses?.find((c) => c.state?.terminated !== undefined && c.state.terminated.exitCode !== 0);
}

function set<K extends keyof Attempt>(a: Attempt, key: K, value: Attempt[K] | undefined): void {
  if (value !== undefined) a[key] = value;
}

export function attemptFromPod(pod: PodView, container: string, index: number): AttemptFacts {
  const phase = pod.status?.phase ?? "Pending";
  const terminal = phase === "Succeeded" || phase === "Failed";
  const disruption = isTrue(pod, "DisruptionTarget");
  const init = phase === "Failed" ? failedInit(pod) : undefined;
  const cs = init ?? mainStatus(pod, container);
  const term = cs?.state?.terminated;
  const result = init === undefined ? parseTerminationMessage(term?.message) : ({ kind: "empty" } as const);

  const attempt: Attempt = { index, pod: pod.metadata.name };
  set(attempt, "startTime", pod.status?.startTime ?? cs?.state?.running?.startedAt ?? term?.startedAt);
  if (terminal) set(attempt, "endTime", term?.finishedAt ?? pod.metadata.deletionTimestamp);

  let failureClass: ExitErrorType | undefined;
  let reason: string;
  let message: string | undefined;
  if (term !== undefined && terminal) {
    attempt.exitCode = term.exitCode;
    failureClass = init === undefined && term.exitCode !== 0 ? errorTypeOfExitCode(term.exitCode) : undefined;
    reason = term.exitCode === 0 ? "Succeeded" : (failureClass ?? term.reason ?? "Error");
    switch (result.kind) {
      case "error":
        message = result.message;
        break;
      case "invalid":
        message = result.text;
        break;
      case "truncated":
        message = `termination message was cut at ${result.bytes} bytes`;
        break;
      case "output":
      case "outputB64":
      case "outputRef":
      case "empty":
        message = term.exitCode === 0 ? undefined : describeExit(term.exitCode, term.reason);
        break;
    }
    if (init !== undefined) message = `init container ${init.name} ${describeExit(term.exitCode, term.reason)}${term.message ? `: ${term.message}` : ""}`;
  } else if (terminal) {
    // Failed without a terminated container: the pod never ran (node lost, rejected by admission).
    reason = phase === "Succeeded" ? "Succeeded" : "Failed";
    message = pod.status?.message ?? pod.status?.reason;
  } else if (cs?.state?.running !== undefined) {
    reason = "Running";
  } else {
    // Why a pod waits: the scheduler's verdict (no node with a free GPU, say), else the kubelet's.
    const unschedulable = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable");
    reason = unschedulable !== undefined ? "Unschedulable" : (cs?.state?.waiting?.reason ?? "Pending");
    message = unschedulable !== undefined ? unschedulable.message : cs?.state?.waiting?.message;
  }
  if (disruption !== undefined) {
    reason = "Disrupted";
    message = disruption.message ?? message;
  }
  attempt.reason = reason;
  if (message !== undefined && message !== "") attempt.message = clip(message, MAX_ATTEMPT_MESSAGE);

  const succeeded = phase === "Succeeded";
  const disrupted = disruption !== undefined;
  const facts: AttemptFacts = { attempt, terminal, succeeded, disrupted, counted: phase === "Failed" && !disrupted, result };
  return failureClass === undefined ? facts : { ...facts, failureClass };
}

function byCreation(a: PodView, b: PodView): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/**
 * Attempts recorded earlier keep their place and index (their pods may since have been
 * garbage-collected); pods seen for the first time are appended in creation order.
 */
export function mergeAttempts(
  previous: readonly Attempt[],
  pods: readonly PodView[],
  container: string,
): { attempts: Attempt[]; facts: AttemptFacts[] } {
  const byPod = new Map(pods.map((p) => [p.metadata.name, p]));
  const known = new Set<string>();
  const facts: AttemptFacts[] = [];
  const attempts: Attempt[] = [];
  let next = 0;
  for (const a of previous) {
    next = Math.max(next, a.index + 1);
    const pod = a.pod === undefined ? undefined : byPod.get(a.pod);
    if (a.pod !== undefined) known.add(a.pod);
    if (pod === undefined) {
      // Deleted before anyone saw how it ended (say, while the operator was down).
      const ended = a.endTime !== undefined || a.reason === "Lost";
      attempts.push(ended ? a : { ...a, reason: "Lost", message: "the pod was deleted before its end was observed" });
      continue;
    }
    const f = attemptFromPod(pod, container, a.index);
    facts.push(f);
    attempts.push(f.attempt);
  }
  for (const pod of [...pods].sort(byCreation)) {
    if (known.has(pod.metadata.name)) continue;
    const f = attemptFromPod(pod, container, next++);
    facts.push(f);
    attempts.push(f.attempt);
  }
  return { attempts: attempts.slice(-MAX_ATTEMPTS_IN_STATUS), facts };
}
