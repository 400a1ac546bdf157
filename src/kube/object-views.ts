// The views (views.ts) of the schemas in objects.ts: same output, same rejections, a fraction
// of the CPU and garbage. test/unit/kube-views.test.ts holds each to its schema.
import {
  flattenManagedFields,
  managedFieldsView,
  withoutHeavyFields,
  type Deployment,
  type ManagedFieldsEntry,
  type Meta,
  type OwnerReference,
  type Pod,
  type Unstructured,
} from "./objects.ts";
import { number, object, optArray, optBoolean, optNumber, optObject, optString, optStringArray, optStringMap, put, string, view, type JsonObject } from "./views.ts";

function ownerReferenceOf(v: unknown, path: string): OwnerReference {
  const o = object(v, path);
  const out: OwnerReference = { apiVersion: string(o["apiVersion"], `${path}.apiVersion`), kind: string(o["kind"], `${path}.kind`), name: string(o["name"], `${path}.name`), uid: string(o["uid"], `${path}.uid`) };
  put(out, "controller", optBoolean(o["controller"], `${path}.controller`));
  put(out, "blockOwnerDeletion", optBoolean(o["blockOwnerDeletion"], `${path}.blockOwnerDeletion`));
  return out;
}

/** `meta` of objects.ts: the listed ObjectMeta fields, checked, into `out`. */
function metaInto(o: JsonObject, path: string, out: Meta): Meta {
  out.name = string(o["name"], `${path}.name`);
  put(out, "namespace", optString(o["namespace"], `${path}.namespace`));
  put(out, "uid", optString(o["uid"], `${path}.uid`));
  put(out, "resourceVersion", optString(o["resourceVersion"], `${path}.resourceVersion`));
  put(out, "generation", optNumber(o["generation"], `${path}.generation`));
  put(out, "creationTimestamp", optString(o["creationTimestamp"], `${path}.creationTimestamp`));
  put(out, "deletionTimestamp", optString(o["deletionTimestamp"], `${path}.deletionTimestamp`));
  put(out, "labels", optStringMap(o["labels"], `${path}.labels`));
  put(out, "annotations", optStringMap(o["annotations"], `${path}.annotations`));
  put(out, "ownerReferences", optArray(o["ownerReferences"], `${path}.ownerReferences`, ownerReferenceOf));
  put(out, "finalizers", optStringArray(o["finalizers"], `${path}.finalizers`));
  return out;
}

export function metaOf(v: unknown, path: string): Meta {
  return metaInto(object(v, path), path, { name: "" });
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function conditionOf(v: unknown, path: string): Condition {
  const o = object(v, path);
  const out: Condition = { type: string(o["type"], `${path}.type`), status: string(o["status"], `${path}.status`) };
  put(out, "reason", optString(o["reason"], `${path}.reason`));
  put(out, "message", optString(o["message"], `${path}.message`));
  return out;
}

type ContainerState = NonNullable<Pod["status"]["containerStatuses"]>[number]["state"];

function containerStateOf(v: unknown, path: string): ContainerState {
  const o = object(v, path);
  const out: NonNullable<ContainerState> = {};
  const w = optObject(o["waiting"], `${path}.waiting`);
  if (w !== undefined) {
    const waiting: { reason?: string; message?: string } = {};
    put(waiting, "reason", optString(w["reason"], `${path}.waiting.reason`));
    put(waiting, "message", optString(w["message"], `${path}.waiting.message`));
    out.waiting = waiting;
  }
  const r = optObject(o["running"], `${path}.running`);
  if (r !== undefined) {
    const running: { startedAt?: string } = {};
    put(running, "startedAt", optString(r["startedAt"], `${path}.running.startedAt`));
    out.running = running;
  }
  const t = optObject(o["terminated"], `${path}.terminated`);
  if (t !== undefined) {
    const terminated: NonNullable<NonNullable<ContainerState>["terminated"]> = { exitCode: number(t["exitCode"], `${path}.terminated.exitCode`) };
    put(terminated, "reason", optString(t["reason"], `${path}.terminated.reason`));
    put(terminated, "message", optString(t["message"], `${path}.terminated.message`));
    put(terminated, "finishedAt", optString(t["finishedAt"], `${path}.terminated.finishedAt`));
    out.terminated = terminated;
  }
  return out;
}

type ContainerStatus = NonNullable<Pod["status"]["containerStatuses"]>[number];

function containerStatusOf(v: unknown, path: string): ContainerStatus {
  const o = object(v, path);
  const out: ContainerStatus = {
    name: string(o["name"], `${path}.name`),
    ready: optBoolean(o["ready"], `${path}.ready`) ?? false,
    restartCount: optNumber(o["restartCount"], `${path}.restartCount`) ?? 0,
  };
  put(out, "image", optString(o["image"], `${path}.image`));
  if (o["state"] !== undefined) out.state = containerStateOf(o["state"], `${path}.state`);
  if (o["lastState"] !== undefined) out.lastState = containerStateOf(o["lastState"], `${path}.lastState`);
  return out;
}

/** `pod` of objects.ts. */
export function podOf(raw: unknown): Pod {
  const o = object(raw, "pod");
  const metadata = metaOf(o["metadata"], "metadata");
  const spec: Pod["spec"] = {};
  const s = optObject(o["spec"], "spec");
  if (s !== undefined) put(spec, "nodeName", optString(s["nodeName"], "spec.nodeName"));
  const status: Pod["status"] = {};
  const st = optObject(o["status"], "status");
  if (st !== undefined) {
    put(status, "phase", optString(st["phase"], "status.phase"));
    put(status, "reason", optString(st["reason"], "status.reason"));
    put(status, "message", optString(st["message"], "status.message"));
    put(status, "startTime", optString(st["startTime"], "status.startTime"));
    put(status, "conditions", optArray(st["conditions"], "status.conditions", conditionOf));
    put(status, "initContainerStatuses", optArray(st["initContainerStatuses"], "status.initContainerStatuses", containerStatusOf));
    put(status, "containerStatuses", optArray(st["containerStatuses"], "status.containerStatuses", containerStatusOf));
  }
  return { metadata, spec, status };
}

function managedFieldsEntryOf(v: unknown, path: string): ManagedFieldsEntry {
  const o = object(v, path);
  optString(o["manager"], `${path}.manager`);
  optString(o["operation"], `${path}.operation`);
  optString(o["subresource"], `${path}.subresource`);
  return o;
}

/** `deployment` of objects.ts (the managedFields view beside metadata). */
export function deploymentOf(raw: unknown): Deployment {
  const o = object(raw, "deployment");
  const m = object(o["metadata"], "metadata");
  const metadata = metaOf(m, "metadata");
  const managedFields = managedFieldsView(optArray(m["managedFields"], "metadata.managedFields", managedFieldsEntryOf));
  const spec: Deployment["spec"] = {};
  const s = optObject(o["spec"], "spec");
  if (s !== undefined) put(spec, "replicas", optNumber(s["replicas"], "spec.replicas"));
  const status: Deployment["status"] = {};
  const st = optObject(o["status"], "status");
  if (st !== undefined) {
    put(status, "observedGeneration", optNumber(st["observedGeneration"], "status.observedGeneration"));
    put(status, "replicas", optNumber(st["replicas"], "status.replicas"));
    put(status, "updatedReplicas", optNumber(st["updatedReplicas"], "status.updatedReplicas"));
    put(status, "readyReplicas", optNumber(st["readyReplicas"], "status.readyReplicas"));
    put(status, "availableReplicas", optNumber(st["availableReplicas"], "status.availableReplicas"));
    put(status, "unavailableReplicas", optNumber(st["unavailableReplicas"], "status.unavailableReplicas"));
    put(status, "conditions", optArray(st["conditions"], "status.conditions", conditionOf));
  }
  return flattenManagedFields({ metadata: { ...metadata, managedFields }, spec, status });
}

/** `unstructured` of objects.ts: every field kept (by reference), the metadata checked and without its heavy fields. */
export function unstructuredOf(raw: unknown): Unstructured {
  const o = object(raw, "object");
  optString(o["apiVersion"], "apiVersion");
  optString(o["kind"], "kind");
  const m = object(o["metadata"], "metadata");
  // meta.loose(): the listed fields checked (and kept as parsed), every other field kept as is.
  const metadata = withoutHeavyFields(metaInto(m, "metadata", { ...m } as Meta));
  return { ...o, metadata };
}

export const podView = view(podOf);
export const deploymentView = view(deploymentOf);
export const unstructuredView = view(unstructuredOf);
