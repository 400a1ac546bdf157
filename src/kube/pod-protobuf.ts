// A Pod in Kubernetes' protobuf (k8s.io/api/core/v1 generated.proto) into the JSON shape of the
// fields the `pod` schema (objects.ts) keeps, plus a condition's lastTransitionTime and a
// terminated container's startedAt (the Job controller's pod schema reads them) — what a JSON
// watch line parses to, minus what the schemas drop — so the same views check it. The spec, managedFields
// and every other field are skipped by their length without being read.
//
// Presence follows the JSON encoding: a field Go marks omitempty is left out when empty (the
// protobuf encoder sends non-pointer fields even when empty), one it always writes is kept
// (a condition's type and status, a container's name, image, ready, restartCount, its state and
// lastState). A zero time is left out (JSON would send null, which the schema rejects: the
// apiserver never sends one for these fields).
import { LEN, mapEntry, ProtoReader, timeOf, VARINT } from "./protobuf.ts";
import type { JsonObject } from "./views.ts";

/** Sets `key` unless the value is absent or "" (omitempty strings and times). Shared by the other decoders. */
export function put(out: JsonObject, key: string, value: unknown): void {
  if (value !== undefined && value !== "") out[key] = value;
}

function ownerReference(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = { apiVersion: "", kind: "", name: "", uid: "" };
  while (m.next()) {
    if (m.wire === LEN && m.field === 5) out["apiVersion"] = m.string();
    else if (m.wire === LEN && m.field === 1) out["kind"] = m.string();
    else if (m.wire === LEN && m.field === 3) out["name"] = m.string();
    else if (m.wire === LEN && m.field === 4) out["uid"] = m.string();
    else if (m.wire === VARINT && m.field === 6) out["controller"] = m.bool();
    else if (m.wire === VARINT && m.field === 7) out["blockOwnerDeletion"] = m.bool();
    else m.skip();
  }
  return out;
}

/**
 * ObjectMeta: the fields of `meta` (objects.ts); with `managedFields`, also the entries as a
 * Deployment's managedFields view reads them (managedFieldsEntry below).
 */
export function objectMeta(r: ProtoReader, managedFields = false): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  let managed: JsonObject[] | undefined;
  let labels: Record<string, string> | undefined;
  let annotations: Record<string, string> | undefined;
  let owners: JsonObject[] | undefined;
  let finalizers: string[] | undefined;
  while (m.next()) {
    if (m.wire === LEN) {
      switch (m.field) {
        case 1:
          put(out, "name", m.string());
          continue;
        case 3:
          put(out, "namespace", m.string());
          continue;
        case 5:
          put(out, "uid", m.string());
          continue;
        case 6:
          put(out, "resourceVersion", m.string());
          continue;
        case 8:
          put(out, "creationTimestamp", timeOf(m));
          continue;
        case 9:
          put(out, "deletionTimestamp", timeOf(m));
          continue;
        case 11: {
          const [k, v] = mapEntry(m);
          (labels ??= {})[k] = v;
          continue;
        }
        case 12: {
          const [k, v] = mapEntry(m);
          (annotations ??= {})[k] = v;
          continue;
        }
        case 13:
          (owners ??= []).push(ownerReference(m));
          continue;
        case 14:
          (finalizers ??= []).push(m.string());
          continue;
        case 17:
          if (!managedFields) break;
          (managed ??= []).push(managedFieldsEntry(m));
          continue;
      }
    } else if (m.wire === VARINT && m.field === 7) {
      const g = m.varint();
      if (g !== 0) out["generation"] = g;
      continue;
    }
    m.skip();
  }
  if (labels !== undefined) out["labels"] = labels;
  if (annotations !== undefined) out["annotations"] = annotations;
  if (owners !== undefined) out["ownerReferences"] = owners;
  if (finalizers !== undefined) out["finalizers"] = finalizers;
  if (managed !== undefined) out["managedFields"] = managed;
  return out;
}

/** Subresources whose entries managedFieldsView (objects.ts) reads: none, or the scale subresource. */
const SPEC_SUBRESOURCES: ReadonlySet<string> = new Set(["", "scale"]);

/**
 * A managedFields entry: manager, operation, subresource, and fieldsV1 (JSON inside the
 * protobuf) parsed only when managedFieldsView could read it — an entry of another subresource
 * (status) or one owning no spec field is left without it, which that view treats the same.
 */
function managedFieldsEntry(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  let fields: [number, number] | undefined;
  let subresource = "";
  while (m.next()) {
    if (m.wire !== LEN) m.skip();
    else if (m.field === 1) put(out, "manager", m.string());
    else if (m.field === 2) put(out, "operation", m.string());
    else if (m.field === 8) subresource = m.string();
    else if (m.field === 7) {
      const f = m.message();
      while (f.next()) {
        if (f.wire === LEN && f.field === 1) fields = f.len();
        else f.skip();
      }
    } else m.skip();
  }
  put(out, "subresource", subresource);
  if (fields !== undefined && SPEC_SUBRESOURCES.has(subresource)) {
    const [s, e] = fields;
    const spec = m.buf.indexOf('"f:spec"', s);
    out["fieldsV1"] = spec >= 0 && spec < e ? (JSON.parse(m.buf.toString("utf8", s, e)) as unknown) : {};
  }
  return out;
}

function podSpec(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    if (m.wire === LEN && m.field === 10) put(out, "nodeName", m.string());
    else m.skip();
  }
  return out;
}

/**
 * A condition laid out as core/v1 PodCondition and batch/v1 JobCondition both are (type 1, status 2,
 * lastTransitionTime 4, reason 5, message 6); batch-job-protobuf.ts uses it too.
 */
export function condition(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = { type: "", status: "" };
  while (m.next()) {
    if (m.wire !== LEN) m.skip();
    else if (m.field === 1) out["type"] = m.string();
    else if (m.field === 2) out["status"] = m.string();
    else if (m.field === 4) put(out, "lastTransitionTime", timeOf(m));
    else if (m.field === 5) put(out, "reason", m.string());
    else if (m.field === 6) put(out, "message", m.string());
    else m.skip();
  }
  return out;
}

function reasonMessage(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    if (m.wire === LEN && m.field === 1) put(out, "reason", m.string());
    else if (m.wire === LEN && m.field === 2) put(out, "message", m.string());
    else m.skip();
  }
  return out;
}

function running(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    if (m.wire === LEN && m.field === 1) put(out, "startedAt", timeOf(m));
    else m.skip();
  }
  return out;
}

function terminated(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = { exitCode: 0 };
  while (m.next()) {
    if (m.wire === VARINT && m.field === 1) out["exitCode"] = m.int32();
    else if (m.wire === LEN && m.field === 3) put(out, "reason", m.string());
    else if (m.wire === LEN && m.field === 4) put(out, "message", m.string());
    else if (m.wire === LEN && m.field === 5) put(out, "startedAt", timeOf(m));
    else if (m.wire === LEN && m.field === 6) put(out, "finishedAt", timeOf(m));
    else m.skip();
  }
  return out;
}

function containerState(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    if (m.wire === LEN && m.field === 1) out["waiting"] = reasonMessage(m);
    else if (m.wire === LEN && m.field === 2) out["running"] = running(m);
    else if (m.wire === LEN && m.field === 3) out["terminated"] = terminated(m);
    else m.skip();
  }
  return out;
}

function containerStatus(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = { name: "", ready: false, restartCount: 0 };
  while (m.next()) {
    if (m.wire === LEN && m.field === 1) out["name"] = m.string();
    else if (m.wire === LEN && m.field === 2) out["state"] = containerState(m);
    else if (m.wire === LEN && m.field === 3) out["lastState"] = containerState(m);
    else if (m.wire === VARINT && m.field === 4) out["ready"] = m.bool();
    else if (m.wire === VARINT && m.field === 5) out["restartCount"] = m.int32();
    else if (m.wire === LEN && m.field === 6) out["image"] = m.string();
    else m.skip();
  }
  return out;
}

function podStatus(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  let conditions: JsonObject[] | undefined;
  let inits: JsonObject[] | undefined;
  let containers: JsonObject[] | undefined;
  while (m.next()) {
    if (m.wire !== LEN) m.skip();
    else if (m.field === 1) put(out, "phase", m.string());
    else if (m.field === 2) (conditions ??= []).push(condition(m));
    else if (m.field === 3) put(out, "message", m.string());
    else if (m.field === 4) put(out, "reason", m.string());
    else if (m.field === 7) put(out, "startTime", timeOf(m));
    else if (m.field === 10) (inits ??= []).push(containerStatus(m));
    else if (m.field === 8) (containers ??= []).push(containerStatus(m));
    else m.skip();
  }
  if (conditions !== undefined) out["conditions"] = conditions;
  if (inits !== undefined) out["initContainerStatuses"] = inits;
  if (containers !== undefined) out["containerStatuses"] = containers;
  return out;
}

/** A v1.Pod's bytes (inside its envelope: protobuf.ts unwrap) as the JSON object the `pod` schema reads. */
export function podFromProtobuf(buf: Buffer, start: number, end: number): JsonObject {
  const r = new ProtoReader(buf, start, end);
  const out: JsonObject = { apiVersion: "v1", kind: "Pod", metadata: {}, spec: {}, status: {} };
  while (r.next()) {
    if (r.wire === LEN && r.field === 1) out["metadata"] = objectMeta(r);
    else if (r.wire === LEN && r.field === 2) out["spec"] = podSpec(r);
    else if (r.wire === LEN && r.field === 3) out["status"] = podStatus(r);
    else r.skip();
  }
  return out;
}
