// What the Function controller (and the autoscaler) cache of Secrets, Pods and Deployments: each
// schema keeps only the fields a reader uses, since thousands of each are held.
import { z } from "zod";
import { deployment as deploymentSchema, meta, pod as podSchema, type ContainerStatus, type Deployment, type Pod, type Secret } from "../../kube/objects.ts";
import { deployments, pods, resourceType, secrets } from "../../kube/resources.ts";
import { ANNOTATIONS, LABELS, MANAGED_BY } from "../../workload/labels.ts";
import { WORKER_TOKEN_KEY } from "../../workload/render.ts";
import { FIELD_MANAGER } from "./names.ts";

export const BY_FUNCTION = "function";
export const POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

/** Whether a managedFields entry claims a Secret's `data.token`. */
function claimsToken(entry: { fieldsV1?: unknown }): boolean {
  const f = entry.fieldsV1;
  if (typeof f !== "object" || f === null || !("f:data" in f)) return false;
  const data = (f as Record<string, unknown>)["f:data"];
  return typeof data === "object" && data !== null && `f:${WORKER_TOKEN_KEY}` in data;
}

/**
 * Secrets of the watched namespaces, METADATA ONLY (PartialObjectMetadata list/watch): the cache
 * must know every name (to never take over someone else's Secret) but no Secret's value ever
 * reaches the operator. Ours carry a token-hash annotation; when another field manager has
 * written our token (a `kubectl edit`), the hash is dropped from the cached view, so the plan
 * re-applies the right token.
 */
export const cachedSecrets = resourceType({
  ...secrets,
  metadataOnly: true,
  schema: z
    .object({ metadata: meta.extend({ managedFields: z.array(z.looseObject({ manager: z.string().optional(), fieldsV1: z.unknown().optional() })).optional() }) })
    .transform((s): Secret => {
      const { labels, annotations, creationTimestamp: _c, managedFields, ...metadata } = s.metadata;
      const ours = labels?.[LABELS.managedBy] === MANAGED_BY;
      const hash = ours ? annotations?.[ANNOTATIONS.tokenHash] : undefined;
      const foreign = (managedFields ?? []).some((e) => e.manager !== FIELD_MANAGER && claimsToken(e));
      return hash !== undefined && !foreign ? { metadata: { ...metadata, annotations: { [ANNOTATIONS.tokenHash]: hash } } } : { metadata };
    }),
});

/** Every cached pod shares this empty spec (no reader uses the spec; nothing writes to it). */
const NO_POD_SPEC: Pod["spec"] = Object.freeze({});

/**
 * Pods as this controller needs them: the Function label, deletion, and what podProblem reads.
 * Thousands are cached, so everything else (other labels, annotations, healthy conditions,
 * timestamps) is dropped on the way in.
 */
export const cachedPods = resourceType({
  ...pods,
  schema: podSchema.transform((p): Pod => {
    const m = p.metadata;
    const fn = m.labels?.[LABELS.function];
    const metadata: Pod["metadata"] = { name: m.name };
    if (m.namespace !== undefined) metadata.namespace = m.namespace;
    if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
    if (m.deletionTimestamp !== undefined) metadata.deletionTimestamp = m.deletionTimestamp;
    if (fn !== undefined) metadata.labels = { [LABELS.function]: fn };
    // The autoscaler marks idle workers for scale-down; it reads back what it set.
    const cost = m.annotations?.[POD_DELETION_COST];
    if (cost !== undefined) metadata.annotations = { [POD_DELETION_COST]: cost };
    const status: Pod["status"] = {};
    if (p.status.phase !== undefined) status.phase = p.status.phase;
    const unscheduled = p.status.conditions?.filter((c) => c.type === "PodScheduled" && c.status === "False");
    if (unscheduled !== undefined && unscheduled.length > 0) status.conditions = unscheduled;
    const slim = (cs: Pod["status"]["containerStatuses"]): Pod["status"]["containerStatuses"] =>
      cs?.map((c) => {
        const { running: _running, ...state } = c.state ?? {};
        // The image only appears in an image-pull message; of the last state only a termination is read.
        const { image, lastState, ...rest } = c;
        const out: ContainerStatus = state.waiting !== undefined && image !== undefined ? { ...rest, image, state } : { ...rest, state };
        if (lastState?.terminated !== undefined) out.lastState = { terminated: lastState.terminated };
        return out;
      });
    if (p.status.initContainerStatuses !== undefined) status.initContainerStatuses = slim(p.status.initContainerStatuses);
    if (p.status.containerStatuses !== undefined) status.containerStatuses = slim(p.status.containerStatuses);
    return { metadata, spec: NO_POD_SPEC, status };
  }),
});

/** Deployments without labels and annotations other than ours (the rest is never read). */
export const cachedDeployments = resourceType({
  ...deployments,
  schema: deploymentSchema.transform((d): Deployment => {
    const { labels: _labels, annotations, creationTimestamp: _created, ownerReferences, ...rest } = d.metadata;
    const metadata: Deployment["metadata"] = rest;
    const hash = annotations?.[ANNOTATIONS.appliedHash];
    const owner = ownerReferences?.filter((r) => r.controller === true);
    // Spread: filter's result keeps room for 17 entries.
    if (owner !== undefined && owner.length > 0) metadata.ownerReferences = [...owner];
    if (hash !== undefined) metadata.annotations = { [ANNOTATIONS.appliedHash]: hash };
    // Only two conditions are ever read: a failed rollout and failed pod creation.
    const { conditions: all, ...status } = d.status;
    const conditions = all?.filter((c) => (c.type === "ReplicaFailure" && c.status === "True") || c.reason === "ProgressDeadlineExceeded");
    return { ...d, metadata, status: conditions !== undefined && conditions.length > 0 ? { ...status, conditions } : status };
  }),
});

export function functionLabelKey(o: { metadata: { namespace?: string | undefined; labels?: Record<string, string> | undefined } }): string[] {
  const fn = o.metadata.labels?.[LABELS.function];
  return fn === undefined || o.metadata.namespace === undefined ? [] : [`${o.metadata.namespace}/${fn}`];
}

