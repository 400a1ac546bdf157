// Caches more than one controller reads, by their shared names (src/operator/caches.ts).
import type { Informer } from "../kube/informer.ts";
import type { Deployment, Pod, Unstructured } from "../kube/objects.ts";
import { hearthFunctions } from "../kube/resources.ts";
import type { Manager } from "../operator/manager.ts";
import { LABELS } from "../workload/labels.ts";
import { BY_FUNCTION, cachedDeployments, cachedPods, functionLabelKey } from "./function/caches.ts";
import { parseFunction, type ParsedFunction } from "./function/plan.ts";
import type { AutoscalerStatus } from "./function/status.ts";

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

/**
 * The autoscaler's status, handed in-process to the Function controller, whose one status
 * write carries it (one write and one field manager for all of status). Per Function key:
 * absent = not said yet (a new leader: the status's current part is kept), `null` = nothing
 * (not autoscaled: the fields go), else the part to write. The autoscaler paces what it
 * publishes (statusIntervalSeconds); each publish wakes the Function controller.
 */
export class AutoscalerBoard {
  /** An autoscaler runs in this process (else the Function controller writes no autoscaler part). */
  active = false;
  private readonly parts = new Map<string, AutoscalerStatus | null>();
  private readonly listeners: ((key: string) => void)[] = [];

  publish(key: string, part: AutoscalerStatus | null): void {
    this.parts.set(key, part);
    for (const l of this.listeners) l(key);
  }

  get(key: string): AutoscalerStatus | null | undefined {
    return this.parts.get(key);
  }

  forget(key: string): void {
    this.parts.delete(key);
  }

  subscribe(listener: (key: string) => void): void {
    this.listeners.push(listener);
  }
}

const boards = new WeakMap<Manager, AutoscalerBoard>();

/** The one board of an operator process (its manager). */
export function autoscalerBoard(manager: Manager): AutoscalerBoard {
  let b = boards.get(manager);
  if (b === undefined) {
    b = new AutoscalerBoard();
    boards.set(manager, b);
  }
  return b;
}

const parses = new WeakMap<Manager, (raw: Unstructured) => ParsedFunction>();

/**
 * parseFunction, remembered per cached Function object (the informer replaces the object on
 * every change, and never changes a cached one), shared by the controllers that read specs (the
 * Function controller and the autoscaler): a Function is parsed once per change, not once per
 * reconcile of each. The result is shared: read it, never change it.
 */
export function functionParses(manager: Manager): (raw: Unstructured) => ParsedFunction {
  let parse = parses.get(manager);
  if (parse === undefined) {
    const memo = new WeakMap<Unstructured, ParsedFunction>();
    parse = (raw) => {
      let p = memo.get(raw);
      if (p === undefined) {
        p = parseFunction(raw);
        memo.set(raw, p);
      }
      return p;
    };
    parses.set(manager, parse);
  }
  return parse;
}
