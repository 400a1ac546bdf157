// A worker's compute resources: the Function's CPU, memory and scratch space plus its GPU plan's
// extended resources. Pure.
import type { HearthFunction } from "../api/v1alpha1/index.ts";

export interface ComputeResources {
  requests: Record<string, string>;
  limits: Record<string, string>;
}

export function computeResources(resources: HearthFunction["spec"]["resources"], gpuResources: Readonly<Record<string, string>>): ComputeResources {
  const requests: Record<string, string> = {
    cpu: String(resources.cpu),
    memory: String(resources.memory),
    "ephemeral-storage": String(resources.ephemeralStorage),
    ...gpuResources,
  };
  // No CPU limit: CFS throttling adds tail latency to inference; the request still reserves the cores.
  const limits: Record<string, string> = {
    memory: String(resources.memory),
    "ephemeral-storage": String(resources.ephemeralStorage),
    ...gpuResources,
  };
  return { requests, limits };
}
