// What the controllers read from Kubernetes objects, as zod schemas. Parsing strips every field
// not listed (managedFields, pod specs, …), which is also what keeps informer caches small: the
// operator holds thousands of Deployments and Pods in memory.
import { z } from "zod";

const stringMap = z.record(z.string(), z.string());

export const ownerReference = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});
export type OwnerReference = z.infer<typeof ownerReference>;

/** The ObjectMeta fields controllers use. */
export const meta = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  ownerReferences: z.array(ownerReference).optional(),
  finalizers: z.array(z.string()).optional(),
});
export type Meta = z.infer<typeof meta>;

/** Anything with metadata: the constraint for typed clients and informers. */
export interface KubeObject {
  metadata: { name: string; namespace?: string | undefined; uid?: string | undefined; resourceVersion?: string | undefined };
}

/** Annotations dropped from cached objects: client-side `kubectl apply` copies the whole object into it. */
const HEAVY_ANNOTATIONS = ["kubectl.kubernetes.io/last-applied-configuration"];

const looseMeta = meta.loose();

/** ObjectMeta without managedFields and the heavy annotations (the unstructured schema's transform, and its view's). */
export function withoutHeavyFields(m: z.output<typeof looseMeta>) {
  const { managedFields: _managed, ...rest } = m;
  if (rest.annotations !== undefined && HEAVY_ANNOTATIONS.some((a) => a in (rest.annotations ?? {}))) {
    const annotations = { ...rest.annotations };
    for (const a of HEAVY_ANNOTATIONS) delete annotations[a];
    rest.annotations = annotations;
  }
  return rest;
}

/**
 * Any object, keeping every field except `metadata.managedFields` and kubectl's
 * last-applied-configuration annotation (each can be larger than the object itself, and
 * informer caches hold thousands of objects).
 */
export const unstructured = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: looseMeta.transform(withoutHeavyFields),
});
export type Unstructured = z.infer<typeof unstructured>;

/** FNV-1a, 32 bit: a cheap fingerprint for cached values (not for security). */
export function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

function nonEmpty(fields: unknown): boolean {
  return typeof fields === "object" && fields !== null && Object.keys(fields).some((k) => k !== ".");
}

export interface ManagedFieldsView {
  /** Managers owning spec.replicas (directly or through the scale subresource). */
  replicasManagers: string[];
  /** Per manager, a fingerprint of the other spec fields it owns. */
  specManagers: Record<string, string>;
  /**
   * Managers owning spec fields through an update (a create, PUT or patch), not an apply; absent
   * when none. A controller that creates with POST and later applies adopts those fields into its
   * apply first (src/kube/ownership.ts), so that fields it stops applying are removed.
   */
  updateManagers?: string[];
}

/** What the Deployment cache keeps of `managedFields` (the schema's transform, and the view's). */
export function managedFieldsView(entries: readonly ManagedFieldsEntry[] | undefined): ManagedFieldsView {
  const replicasManagers: string[] = [];
  const specManagers: Record<string, string> = {};
  let updateManagers: string[] | undefined;
  for (const e of entries ?? []) {
    const f = e.fieldsV1;
    if (e.manager === undefined || (e.subresource !== undefined && e.subresource !== "scale")) continue;
    if (typeof f !== "object" || f === null || !("f:spec" in f)) continue;
    const spec = f["f:spec"];
    if (typeof spec !== "object" || spec === null) continue;
    if (e.operation === "Update" && e.subresource === undefined) (updateManagers ??= []).push(e.manager);
    if ("f:replicas" in spec) replicasManagers.push(e.manager);
    const rest: Record<string, unknown> = { ...(spec as Record<string, unknown>) };
    delete rest["f:replicas"];
    const tmpl = rest["f:template"];
    if (typeof tmpl === "object" && tmpl !== null) {
      const t: Record<string, unknown> = { ...(tmpl as Record<string, unknown>) };
      delete t["f:metadata"];
      if (nonEmpty(t)) rest["f:template"] = t;
      else delete rest["f:template"];
    }
    if (nonEmpty(rest)) specManagers[e.manager] = fingerprint(JSON.stringify(rest));
  }
  // Spread: an array grown by push keeps room for 17 entries; informer caches hold thousands.
  const view: ManagedFieldsView = { replicasManagers: [...replicasManagers], specManagers };
  if (updateManagers !== undefined) view.updateManagers = [...updateManagers];
  return view;
}

const managedFieldsEntry = z.looseObject({ manager: z.string().optional(), operation: z.string().optional(), subresource: z.string().optional(), fieldsV1: z.unknown().optional() });
export type ManagedFieldsEntry = z.infer<typeof managedFieldsEntry>;

/**
 * `managedFields` reduced to what controllers decide on: who owns `spec.replicas` (an
 * autoscaler may), and a fingerprint per manager of the other spec fields it owns (a foreign
 * manager owning spec fields means someone edited the object by hand). Template metadata is
 * left out: `kubectl rollout restart` writes an annotation there, which is not drift.
 */
const managedFields = z.array(managedFieldsEntry).optional().transform(managedFieldsView);

const workloadCondition = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

const deploymentObject = z.object({
    metadata: meta.extend({ managedFields }),
    spec: z.object({ replicas: z.number().optional() }).default({}),
    status: z
      .object({
        observedGeneration: z.number().optional(),
        replicas: z.number().optional(),
        updatedReplicas: z.number().optional(),
        readyReplicas: z.number().optional(),
        availableReplicas: z.number().optional(),
        unavailableReplicas: z.number().optional(),
        conditions: z.array(workloadCondition).optional(),
      })
      .default({}),
  });
export const deployment = deploymentObject.transform(flattenManagedFields);
export type Deployment = z.output<typeof deployment>;

/** The Deployment schema's last step (and its view's): the managedFields view moves up beside metadata. */
export function flattenManagedFields({ metadata: { managedFields: fields, ...metadata }, ...rest }: z.output<typeof deploymentObject>) {
  return { ...rest, metadata, ...fields };
}

const terminated = z.object({
  exitCode: z.number(),
  reason: z.string().optional(),
  message: z.string().optional(),
  finishedAt: z.string().optional(),
});
const containerState = z.object({
  waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).optional(),
  running: z.object({ startedAt: z.string().optional() }).optional(),
  terminated: terminated.optional(),
});
export const containerStatus = z.object({
  name: z.string(),
  ready: z.boolean().default(false),
  restartCount: z.number().default(0),
  image: z.string().optional(),
  state: containerState.optional(),
  lastState: containerState.optional(),
});
export type ContainerStatus = z.infer<typeof containerStatus>;

export const pod = z.object({
  metadata: meta,
  spec: z.object({ nodeName: z.string().optional() }).default({}),
  status: z
    .object({
      phase: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startTime: z.string().optional(),
      conditions: z.array(workloadCondition).optional(),
      initContainerStatuses: z.array(containerStatus).optional(),
      containerStatuses: z.array(containerStatus).optional(),
    })
    .default({}),
});
export type Pod = z.infer<typeof pod>;

export const secret = z.object({
  metadata: meta,
  type: z.string().optional(),
  data: stringMap.optional(),
});
export type Secret = z.infer<typeof secret>;

export const lease = z.object({
  metadata: meta,
  spec: z
    .object({
      holderIdentity: z.string().nullish(),
      leaseDurationSeconds: z.number().nullish(),
      acquireTime: z.string().nullish(),
      renewTime: z.string().nullish(),
      leaseTransitions: z.number().nullish(),
    })
    .default({}),
});
export type Lease = z.infer<typeof lease>;

/** Namespace/name cache key, the same one work queues use. */
export function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace !== undefined && obj.metadata.namespace !== "" ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The object's controller owner reference, if any. */
export function controllerOf<R extends { controller?: boolean | undefined }>(obj: { metadata: { ownerReferences?: R[] | undefined } }): R | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/**
 * Keys of the objects of `kind` (in `apiVersion`'s group) that control `obj`: the usual mapping
 * from an owned object's event to its owner's work-queue key.
 */
export function ownerKeys(group: string, kind: string): (obj: { metadata: Meta }) => string[] {
  return (obj) => {
    const ref = controllerOf(obj);
    if (ref === undefined || ref.kind !== kind || ref.apiVersion.split("/")[0] !== group) return [];
    return [obj.metadata.namespace !== undefined ? `${obj.metadata.namespace}/${ref.name}` : ref.name];
  };
}
