// An apps/v1 Deployment in Kubernetes' protobuf (k8s.io/api apps/v1 generated.proto) into the
// JSON shape of the fields the `deployment` schema (objects.ts) keeps, for its view
// (object-views.ts deploymentView); pod-protobuf.ts says how presence follows the JSON encoding.
// The pod template, selector and strategy are skipped by their length without being read.
import { objectMeta, put } from "./pod-protobuf.ts";
import { LEN, ProtoReader, VARINT } from "./protobuf.ts";
import type { JsonObject } from "./views.ts";

/** omitempty numbers: zero is left out, as the JSON encoder does. */
function putNumber(out: JsonObject, key: string, value: number): void {
  if (value !== 0) out[key] = value;
}

function condition(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = { type: "", status: "" };
  while (m.next()) {
    if (m.wire !== LEN) m.skip();
    else if (m.field === 1) out["type"] = m.string();
    else if (m.field === 2) out["status"] = m.string();
    else if (m.field === 4) put(out, "reason", m.string());
    else if (m.field === 5) put(out, "message", m.string());
    else m.skip();
  }
  return out;
}

function spec(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  while (m.next()) {
    // A pointer: sent (even 0) exactly when JSON has it.
    if (m.wire === VARINT && m.field === 1) out["replicas"] = m.int32();
    else m.skip();
  }
  return out;
}

function status(r: ProtoReader): JsonObject {
  const m = r.message();
  const out: JsonObject = {};
  let conditions: JsonObject[] | undefined;
  while (m.next()) {
    if (m.wire === VARINT) {
      switch (m.field) {
        case 1:
          putNumber(out, "observedGeneration", m.varint());
          continue;
        case 2:
          putNumber(out, "replicas", m.int32());
          continue;
        case 3:
          putNumber(out, "updatedReplicas", m.int32());
          continue;
        case 7:
          putNumber(out, "readyReplicas", m.int32());
          continue;
        case 4:
          putNumber(out, "availableReplicas", m.int32());
          continue;
        case 5:
          putNumber(out, "unavailableReplicas", m.int32());
          continue;
      }
    } else if (m.wire === LEN && m.field === 6) {
      (conditions ??= []).push(condition(m));
      continue;
    }
    m.skip();
  }
  if (conditions !== undefined) out["conditions"] = conditions;
  return out;
}

/** A Deployment's bytes (inside its envelope: protobuf.ts unwrap) as the JSON object the `deployment` schema reads. */
export function deploymentFromProtobuf(buf: Buffer, start: number, end: number): JsonObject {
  const r = new ProtoReader(buf, start, end);
  const out: JsonObject = { apiVersion: "apps/v1", kind: "Deployment", metadata: {}, spec: {}, status: {} };
  while (r.next()) {
    if (r.wire === LEN && r.field === 1) out["metadata"] = objectMeta(r, true);
    else if (r.wire === LEN && r.field === 2) out["spec"] = spec(r);
    else if (r.wire === LEN && r.field === 3) out["status"] = status(r);
    else r.skip();
  }
  return out;
}
