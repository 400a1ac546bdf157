// What the Function controller (and the autoscaler) cache of Pods and Deployments: each
// schema keeps only the fields a reader uses, since thousands of each are held.
import { deployment as deploymentSchema, pod as podSchema, type ContainerStatus, type Deployment, type Pod } from "../../kube/objects.ts";
import { deploymentView, podView } from "../../kube/object-views.ts";
import { deploymentFromProtobuf } from "../../kube/deployment-protobuf.ts";
import { podFromProtobuf } from "../../kube/pod-protobuf.ts";
import { deployments, MANAGED_FIELDS, pods, withSchema } from "../../kube/resources.ts";
import { ANNOTATIONS, LABELS } from "../../workload/labels.ts";

export const BY_FUNCTION = "function";
export const POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

/** Every cached pod shares this empty spec (no reader uses the spec; nothing writes to it). */
const NO_POD_SPEC: Pod["spec"] = Object.freeze({});

/**
 * Pods as this controller needs them: the Function label, deletion, and what podProblem reads.
 * Thousands are cached, so everything else (other labels, annotations, healthy conditions,
 * timestamps) is dropped on the way in.
 */
function slimPod(p: Pod): Pod {
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
}

export const cachedPods = withSchema(pods, podSchema.transform(slimPod), {
  parse: (raw) => {
    const p = podView(raw);
    return p.ok ? { ok: true, value: slimPod(p.value) } : p;
  },
  // slimPod keeps no spec: the apiserver validated it, nobody here reads it.
  elide: [MANAGED_FIELDS, ["spec"]],
  // Watched in protobuf: the apiserver shares the encoding the built-in controllers' watches made.
  protobuf: podFromProtobuf,
});

/** Deployments without labels and annotations other than ours (the rest is never read). */
function slimDeployment(d: Deployment): Deployment {
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
}

export const cachedDeployments = withSchema(deployments, deploymentSchema.transform(slimDeployment), {
  parse: (raw) => {
    const d = deploymentView(raw);
    return d.ok ? { ok: true, value: slimDeployment(d.value) } : d;
  },
  // Its managedFields stay: who owns spec fields is read from them.
  elide: [["spec", "template"]],
  protobuf: deploymentFromProtobuf,
});

export function functionLabelKey(o: { metadata: { namespace?: string | undefined; labels?: Record<string, string> | undefined } }): string[] {
  const fn = o.metadata.labels?.[LABELS.function];
  return fn === undefined || o.metadata.namespace === undefined ? [] : [`${o.metadata.namespace}/${fn}`];
}

