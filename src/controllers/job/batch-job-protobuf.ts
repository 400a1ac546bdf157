// A batch/v1 Job in Kubernetes' protobuf (k8s.io/api/batch/v1 generated.proto) into the JSON
// shape of the fields the Job controller's batch Job view reads (views.ts batchJobView), so the
// same view checks it: the pod template (most of a batch Job's bytes) and managedFields are
// skipped by their length without being read (the JSON watch had to scan them to cut them).
//
// Presence follows the JSON encoding (src/kube/pod-protobuf.ts says how): pointer fields
// (backoffLimit, activeDeadlineSeconds, podFailurePolicy, a rule's onExitCodes and its
// containerName, startTime, completionTime) come only when set, as in JSON; the counters
// (active, failed, succeeded: omitempty ints) only when not zero; a condition's reason and
// message only when not empty.
import { condition, objectMeta, put } from "../../kube/pod-protobuf.ts";
import { LEN, ProtoReader, timeOf, VARINT } from "../../kube/protobuf.ts";
import type { JsonObject } from "../../kube/views.ts";

function onExitCodes(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    // A pointer: sent, even empty, whenever it is set.
    if (m.wire === LEN && m.field === 1) out["containerName"] = m.string();
    else m.skip();
  }
  return out;
}

function rule(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    if (m.wire === LEN && m.field === 2) out["onExitCodes"] = onExitCodes(m);
    else m.skip();
  }
  return out;
}

function podFailurePolicy(r: ProtoReader): JsonObject {
  const m = r.message();
  const rules: JsonObject[] = [];
  while (m.next()) {
    if (m.wire === LEN && m.field === 1) rules.push(rule(m));
    else m.skip();
  }
  return { rules };
}

function spec(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    if (m.wire === VARINT && m.field === 7) out["backoffLimit"] = m.int32();
    else if (m.wire === VARINT && m.field === 3) out["activeDeadlineSeconds"] = m.varint();
    else if (m.wire === LEN && m.field === 11) out["podFailurePolicy"] = podFailurePolicy(m);
    else m.skip();
  }
  return out;
}

function status(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  let conditions: JsonObject[] | undefined;
  const count = (key: string): void => {
    const n = m.int32();
    if (n !== 0) out[key] = n;
  };
  while (m.next()) {
    if (m.wire === LEN && m.field === 1) (conditions ??= []).push(condition(m));
    else if (m.wire === LEN && m.field === 2) put(out, "startTime", timeOf(m));
    else if (m.wire === LEN && m.field === 3) put(out, "completionTime", timeOf(m));
    else if (m.wire === VARINT && m.field === 4) count("active");
    else if (m.wire === VARINT && m.field === 5) count("succeeded");
    else if (m.wire === VARINT && m.field === 6) count("failed");
    else m.skip();
  }
  if (conditions !== undefined) out["conditions"] = conditions;
  return out;
}

/** A batch/v1 Job's bytes (inside its envelope: protobuf.ts unwrap) as the JSON object its view reads. */
export function batchJobFromProtobuf(buf: Buffer, start: number, end: number): JsonObject {
  const r = new ProtoReader(buf, start, end);
  const out: JsonObject = { apiVersion: "batch/v1", kind: "Job", metadata: {}, spec: {}, status: {} };
  while (r.next()) {
    if (r.wire === LEN && r.field === 1) out["metadata"] = objectMeta(r);
    else if (r.wire === LEN && r.field === 2) out["spec"] = spec(r);
    else if (r.wire === LEN && r.field === 3) out["status"] = status(r);
    else r.skip();
  }
  return out;
}
