// The objects a Function should own, as server-side-apply bodies. Pure.
import { API_VERSION } from "../../api/v1alpha1/common.ts";
import type { HearthFunction, WarmPoolSpec } from "../../api/v1alpha1/index.ts";
import { workerToken } from "../../auth/worker-token.ts";
import type { ApplyObject } from "../../kube/client.ts";
import type { GpuStatusSummary } from "../../gpu/plan.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { stableHash } from "../../workload/hash.ts";
import { ANNOTATIONS, LABELS, MANAGED_BY, workerSelector } from "../../workload/labels.ts";
import { renderPodTemplate, WORKER_TOKEN_KEY } from "../../workload/render.ts";
import { deploymentName, workerSecretName } from "./names.ts";

export interface DesiredObjects {
  secret: ApplyObject;
  /** Hash of the token, in the Secret's token-hash annotation (the cache holds Secret metadata only). */
  tokenHash: string;
  deployment: ApplyObject;
  /** Hash of the Deployment body, also stored in its applied-hash annotation. */
  deploymentHash: string;
  configHash: string;
  gpu: GpuStatusSummary | undefined;
}

export type DesiredResult = { ok: true; objects: DesiredObjects } | { ok: false; reason: "InvalidGPU" | "InvalidSpec"; message: string };

export interface DesiredOptions {
  signingKey: string;
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
  const token = workerToken(opts.signingKey, namespace, name);
  const tokenData = Buffer.from(token).toString("base64");
  const tokenHash = stableHash(token);
  const secret: ApplyObject = {
    metadata: { name: workerSecretName(name), namespace, labels: ownedLabels(name), annotations: { [ANNOTATIONS.tokenHash]: tokenHash }, ownerReferences: [ownerReference(fn)] },
    type: "Opaque",
    data: { [WORKER_TOKEN_KEY]: tokenData },
  };

  const rendered = renderPodTemplate(fn, config, {
    mode: "warm",
    workerSecretName: workerSecretName(name),
    // The token reaches pods through a Secret reference, which does not roll pods when it
    // changes: fold it into the config hash so that a new signing key rolls the pool.
    hashInputs: { token: tokenHash },
  });
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
  return { ok: true, objects: { secret, tokenHash, deployment, deploymentHash, configHash: rendered.configHash, gpu: rendered.gpu } };
}
