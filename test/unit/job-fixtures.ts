// Builders for the Job controller's unit tests: Hearth Jobs, Functions, batch Jobs and pods as
// the apiserver would show them at each step of an isolated invocation.
import {
  hearthFunction,
  hearthJob,
  type FunctionSpecInput,
  type HearthFunction,
  type HearthJob,
  type JobSpec,
  type JobStatus,
} from "../../src/api/v1alpha1/index.ts";
import { batchJobView, podView, type BatchJobView, type PodView } from "../../src/controllers/job/views.ts";
import { workloadConfigSchema, type WorkloadConfig } from "../../src/workload/config.ts";

export const NS = "team-a";
export const JOB_UID = "11111111-2222-3333-4444-555555555555";
export const BATCH_UID = "bbbbbbbb-2222-3333-4444-555555555555";
export const T0 = "2026-01-01T00:00:00.000Z";

export function at(seconds: number): string {
  return new Date(Date.parse(T0) + seconds * 1000).toISOString();
}

export function aFunction(spec: Partial<FunctionSpecInput> = {}, name = "whisper"): HearthFunction {
  return hearthFunction.parse({
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Function",
    metadata: { name, namespace: NS, uid: "fn-uid", generation: 1 },
    spec: { image: "registry.example.com/whisper:1.4", handler: "app:Whisper", invocation: "isolated", ...spec },
  });
}

export function aJob(spec: Partial<JobSpec> = { functionRef: { name: "whisper" } }, status?: JobStatus, name = "run-1"): HearthJob {
  const obj: Record<string, unknown> = {
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Job",
    metadata: { name, namespace: NS, uid: JOB_UID, generation: 1 },
    spec,
  };
  if (status !== undefined) obj["status"] = status;
  return hearthJob.parse(obj);
}

/** The operator's pod rendering config in these tests: a time-sliced GPU cluster. */
export const WORKLOAD: WorkloadConfig = workloadConfigSchema.parse({ gpu: { strategy: "timeSlicing", timeSlicing: { replicas: 4 } } });

type Cond = { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string };

export function aBatchJob(conditions: Cond[] = [], opts: { owner?: string; backoffLimit?: number; activeDeadlineSeconds?: number; startTime?: string; completionTime?: string } = {}): BatchJobView {
  return batchJobView.parse({
    metadata: {
      name: "run-1-hearth",
      namespace: NS,
      uid: BATCH_UID,
      resourceVersion: "10",
      ownerReferences: [{ apiVersion: "hearth.dev/v1alpha1", kind: "Job", name: "run-1", uid: opts.owner ?? JOB_UID, controller: true }],
    },
    spec: {
      backoffLimit: opts.backoffLimit ?? 0,
      activeDeadlineSeconds: opts.activeDeadlineSeconds ?? 900,
      podFailurePolicy: { rules: [{ action: "Ignore", onPodConditions: [] }, { action: "FailJob", onExitCodes: { containerName: "worker", operator: "In", values: [2, 65] } }] },
      template: { spec: { containers: [{ name: "worker", image: "x" }] } },
    },
    status: { startTime: opts.startTime ?? at(1), completionTime: opts.completionTime, conditions },
  });
}

export interface PodOpts {
  readonly created?: number;
  readonly phase?: "Pending" | "Running" | "Succeeded" | "Failed";
  readonly exitCode?: number;
  readonly message?: string;
  readonly reason?: string;
  readonly waiting?: { reason: string; message?: string };
  readonly disrupted?: boolean;
  readonly owner?: string;
  readonly finishedAt?: number;
}

export function aPod(name: string, o: PodOpts = {}): PodView {
  const created = o.created ?? 1;
  const phase = o.phase ?? (o.exitCode === undefined ? "Running" : o.exitCode === 0 ? "Succeeded" : "Failed");
  let state: Record<string, unknown>;
  if (o.exitCode !== undefined) {
    state = {
      terminated: {
        exitCode: o.exitCode,
        reason: o.reason ?? (o.exitCode === 0 ? "Completed" : "Error"),
        message: o.message,
        startedAt: at(created + 1),
        finishedAt: at(o.finishedAt ?? created + 5),
      },
    };
  } else if (o.waiting !== undefined || phase === "Pending") {
    state = { waiting: o.waiting ?? { reason: "ContainerCreating" } };
  } else {
    state = { running: { startedAt: at(created + 1) } };
  }
  const conditions: Cond[] = [{ type: "Ready", status: phase === "Running" ? "True" : "False" }];
  if (o.disrupted === true) conditions.push({ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI", message: "Eviction API: evicting" });
  return podView.parse({
    metadata: {
      name,
      namespace: NS,
      uid: `uid-${name}`,
      resourceVersion: "1",
      creationTimestamp: at(created),
      labels: { "hearth.dev/job": "run-1" },
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "run-1-hearth", uid: o.owner ?? BATCH_UID, controller: true }],
    },
    status: {
      phase,
      startTime: phase === "Pending" ? undefined : at(created + 1),
      conditions,
      containerStatuses: [{ name: "worker", ready: phase === "Running", restartCount: 0, state }],
    },
  });
}

export const complete = (at_ = at(10)): Cond => ({ type: "Complete", status: "True", reason: "", lastTransitionTime: at_ });
export const failed = (reason: string, message = "", at_ = at(10)): Cond => ({ type: "Failed", status: "True", reason, message, lastTransitionTime: at_ });
