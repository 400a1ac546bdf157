// The objects a Function should own, as server-side-apply bodies: its warm pool's Deployment. Pure.
import { API_VERSION } from "../../api/v1alpha1/common.ts";
import type { HearthFunction, WarmPoolSpec } from "../../api/v1alpha1/index.ts";
import type { ApplyObject } from "../../kube/client.ts";
import type { GpuStatusSummary } from "../../gpu/plan.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { stableHash } from "../../workload/hash.ts";
import { ANNOTATIONS, LABELS, MANAGED_BY, workerSelector } from "../../workload/labels.ts";
import { renderPodTemplate } from "../../workload/render.ts";
import { deploymentName } from "./names.ts";

export interface DesiredObjects {
  deployment: ApplyObject;
  /** Hash of the Deployment body, also stored in its applied-hash annotation. */
  deploymentHash: string;
  configHash: string;
  gpu: GpuStatusSummary | undefined;
}

export type DesiredResult = { ok: true; objects: DesiredObjects } | { ok: false; reason: "InvalidGPU" | "InvalidSpec"; message: string };

export interface DesiredOptions {
  /** false when another field manager (an autoscaler) owns spec.replicas: we then leave it alone. */
  setReplicas: boolean;
}

function ownerReference(fn: HearthFunction): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind: "Function", name: fn.metadata.name, uid: fn.metadata.uid ?? "", controller: true, blockOwnerDeletion: true };
}

function ownedLabels(name: string): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.partOf]: "hearth", [LABELS.function]: name };
}

/**
 * The Deployment's replicas: warmPool.replicas (the scale subresource) or minReplicas when unset.
 * Hearth's own autoscaler stays inside [minReplicas, maxReplicas], so an edit of the bounds takes
 * effect at once; an external autoscaler (HPA, KEDA, kubectl scale) is obeyed as written.
 */
export function poolReplicas(pool: WarmPoolSpec): number {
  const r = pool.replicas ?? pool.minReplicas;
  return pool.autoscaler === "external" ? r : Math.min(Math.max(r, pool.minReplicas), pool.maxReplicas);
}

export function desiredObjects(fn: HearthFunction, config: WorkloadConfig, opts: DesiredOptions): DesiredResult {
  const name = fn.metadata.name;
  const namespace = fn.metadata.namespace ?? "default";
  // Workers show the gateway their pod's projected ServiceAccount token: no Secret to write
  // first, and nothing outside the template to fold into the config hash (rotating the HMAC
  // signing key no longer rolls warm pools).
  const rendered = renderPodTemplate(fn, config, { mode: "warm", workerToken: true });
  if (!rendered.ok) return rendered;

  const spec: Record<string, unknown> = {
    selector: { matchLabels: workerSelector(name, "warm") },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
    revisionHistoryLimit: 3,
    progressDeadlineSeconds: 600,
    template: rendered.template,
  };
  if (opts.setReplicas) spec["replicas"] = poolReplicas(fn.spec.warmPool);
  const labels = { ...ownedLabels(name), [LABELS.component]: "warm-pool" };
  const deploymentHash = stableHash(labels, spec, ownerReference(fn));
  const deployment: ApplyObject = {
    metadata: {
      name: deploymentName(name),
      namespace,
      labels,
      annotations: { [ANNOTATIONS.appliedHash]: deploymentHash, [ANNOTATIONS.configHash]: rendered.configHash },
      ownerReferences: [ownerReference(fn)],
    },
    spec,
  };
  return { ok: true, objects: { deployment, deploymentHash, configHash: rendered.configHash, gpu: rendered.gpu } };
}
