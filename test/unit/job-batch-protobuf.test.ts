// The batch Job protobuf decoder (src/controllers/job/batch-job-protobuf.ts) on bytes built by
// field number: it yields what the JSON of the same batch Job parses to through the Job
// controller's view, including the encoder's habits JSON does not share (zero counters and empty
// strings sent, fields the view never reads). test/integration/job-protobuf-watch.test.ts checks
// it against the real apiserver.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { batchJobFromProtobuf } from "../../src/controllers/job/batch-job-protobuf.ts";
import { batchJobsResource } from "../../src/controllers/job/controller.ts";
import { parseObject } from "../../src/kube/resources.ts";
import { bytes, entry, msg, str, time, vi } from "../support/protobuf-encode.ts";

const T = "2026-11-30T17:00:00Z";

function decode(b: number[]): unknown {
  const buf = Buffer.from(b);
  return batchJobFromProtobuf(buf, 0, buf.length);
}

describe("batch Job protobuf decoder", () => {
  it("decodes what the view reads, as the JSON parses", () => {
    const meta = [...str(1, "j1-run"), ...str(3, "ns"), ...str(5, "uid-b"), ...str(6, "42"), ...vi(7, 1), ...time(8, T), ...entry(11, "hearth.dev/job", "j1"), ...msg(13, str(1, "Job"), str(3, "j1"), str(4, "uid-h"), str(5, "hearth.dev/v1alpha1"), vi(6, 1), vi(7, 1)), ...msg(17, str(1, "kcm"))];
    const spec = [
      ...vi(1, 1),
      ...vi(3, 900),
      ...msg(6, msg(1, str(1, "the pod template, skipped"))),
      ...vi(7, 0),
      ...msg(11, msg(1, str(1, "FailJob"), msg(2, str(1, "runtime"), str(2, "In"), bytes(3, [2, 65]))), msg(1, str(1, "Ignore"), msg(3, str(1, "DisruptionTarget")))),
      ...vi(8, 300),
    ];
    const status = [
      ...msg(1, str(1, "SuccessCriteriaMet"), str(2, "True"), time(3, T), time(4, T), str(5, "CompletionsReached"), str(6, "")),
      ...msg(1, str(1, "Complete"), str(2, "True"), time(4, T), str(5, ""), str(6, "")),
      ...time(2, T),
      ...time(3, T),
      ...vi(4, 0),
      ...vi(5, 1),
      ...vi(6, 0),
      ...vi(9, 0),
      ...msg(8, str(1, "")),
    ];
    const json = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "j1-run", namespace: "ns", uid: "uid-b", resourceVersion: "42", generation: 1, creationTimestamp: T, labels: { "hearth.dev/job": "j1" }, ownerReferences: [{ apiVersion: "hearth.dev/v1alpha1", kind: "Job", name: "j1", uid: "uid-h", controller: true, blockOwnerDeletion: true }] },
      spec: {
        parallelism: 1,
        activeDeadlineSeconds: 900,
        backoffLimit: 0,
        podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "runtime", operator: "In", values: [2, 65] } }, { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }] },
        ttlSecondsAfterFinished: 300,
      },
      status: {
        conditions: [
          { type: "SuccessCriteriaMet", status: "True", lastProbeTime: T, lastTransitionTime: T, reason: "CompletionsReached" },
          { type: "Complete", status: "True", lastTransitionTime: T },
        ],
        startTime: T,
        completionTime: T,
        succeeded: 1,
        ready: 0,
        uncountedTerminatedPods: {},
      },
    };
    assert.deepEqual(parseObject(batchJobsResource, decode([...msg(1, meta), ...msg(2, spec), ...msg(3, status)])), parseObject(batchJobsResource, json));
  });

  it("keeps an empty containerName (a pointer, set) and leaves out what JSON leaves out", () => {
    const spec = [...msg(11, msg(1, msg(2, str(1, ""))))];
    const decoded = decode([...msg(1, str(1, "j")), ...msg(2, spec), ...msg(3, [...vi(4, 0), ...vi(6, 2)])]);
    assert.deepEqual(decoded, { apiVersion: "batch/v1", kind: "Job", metadata: { name: "j" }, spec: { podFailurePolicy: { rules: [{ onExitCodes: { containerName: "" } }] } }, status: { failed: 2 } });
  });

  it("rejects truncated input", () => {
    const whole = [...msg(1, str(1, "j")), ...msg(3, vi(5, 1))];
    assert.throws(() => decode(whole.slice(0, whole.length - 1)));
  });
});
