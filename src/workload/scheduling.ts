// Where a worker pod may run and as whom: the operator config's service account, priority,
// pull secrets, node selector and tolerations, then the GPU plan's runtime class, tolerations
// (after the config's) and node affinity. Pure; the fields come in the order pod specs have always had them.
import type { V1LocalObjectReference, V1NodeSelectorRequirement, V1PodSpec, V1Toleration } from "@kubernetes/client-node";
import type { GpuPlan } from "../gpu/plan.ts";
import type { WorkloadConfig } from "./config.ts";

export type Scheduling = Pick<V1PodSpec, "serviceAccountName" | "priorityClassName" | "imagePullSecrets" | "nodeSelector" | "runtimeClassName" | "tolerations" | "affinity">;

export function scheduling(pod: WorkloadConfig["pod"], gpu: GpuPlan | undefined): Scheduling {
  const out: Scheduling = {};
  if (pod.serviceAccountName !== undefined) out.serviceAccountName = pod.serviceAccountName;
  if (pod.priorityClassName !== undefined) out.priorityClassName = pod.priorityClassName;
  if (pod.imagePullSecrets.length > 0) out.imagePullSecrets = pod.imagePullSecrets.map((n): V1LocalObjectReference => ({ name: n }));
  if (Object.keys(pod.nodeSelector).length > 0) out.nodeSelector = { ...pod.nodeSelector };
  const tolerations = [...pod.tolerations, ...(gpu?.tolerations ?? [])];
  if (gpu !== undefined && gpu.runtimeClassName !== undefined) out.runtimeClassName = gpu.runtimeClassName;
  if (tolerations.length > 0) out.tolerations = tolerations.map(toToleration);
  if (gpu !== undefined) {
    if (gpu.nodeSelector.length > 0) {
      const matchExpressions: V1NodeSelectorRequirement[] = gpu.nodeSelector.map((r) => ({ key: r.key, operator: "In", values: [...r.values] }));
      out.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions }] } } };
    }
  }
  return out;
}

function toToleration(t: { key?: string | undefined; operator?: string | undefined; value?: string | undefined; effect?: string | undefined; tolerationSeconds?: number | undefined }): V1Toleration {
  const out: V1Toleration = {};
  if (t.key !== undefined) out.key = t.key;
  if (t.operator !== undefined) out.operator = t.operator;
  if (t.value !== undefined) out.value = t.value;
  if (t.effect !== undefined) out.effect = t.effect;
  if (t.tolerationSeconds !== undefined) out.tolerationSeconds = t.tolerationSeconds;
  return out;
}
