// gather → plan → apply, the plan part: given a Function and what the caches hold, decide what
// to apply and what the status says. Pure: no clock, no client, no randomness.
import { z } from "zod";
import { functionStatus, hearthFunction, type FunctionStatus, type HearthFunction } from "../../api/v1alpha1/index.ts";
import type { ApplyObject } from "../../kube/client.ts";
import { controllerOf, type Deployment, type Pod, type Unstructured } from "../../kube/objects.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { ANNOTATIONS, workerSelector } from "../../workload/labels.ts";
import { desiredObjects, type DesiredObjects } from "./desired.ts";
import { deploymentName, endpointOf } from "./names.ts";
import { gpuAwareProblems, observePool } from "./observe.ts";
import { computeStatus, statusChanged, transitionEvents, withAutoscalerStatus, type AutoscalerStatus, type Situation, type TransitionEvent } from "./status.ts";

export type ParsedFunction = { ok: true; fn: HearthFunction } | { ok: false; message: string };

/** Parses a cached Function (defaults applied); a message for the user if the spec is invalid. */
export function parseFunction(raw: Unstructured): ParsedFunction {
  const res = hearthFunction.safeParse(raw);
  if (res.success) return { ok: true, fn: res.data };
  const issues = res.error.issues.map((i) => `${i.path.join(".") || "(object)"}: ${i.message}`);
  return { ok: false, message: `the Function does not match hearth.dev/v1alpha1: ${issues.slice(0, 5).join("; ")}${issues.length > 5 ? ` (+${issues.length - 5} more)` : ""}` };
}

/** The status the Function carries now (as far as this controller is concerned). */
export function currentStatus(raw: Unstructured): FunctionStatus | undefined {
  const res = functionStatus.safeParse(raw["status"] ?? {});
  return res.success ? res.data : undefined;
}

export interface ObjectsInput {
  fn: HearthFunction;
  deployment: Deployment | undefined;
  config: WorkloadConfig;
  /** This controller's field manager (foreign managers of spec fields mean drift). */
  fieldManager: string;
  /** The drift signature already answered with an apply, so a stuck foreign field does not loop. */
  answeredDrift: string | undefined;
}

export interface ObjectsPlan {
  applyDeployment: ApplyObject | undefined;
  /** The warm pool must go (invocation: isolated). */
  deleteDeployment: boolean;
  /** Set when nothing may be applied; becomes the Degraded reason. */
  invalid: { reason: "InvalidGPU" | "InvalidSpec" | "DeploymentConflict"; message: string } | undefined;
  desired: DesiredObjects | undefined;
  /** Fingerprint of foreign owners of the Deployment's spec ("" when none). */
  driftSignature: string;
}

function ownedBy(obj: { metadata: { ownerReferences?: { uid: string; controller?: boolean | undefined; kind: string; apiVersion: string; name: string }[] | undefined } }, fn: HearthFunction): boolean {
  const ref = controllerOf(obj);
  return ref !== undefined && ref.kind === "Function" && ref.uid === fn.metadata.uid;
}

export function planObjects(input: ObjectsInput): ObjectsPlan {
  const { fn, deployment } = input;
  const plan: ObjectsPlan = { applyDeployment: undefined, deleteDeployment: false, invalid: undefined, desired: undefined, driftSignature: "" };

  if (deployment !== undefined && !ownedBy(deployment, fn)) {
    plan.invalid = {
      reason: "DeploymentConflict",
      message: `a Deployment named ${deploymentName(fn.metadata.name)} already exists and does not belong to this Function: rename the Function or remove that Deployment`,
    };
    return plan;
  }
  if (fn.spec.invocation === "isolated") {
    plan.deleteDeployment = deployment !== undefined;
    return plan;
  }

  const foreign = Object.entries(deployment?.specManagers ?? {})
    .filter(([m]) => m !== input.fieldManager)
    .map(([m, fp]) => `${m}:${fp}`)
    .sort()
    .join(",");
  plan.driftSignature = foreign;
  const replicasOwners = deployment?.replicasManagers ?? [];
  const setReplicas = replicasOwners.every((m) => m === input.fieldManager);

  const desired = desiredObjects(fn, input.config, { setReplicas });
  if (!desired.ok) {
    plan.invalid = { reason: desired.reason, message: desired.message };
    return plan;
  }
  plan.desired = desired.objects;

  const hashCurrent = deployment?.metadata.annotations?.[ANNOTATIONS.appliedHash] === desired.objects.deploymentHash;
  const drifted = foreign !== "" && foreign !== input.answeredDrift;
  if (!hashCurrent || drifted) plan.applyDeployment = desired.objects.deployment;
  return plan;
}

export interface StatusPlanInput {
  fn: HearthFunction;
  objects: ObjectsPlan;
  /** The Deployment after this reconcile's apply (or as cached). */
  deployment: Deployment | undefined;
  pods: readonly Pod[];
  previous: FunctionStatus | undefined;
  now: string;
  /** The built-in autoscaler's part of status (AutoscalerBoard), written with ours. */
  autoscaler?: AutoscalerStatus | undefined;
}

export interface StatusPlan {
  status: FunctionStatus;
  write: boolean;
  events: TransitionEvent[];
}

export function planStatus(input: StatusPlanInput): StatusPlan {
  const { fn, objects } = input;
  const namespace = fn.metadata.namespace ?? "default";
  const observed = input.deployment !== undefined && !objects.deleteDeployment ? observePool(input.deployment, input.pods) : undefined;
  const gpuResource = objects.desired?.gpu?.resource ?? input.previous?.gpu?.resource;
  const gpu = fn.spec.gpu !== undefined && gpuResource !== undefined ? { resource: gpuResource, type: fn.spec.gpu.type } : undefined;
  const pool = observed === undefined ? undefined : { ...observed, problems: gpuAwareProblems(observed.problems, gpu) };
  let situation: Situation;
  if (objects.invalid !== undefined) situation = { kind: "invalid", ...objects.invalid, pool: objects.invalid.reason === "DeploymentConflict" ? undefined : pool };
  else if (fn.spec.invocation === "isolated") situation = { kind: "isolated" };
  else situation = { kind: "pool", pool: pool ?? observePool(undefined, []), minReplicas: fn.spec.warmPool.minReplicas, setup: input.previous?.setup };
  const own = computeStatus({
    generation: fn.metadata.generation,
    namespace,
    name: fn.metadata.name,
    endpoint: endpointOf(namespace, fn.metadata.name),
    deployment: situation.kind === "isolated" || objects.invalid?.reason === "DeploymentConflict" ? undefined : deploymentName(fn.metadata.name),
    // While an invalid spec waits for a fix, the previous pool (and its GPU share) keeps serving.
    gpu: objects.desired?.gpu ?? (situation.kind === "invalid" && pool !== undefined ? input.previous?.gpu : undefined),
    selector: situation.kind === "isolated" ? undefined : selectorString(workerSelector(fn.metadata.name, "warm")),
    situation,
    previous: input.previous,
    now: input.now,
  });
  const status = withAutoscalerStatus(own, input.autoscaler);
  const write = statusChanged(input.previous, status);
  return { status, write, events: write ? transitionEvents(input.previous, status) : [] };
}

/** A label selector as the scale subresource wants it: "k=v,k=v" (sorted: deterministic status). */
export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Status for a Function whose spec does not parse (no objects are touched). */
export function invalidSpecStatus(raw: Unstructured, message: string, previous: FunctionStatus | undefined, now: string, autoscaler?: AutoscalerStatus): StatusPlan {
  const generation = z.number().optional().safeParse(raw.metadata["generation"]);
  const namespace = raw.metadata.namespace ?? "default";
  const own = computeStatus({
    generation: generation.success ? generation.data : undefined,
    namespace,
    name: raw.metadata.name,
    endpoint: endpointOf(namespace, raw.metadata.name),
    deployment: undefined,
    gpu: undefined,
    selector: undefined,
    situation: { kind: "invalid", reason: "InvalidSpec", message, pool: undefined },
    previous,
    now,
  });
  const status = withAutoscalerStatus(own, autoscaler);
  const write = statusChanged(previous, status);
  return { status, write, events: write ? transitionEvents(previous, status) : [] };
}
