// The protobuf wire reader and watch framing (src/kube/protobuf.ts) and the Pod and Deployment
// decoders (pod-protobuf.ts, deployment-protobuf.ts) on bytes built by a minimal
// encoder that follows the .proto field numbers (test/support/protobuf-encode.ts).
// test/integration/kube-protobuf-watch.test.ts checks the decoders against the real apiserver's
// protobuf; this file covers the edges the apiserver rarely sends: negative int32s,
// zero times, unknown fields of every wire type, frames split anywhere, truncated input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cachedDeployments, cachedPods } from "../../src/controllers/function/caches.ts";
import { deploymentFromProtobuf } from "../../src/kube/deployment-protobuf.ts";
import { podFromProtobuf } from "../../src/kube/pod-protobuf.ts";
import { FrameSplitter, ProtoError, ProtoReader, statusOf, timeOf, unwrap, watchEventFrame } from "../../src/kube/protobuf.ts";
import { deployments, parseObject, pods } from "../../src/kube/resources.ts";
import { bytes, entry, msg, str, tag, time, varint, vi } from "../support/protobuf-encode.ts";

const envelope = (kind: string, raw: number[]): number[] => [0x6b, 0x38, 0x73, 0x00, ...msg(1, str(1, "v1"), str(2, kind)), ...bytes(2, raw)];
const frame = (type: string, obj: number[]): Buffer => {
  const ev = [...str(1, type), ...msg(2, bytes(1, obj))];
  const b = Buffer.alloc(4 + ev.length);
  b.writeUInt32BE(ev.length, 0);
  Buffer.from(ev).copy(b, 4);
  return b;
};

const T = "2026-11-30T17:00:00Z";

/** A Pod as the apiserver's encoder writes it: empty strings and zero numbers are sent too, plus fields the decoder skips. */
function podBytes(): number[] {
  const meta = [
    ...str(1, "echo-pool-abc"),
    ...str(2, "echo-pool-"),
    ...str(3, "team-a"),
    ...str(4, ""),
    ...str(5, "uid-1"),
    ...str(6, "12345"),
    ...vi(7, 0),
    ...time(8, T),
    ...time(9, T),
    ...entry(11, "hearth.dev/function", "echo"),
    ...entry(11, "pod-template-hash", "7d9c"),
    ...entry(12, "controller.kubernetes.io/pod-deletion-cost", "-5"),
    ...msg(13, str(1, "ReplicaSet"), str(3, "echo-pool"), str(4, "u-rs"), str(5, "apps/v1"), vi(6, 1), vi(7, 1)),
    ...str(14, "example.com/hold"),
    ...msg(17, str(1, "kube-controller-manager"), str(2, "Update")),
  ];
  const spec = [...msg(2, str(1, "worker"), str(2, "img:1")), ...str(3, "Always"), ...str(10, "node-1"), ...vi(4, 30)];
  const waiting = msg(1, str(1, "ImagePullBackOff"), str(2, "back-off"));
  const terminated = msg(3, vi(1, -1), vi(2, 9), str(3, "Error"), str(4, "boom"), time(5, T), time(6, T), str(7, "containerd://x"));
  const container = (name: string, ready: number, state: number[], last: number[]): number[] =>
    msg(8, str(1, name), msg(2, state), msg(3, last), vi(4, ready), vi(5, 3), str(6, "img:1"), str(7, "sha256:x"), str(8, ""), vi(9, 1));
  const status = [
    ...str(1, "Running"),
    ...msg(2, str(1, "PodScheduled"), str(2, "False"), time(3, T), bytes(4, []), str(5, "Unschedulable"), str(6, "0/3 nodes")),
    ...msg(2, str(1, "Ready"), str(2, "True"), time(4, T), str(5, ""), str(6, "")),
    ...str(3, ""),
    ...str(4, ""),
    ...str(5, "127.0.0.1"),
    ...time(7, T),
    ...container("worker", 0, waiting, terminated),
    ...container("sidecar", 1, msg(2, bytes(1, [])), []),
    ...msg(10, str(1, "init"), msg(2, terminated.map((b, i) => (i === 0 ? 0x1a : b))), msg(3, []), vi(4, 0), vi(5, 0), str(6, "img:1")),
    ...str(9, "BestEffort"),
  ];
  return [...msg(1, ...[meta]), ...msg(2, spec), ...msg(3, status), ...[0x25, 1, 2, 3, 4], ...[0x29, 1, 2, 3, 4, 5, 6, 7, 8]];
}

const expectedPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "echo-pool-abc",
    namespace: "team-a",
    uid: "uid-1",
    resourceVersion: "12345",
    creationTimestamp: T,
    deletionTimestamp: T,
    labels: { "hearth.dev/function": "echo", "pod-template-hash": "7d9c" },
    annotations: { "controller.kubernetes.io/pod-deletion-cost": "-5" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "echo-pool", uid: "u-rs", controller: true, blockOwnerDeletion: true }],
    finalizers: ["example.com/hold"],
  },
  spec: { nodeName: "node-1" },
  status: {
    phase: "Running",
    startTime: T,
    conditions: [
      { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes" },
      { type: "Ready", status: "True", lastTransitionTime: T },
    ],
    containerStatuses: [
      {
        name: "worker",
        ready: false,
        restartCount: 3,
        image: "img:1",
        state: { waiting: { reason: "ImagePullBackOff", message: "back-off" } },
        lastState: { terminated: { exitCode: -1, reason: "Error", message: "boom", startedAt: T, finishedAt: T } },
      },
      { name: "sidecar", ready: true, restartCount: 3, image: "img:1", state: { running: {} }, lastState: {} },
    ],
    initContainerStatuses: [{ name: "init", ready: false, restartCount: 0, image: "img:1", state: { terminated: { exitCode: -1, reason: "Error", message: "boom", startedAt: T, finishedAt: T } }, lastState: {} }],
  },
};

describe("protobuf wire reader", () => {
  it("reads varints, negative int32s and 64-bit values", () => {
    const b = Buffer.from([...varint(0), ...varint(300), ...varint(-1), ...varint(2 ** 40 + 5), ...varint(-2147483648)]);
    const r = new ProtoReader(b);
    assert.equal(r.varint(), 0);
    assert.equal(r.varint(), 300);
    assert.equal(r.int32(), -1);
    assert.equal(r.varint(), 2 ** 40 + 5);
    assert.equal(r.int32(), -2147483648);
    assert.equal(r.pos, b.length);
  });

  it("skips unknown fields of every wire type", () => {
    const b = Buffer.from([...vi(1, 7), 0x11, 1, 2, 3, 4, 5, 6, 7, 8, ...str(3, "x"), 0x25, 1, 2, 3, 4, ...vi(5, 9)]);
    const r = new ProtoReader(b);
    const fields: number[] = [];
    while (r.next()) {
      fields.push(r.field);
      if (r.field === 5) assert.equal(r.varint(), 9);
      else r.skip();
    }
    assert.deepEqual(fields, [1, 2, 3, 4, 5]);
  });

  it("rejects truncated and malformed input", () => {
    assert.throws(() => new ProtoReader(Buffer.from([0x80])).varint(), ProtoError);
    assert.throws(() => new ProtoReader(Buffer.from([...tag(1, 2), 5, 1, 2])).message(), ProtoError);
    assert.throws(() => {
      const r = new ProtoReader(Buffer.from([0x0b]));
      r.next();
      r.skip();
    }, ProtoError);
    assert.throws(() => new ProtoReader(Buffer.from([0x00])).next(), ProtoError);
    assert.throws(() => new ProtoReader(Buffer.from(new Array<number>(11).fill(0xff))).varint(), ProtoError);
  });

  it("gives times as the JSON text, and the zero time as absent", () => {
    const r = new ProtoReader(Buffer.from([...time(1, T), ...bytes(2, [])]));
    r.next();
    assert.equal(timeOf(r), T);
    r.next();
    assert.equal(timeOf(r), undefined);
  });
});

describe("protobuf watch frames", () => {
  const stream = Buffer.concat([frame("ADDED", envelope("Pod", podBytes())), frame("BOOKMARK", envelope("Pod", msg(1, str(6, "999")))), frame("MODIFIED", envelope("Pod", podBytes()))]);

  it("splits frames wherever the chunks are cut", () => {
    for (let cut1 = 0; cut1 <= stream.length; cut1 += 7) {
      for (const cut2 of [cut1, Math.min(stream.length, cut1 + 1), Math.min(stream.length, cut1 + 300)]) {
        const got: string[] = [];
        const s = new FrameSplitter();
        for (const c of [stream.subarray(0, cut1), stream.subarray(cut1, cut2), stream.subarray(cut2)]) s.push(c, (f) => got.push(watchEventFrame(Buffer.from(f)).type));
        assert.deepEqual(got, ["ADDED", "BOOKMARK", "MODIFIED"], `cuts at ${String(cut1)}, ${String(cut2)}`);
        assert.equal(s.leftover, 0);
      }
    }
    const s = new FrameSplitter();
    s.push(stream.subarray(0, 10), () => undefined);
    assert.equal(s.leftover, 10);
  });

  it("decodes a Pod event into what the JSON event parses to", () => {
    const frames: Buffer[] = [];
    new FrameSplitter().push(stream, (f) => frames.push(f));
    const ev = watchEventFrame(frames[0] ?? assert.fail("a frame"));
    assert.equal(ev.kind, "Pod");
    const raw = podFromProtobuf(ev.buf, ev.start, ev.end);
    assert.deepEqual(raw, expectedPod);
    assert.deepEqual(parseObject(pods, raw), parseObject(pods, structuredClone(expectedPod)));
    assert.deepEqual(parseObject(cachedPods, raw), parseObject(cachedPods, structuredClone(expectedPod)));
    const bookmark = watchEventFrame(frames[1] ?? assert.fail("a frame"));
    assert.deepEqual(podFromProtobuf(bookmark.buf, bookmark.start, bookmark.end), { apiVersion: "v1", kind: "Pod", metadata: { resourceVersion: "999" }, spec: {}, status: {} });
  });

  it("decodes an ERROR event's Status", () => {
    const status = [...msg(1), ...str(2, "Failure"), ...str(3, "too old resource version: 1 (42)"), ...str(4, "Expired"), ...vi(6, 410)];
    const ev = watchEventFrame(frame("ERROR", envelope("Status", status)).subarray(4));
    assert.equal(ev.kind, "Status");
    assert.deepEqual(statusOf(ev.buf, ev.start, ev.end), { kind: "Status", code: 410, status: "Failure", message: "too old resource version: 1 (42)", reason: "Expired" });
  });

  it("refuses an object without the k8s prefix or with a content encoding", () => {
    const raw = envelope("Pod", podBytes());
    assert.throws(() => unwrap(Buffer.from([0, ...raw.slice(1)]), 0, raw.length), ProtoError);
    const encoded = [...raw, ...str(3, "gzip")];
    assert.throws(() => unwrap(Buffer.from(encoded), 0, encoded.length), /content encoding gzip/);
  });
});

describe("Deployments in protobuf", () => {
  const fieldsOf = (o: unknown): number[] => msg(7, str(1, JSON.stringify(o)));
  const applied = { "f:spec": { "f:replicas": {}, "f:template": { "f:metadata": { "f:labels": {} }, "f:spec": { "f:containers": {} } } } };
  const posted = { "f:metadata": { "f:labels": {} }, "f:spec": { "f:selector": {} } };
  const statusFields = { "f:status": { "f:replicas": {} } };
  const managed = [
    msg(17, str(1, "hearth-operator"), str(2, "Apply"), str(3, "apps/v1"), time(4, T), str(6, "FieldsV1"), fieldsOf(applied)),
    msg(17, str(1, "kubectl-create"), str(2, "Update"), str(3, "apps/v1"), str(6, "FieldsV1"), fieldsOf(posted)),
    msg(17, str(1, "kube-controller-manager"), str(2, "Update"), str(6, "FieldsV1"), fieldsOf(statusFields), str(8, "status")),
    msg(17, str(1, "hpa"), str(2, "Update"), str(6, "FieldsV1"), fieldsOf({ "f:spec": { "f:replicas": {} } }), str(8, "scale")),
    msg(17, str(1, "labeller"), str(2, "Update"), str(6, "FieldsV1"), fieldsOf({ "f:metadata": { "f:labels": {} } })),
  ];
  const bytesOf = (replicas: number | undefined, readyReplicas: number): number[] => [
    ...msg(1, str(1, "echo-pool"), str(3, "team-a"), str(6, "7"), vi(7, 3), time(8, T), entry(11, "hearth.dev/function", "echo"), entry(12, "hearth.dev/applied-hash", "abc"), ...managed),
    ...msg(2, ...(replicas === undefined ? [] : [vi(1, replicas)]), msg(3, msg(1, str(1, "x")), msg(2, msg(2, str(1, "w")))), vi(5, 0), vi(9, 600)),
    ...msg(3, vi(1, 3), vi(2, 1), vi(3, 0), vi(7, readyReplicas), vi(4, 1), vi(5, 0), msg(6, str(1, "Progressing"), str(2, "True"), time(6, T), time(7, T), str(4, "NewReplicaSetAvailable"), str(5, "done")), vi(8, 0)),
  ];
  const json = (replicas: number | undefined, readyReplicas: number): Record<string, unknown> => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "echo-pool",
      namespace: "team-a",
      resourceVersion: "7",
      generation: 3,
      creationTimestamp: T,
      labels: { "hearth.dev/function": "echo" },
      annotations: { "hearth.dev/applied-hash": "abc" },
      managedFields: [
        { manager: "hearth-operator", operation: "Apply", apiVersion: "apps/v1", time: T, fieldsType: "FieldsV1", fieldsV1: applied },
        { manager: "kubectl-create", operation: "Update", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: posted },
        { manager: "kube-controller-manager", operation: "Update", fieldsType: "FieldsV1", fieldsV1: statusFields, subresource: "status" },
        { manager: "hpa", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:replicas": {} } }, subresource: "scale" },
        { manager: "labeller", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": {} } } },
      ],
    },
    spec: { ...(replicas === undefined ? {} : { replicas }), selector: {}, template: {} },
    status: {
      observedGeneration: 3,
      replicas: 1,
      ...(readyReplicas === 0 ? {} : { readyReplicas }),
      availableReplicas: 1,
      conditions: [{ type: "Progressing", status: "True", lastUpdateTime: T, lastTransitionTime: T, reason: "NewReplicaSetAvailable", message: "done" }],
    },
  });

  it("parses as the JSON object does, with zero counts left out and replicas 0 kept", () => {
    for (const [replicas, ready] of [[2, 1], [0, 0], [undefined, 0]] as const) {
      const b = Buffer.from(bytesOf(replicas, ready));
      const raw = deploymentFromProtobuf(b, 0, b.length);
      assert.deepEqual(parseObject(deployments, raw), parseObject(deployments, json(replicas, ready)), `replicas ${String(replicas)}`);
      assert.deepEqual(parseObject(cachedDeployments, raw), parseObject(cachedDeployments, json(replicas, ready)));
    }
    const b = Buffer.from(bytesOf(0, 0));
    const parsed = parseObject(deployments, deploymentFromProtobuf(b, 0, b.length));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.spec.replicas, 0);
    assert.deepEqual(parsed.value.replicasManagers, ["hearth-operator", "hpa"]);
    assert.deepEqual(Object.keys(parsed.value.specManagers), ["hearth-operator", "kubectl-create"]);
    assert.deepEqual(parsed.value.updateManagers, ["kubectl-create"]);
    assert.equal(parsed.value.status.readyReplicas, undefined);
  });
});
