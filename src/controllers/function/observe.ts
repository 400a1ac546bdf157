// What the warm pool's pods and Deployment say, reduced to the few facts a user acts on. Pure
// and deterministic (pods are considered in name order) so that the same cluster state always
// yields the same status and an idle operator writes nothing.
import type { ContainerStatus, Deployment, Pod } from "../../kube/objects.ts";
import { describeExitCode } from "../../protocol/index.ts";

/** Worker problems by decreasing severity: the first one found names the Degraded reason. */
export const PROBLEM_REASONS = [
  "PodCreateFailed",
  "ImagePullBackOff",
  "ContainerConfigError",
  "BadConfiguration",
  "ChecksumMismatch",
  "DownloadFailed",
  "PackageInstallFailed",
  "SetupTimeout",
  "SetupFailing",
  "Unschedulable",
  "WaitingForGPU",
] as const;
export type ProblemReason = (typeof PROBLEM_REASONS)[number];

export interface Problem {
  reason: ProblemReason;
  /** Pods affected. */
  pods: number;
  /** The first affected pod (by name). */
  example: string;
  message: string;
}

export interface PoolObservation {
  /** spec.replicas of the Deployment (what the pool should have now). */
  desired: number;
  replicas: number;
  ready: number;
  updated: number;
  available: number;
  /** The Deployment controller has seen the latest spec. */
  observedLatest: boolean;
  /** The Deployment gave up progressing (progressDeadlineSeconds passed). */
  deadlineExceeded: string | undefined;
  problems: Problem[];
}

const IMAGE_PULL = new Set(["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable", "SignatureValidationFailed"]);
const CONFIG_ERRORS = new Set(["CreateContainerConfigError", "CreateContainerError", "PreCreateHookError", "PreStartHookError"]);
const CRASHING = new Set(["CrashLoopBackOff", "RunContainerError", "PostStartHookError"]);

function describeExit(code: number, reason: string | undefined, message: string | undefined): string {
  const cls = describeExitCode(code);
  let s = `exit code ${code}${cls !== undefined ? ` (${cls})` : ""}`;
  if (reason === "OOMKilled") s = `exit code ${code} (OOMKilled: raise spec.resources.memory)`;
  const msg = message?.trim();
  if (msg !== undefined && msg !== "") s += `: ${msg.length > 300 ? `${msg.slice(0, 300)}…` : msg}`;
  return s;
}

/** One pod's problem, if it has one. */
export function podProblem(pod: Pod): { reason: ProblemReason; message: string } | undefined {
  const statuses: ContainerStatus[] = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])];
  for (const c of statuses) {
    const w = c.state?.waiting;
    if (w?.reason !== undefined && IMAGE_PULL.has(w.reason)) {
      return { reason: "ImagePullBackOff", message: `container ${c.name} cannot pull its image${c.image !== undefined ? ` ${c.image}` : ""}: ${w.message ?? w.reason}` };
    }
  }
  for (const c of statuses) {
    const w = c.state?.waiting;
    if (w?.reason !== undefined && CONFIG_ERRORS.has(w.reason)) {
      return { reason: "ContainerConfigError", message: `container ${c.name} cannot start (${w.reason}): ${w.message ?? "check env, envFrom and volumes"}` };
    }
  }
  for (const c of statuses) {
    if (c.ready) continue;
    const w = c.state?.waiting;
    const last = c.lastState?.terminated;
    const now = c.state?.terminated;
    const crashed = (w?.reason !== undefined && CRASHING.has(w.reason)) || (last !== undefined && last.exitCode !== 0) || (now !== undefined && now.exitCode !== 0);
    if (crashed) {
      const t = now ?? last;
      const detail = t !== undefined ? describeExit(t.exitCode, t.reason, t.message) : (w?.message ?? w?.reason ?? "crashing");
      // The init steps (src/workload/artifacts.ts, render.ts) say why in their termination message.
      const initReason = initFailureReason(c.name, t?.message);
      if (initReason !== undefined) return { reason: initReason, message: `init container ${c.name} failed (restarts: ${c.restartCount}): ${detail}` };
      // A warm worker exits 124 only when setup() outlived its deadline (task timeouts re-spawn its child).
      if (t?.exitCode === 124) return { reason: "SetupTimeout", message: `container ${c.name} did not finish setup() in time (restarts: ${c.restartCount}): ${detail}` };
      return { reason: "SetupFailing", message: `container ${c.name} keeps failing before it is ready (restarts: ${c.restartCount}): ${detail}` };
    }
  }
  const scheduled = pod.status.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled !== undefined && scheduled.status === "False" && scheduled.reason === "Unschedulable") {
    return { reason: "Unschedulable", message: scheduled.message ?? "no node can run this pod" };
  }
  return undefined;
}

/** An artifact download or package install that failed, by its init container and message. */
export function initFailureReason(container: string, message: string | undefined): ProblemReason | undefined {
  if (container === "fetch-artifacts") return message?.trimStart().startsWith("ChecksumMismatch") === true ? "ChecksumMismatch" : "DownloadFailed";
  if (container === "install-packages") return "PackageInstallFailed";
  return undefined;
}

export function observePool(deployment: Deployment | undefined, pods: readonly Pod[]): PoolObservation {
  const st = deployment?.status ?? {};
  const desired = deployment?.spec.replicas ?? 0;
  const generation = deployment?.metadata.generation;
  const obs: PoolObservation = {
    desired,
    replicas: st.replicas ?? 0,
    ready: st.readyReplicas ?? 0,
    updated: st.updatedReplicas ?? 0,
    available: st.availableReplicas ?? 0,
    observedLatest: deployment !== undefined && (generation === undefined || (st.observedGeneration ?? 0) >= generation),
    deadlineExceeded: undefined,
    problems: [],
  };
  const progressing = st.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.status === "False" && progressing.reason === "ProgressDeadlineExceeded") obs.deadlineExceeded = progressing.message ?? "the rollout made no progress";
  const failure = st.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  const byReason = new Map<ProblemReason, Problem>();
  if (failure !== undefined) {
    byReason.set("PodCreateFailed", { reason: "PodCreateFailed", pods: 0, example: "", message: `pods cannot be created: ${failure.message ?? failure.reason ?? "unknown reason"}` });
  }
  const live = pods.filter((p) => p.metadata.deletionTimestamp === undefined && p.status.phase !== "Succeeded" && p.status.phase !== "Failed");
  live.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  for (const pod of live) {
    const p = podProblem(pod);
    if (p === undefined) continue;
    const seen = byReason.get(p.reason);
    if (seen === undefined) byReason.set(p.reason, { reason: p.reason, pods: 1, example: pod.metadata.name, message: p.message });
    else seen.pods++;
  }
  obs.problems = PROBLEM_REASONS.flatMap((r) => {
    const p = byReason.get(r);
    return p === undefined ? [] : [p];
  });
  return obs;
}

/**
 * Unschedulable workers of a GPU Function wait for GPU capacity: say which resource and GPU type
 * ("waiting for nvidia.com/gpu.shared on t4"), so the user knows it is capacity, not a broken spec.
 * Queued calls are kept meanwhile; the pool grows once a node with that GPU appears.
 */
export function gpuAwareProblems(problems: readonly Problem[], gpu: { resource: string; type: string | undefined } | undefined): Problem[] {
  if (gpu === undefined) return [...problems];
  return problems.map((p) => {
    if (p.reason !== "Unschedulable") return p;
    const on = gpu.type !== undefined ? ` on ${gpu.type}` : "";
    return { ...p, reason: "WaitingForGPU", message: `waiting for ${gpu.resource}${on} (${p.message}); queued calls wait` };
  });
}
