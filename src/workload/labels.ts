// Labels and annotations Hearth puts on the objects it creates. Selectors depend on them, so
// they are part of the public contract: renaming one orphans running workers.

export const LABELS = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  partOf: "app.kubernetes.io/part-of",
  /** Name of the Function a pod, Deployment or Secret belongs to. */
  function: "hearth.dev/function",
  /** `warm` (pool pods) or `oneshot` (isolated batch Job pods). */
  workerMode: "hearth.dev/worker-mode",
} as const;

export const ANNOTATIONS = {
  /** Hash of everything a worker pod is made of: a change rolls the pool. */
  configHash: "hearth.dev/config-hash",
  /** Hash of the last applied object, to skip applies that would change nothing. */
  appliedHash: "hearth.dev/applied-hash",
  /**
   * On the worker-token Secret older operators wrote per Function (warm workers now use
   * projected ServiceAccount tokens): how the operator recognises one to delete after the upgrade.
   */
  tokenHash: "hearth.dev/token-hash",
} as const;

export const MANAGED_BY = "hearth";
export const WORKER_CONTAINER = "worker";
export const HEALTH_PORT_NAME = "health";

export type WorkerMode = "warm" | "oneshot";

/** Labels every worker pod of `fn` carries in `mode`; the first two are the Deployment selector. */
export function workerSelector(functionName: string, mode: WorkerMode): Record<string, string> {
  return { [LABELS.function]: functionName, [LABELS.workerMode]: mode };
}

export function workerLabels(functionName: string, mode: WorkerMode): Record<string, string> {
  return {
    [LABELS.name]: "hearth-worker",
    [LABELS.instance]: functionName,
    [LABELS.component]: "worker",
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.partOf]: "hearth",
    ...workerSelector(functionName, mode),
  };
}
