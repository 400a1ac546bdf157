// Caches more than one controller reads, by their shared names (src/operator/caches.ts).
import type { Informer } from "../kube/informer.ts";
import type { Deployment, Pod, Unstructured } from "../kube/objects.ts";
import { hearthFunctions } from "../kube/resources.ts";
import type { Manager } from "../operator/manager.ts";
import { LABELS } from "../workload/labels.ts";
import { BY_FUNCTION, cachedDeployments, cachedPods, functionLabelKey } from "./function/caches.ts";

/** Every hearth.dev Function of the watched namespaces: the Function, Job and Workflow controllers read it. */
export function functionsCache(manager: Manager): Informer<Unstructured> {
  return manager.caches.informer("functions", hearthFunctions);
}

/** Deployments of the watched namespaces (slimmed, caches.ts): the Function controller and the autoscaler read them. */
export function warmPoolDeployments(manager: Manager): Informer<Deployment> {
  return manager.caches.informer("function-deployments", cachedDeployments);
}

/** Warm workers' pods indexed by Function (BY_FUNCTION): the Function controller and the autoscaler read them. */
export function warmPoolPods(manager: Manager): Informer<Pod> {
  return manager.caches.informer("function-pods", cachedPods, {
    labelSelector: `${LABELS.function},${LABELS.workerMode}=warm`,
    indexers: { [BY_FUNCTION]: functionLabelKey },
  });
}
