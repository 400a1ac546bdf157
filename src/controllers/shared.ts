// Caches more than one controller reads, by their shared names (src/operator/caches.ts).
import type { Informer } from "../kube/informer.ts";
import type { Unstructured } from "../kube/objects.ts";
import { hearthFunctions } from "../kube/resources.ts";
import type { Manager } from "../operator/manager.ts";

/** Every hearth.dev Function of the watched namespaces: the Function, Job and Workflow controllers read it. */
export function functionsCache(manager: Manager): Informer<Unstructured> {
  return manager.caches.informer("functions", hearthFunctions);
}
