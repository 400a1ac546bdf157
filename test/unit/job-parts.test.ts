import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Job } from "@kubernetes/client-node";
import { attemptFromPod, mergeAttempts } from "../../src/controllers/job/attempts.ts";
import {
  activeDeadlineSeconds,
  batchJobName,
  INPUT_DIR,
  inputConfigMapName,
  renderBatchJob,
  renderInputConfigMap,
  resolveInput,
  type BatchJobSettings,
  type InputSource,
} from "../../src/controllers/job/batch-job.ts";
import type { JobSpec } from "../../src/api/v1alpha1/index.ts";
import { reconcileConditions } from "../../src/controllers/job/conditions.ts";
import { transitionEvents } from "../../src/controllers/job/events.ts";
import { batchBackoffTotalSeconds, podFailurePolicy } from "../../src/controllers/job/exit-codes.ts";
import { errorTypeOfExitCode } from "../../src/protocol/index.ts";
import { deriveOutcome } from "../../src/controllers/job/outcome.ts";
import { parseTerminationMessage } from "../../src/controllers/job/result.ts";
import { workloadConfigSchema } from "../../src/workload/config.ts";
import { renderPodTemplate } from "../../src/workload/render.ts";
import { aBatchJob, aFunction, aJob, aPod, at, complete, failed, JOB_UID, NS, WORKLOAD } from "./job-fixtures.ts";

describe("exit-code table", () => {
  it("classifies the contract's codes and nothing else", () => {
    assert.equal(errorTypeOfExitCode(1), "UserError");
    assert.equal(errorTypeOfExitCode(2), "BadConfiguration");
    assert.equal(errorTypeOfExitCode(65), "InputRejected");
    assert.equal(errorTypeOfExitCode(75), "Fatal");
    assert.equal(errorTypeOfExitCode(124), "Timeout");
    assert.equal(errorTypeOfExitCode(0), undefined);
    assert.equal(errorTypeOfExitCode(137), undefined);
  });

  it("renders podFailurePolicy: Ignore disruption first, FailJob on 2/65, Count on 1/75/124, for the runtime container only", () => {
    assert.deepEqual(podFailurePolicy("worker"), {
      rules: [
        { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        { action: "FailJob", onExitCodes: { containerName: "worker", operator: "In", values: [2, 65] } },
        { action: "Count", onExitCodes: { containerName: "worker", operator: "In", values: [1, 75, 124] } },
      ],
    });
  });

  it("sums the Job controller's backoff (10 s doubling, 10 min cap)", () => {
    assert.equal(batchBackoffTotalSeconds(0), 0);
    assert.equal(batchBackoffTotalSeconds(1), 10);
    assert.equal(batchBackoffTotalSeconds(3), 70);
    assert.equal(batchBackoffTotalSeconds(8), 10 + 20 + 40 + 80 + 160 + 320 + 600 + 600);
  });
});

describe("termination message", () => {
  it("reads the oneshot result documents", () => {
    assert.deepEqual(parseTerminationMessage('{"output":{"text":"hi"}}'), { kind: "output", output: { text: "hi" } });
    assert.deepEqual(parseTerminationMessage('{"output":null}'), { kind: "output", output: null });
    assert.deepEqual(parseTerminationMessage('{"outputB64":"gAR9lC4="}'), { kind: "outputB64", outputB64: "gAR9lC4=" });
    assert.deepEqual(parseTerminationMessage('{"error":{"type":"UserError","message":"boom"}}'), { kind: "error", type: "UserError", message: "boom" });
  });

  it("tells empty, foreign and cut messages apart", () => {
    assert.deepEqual(parseTerminationMessage(undefined), { kind: "empty" });
    assert.deepEqual(parseTerminationMessage("  \n"), { kind: "empty" });
    assert.deepEqual(parseTerminationMessage("Traceback: ..."), { kind: "invalid", text: "Traceback: ..." });
    assert.deepEqual(parseTerminationMessage('{"output":1,"extra":2}'), { kind: "invalid", text: '{"output":1,"extra":2}' });
    const cut = '{"output":"' + "x".repeat(4085);
    assert.equal(Buffer.byteLength(cut), 4096);
    assert.deepEqual(parseTerminationMessage(cut), { kind: "truncated", bytes: 4096 });
  });
});

describe("batch Job rendering", () => {
  const job = aJob({ functionRef: { name: "whisper" }, input: { audio: "s3://a" }, ttlSecondsAfterFinished: 60 });
  const fn = aFunction({ timeoutSeconds: 30, retries: { maxRetries: 2 }, gpu: { split: 2 }, podMetadata: { annotations: { "example.com/team": "speech" } } });
  const settings = { maxRetries: 2, timeoutSeconds: 30, deadlineSlackSeconds: 60, ttlSecondsAfterFinished: 60 };
  const inline: InputSource = { kind: "inline", data: '{"audio":"s3://a"}' };
  const render = (source: InputSource, s: BatchJobSettings = settings): V1Job => {
    const r = renderBatchJob(job, fn, WORKLOAD, source, s);
    assert.ok(r.ok, r.ok ? "" : r.message);
    return r.batchJob;
  };
  const batch = render(inline);
  const spec = batch.spec;
  assert.ok(spec !== undefined);
  const pod = spec.template.spec;
  assert.ok(pod !== undefined);
  const worker = pod.containers.find((c) => c.name === "worker");
  assert.ok(worker !== undefined);
  const env = new Map((worker.env ?? []).map((e) => [e.name, e.value]));
  const warm = renderPodTemplate(fn, WORKLOAD, { mode: "warm" });
  assert.ok(warm.ok);

  it("has a deterministic name and a controlling, deletion-blocking owner reference", () => {
    assert.equal(batch.metadata?.name, "run-1-hearth");
    assert.equal(batchJobName("run-1"), "run-1-hearth");
    assert.equal(batch.metadata?.namespace, NS);
    assert.deepEqual(batch.metadata?.ownerReferences, [
      { apiVersion: "hearth.dev/v1alpha1", kind: "Job", name: "run-1", uid: JOB_UID, controller: true, blockOwnerDeletion: true },
    ]);
    assert.equal(batch.metadata?.labels?.["hearth.dev/job"], "run-1");
  });

  it("maps retries and timeouts onto the Job's knobs", () => {
    assert.equal(spec.backoffLimit, 2);
    assert.equal(spec.completions, 1);
    assert.equal(spec.parallelism, 1);
    assert.equal(spec.podReplacementPolicy, "Failed");
    assert.equal(spec.ttlSecondsAfterFinished, 60);
    // 3 attempts × (30 s + 60 s slack) + backoff 10 s + 20 s
    assert.equal(spec.activeDeadlineSeconds, 300);
    assert.equal(activeDeadlineSeconds({ maxRetries: 0, timeoutSeconds: 300, deadlineSlackSeconds: 600 }), 900);
    assert.deepEqual(spec.podFailurePolicy, podFailurePolicy("worker"));
  });

  it("runs the Function's worker pod in oneshot mode, with the warm pool's GPU rendering", () => {
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(env.get("HEARTH_MODE"), "oneshot");
    assert.equal(env.get("HEARTH_HEALTH_PORT"), "0");
    assert.equal(env.get("HEARTH_TIMEOUT_SECONDS"), "30");
    assert.equal(env.get("HEARTH_HANDLER"), "app:Whisper");
    assert.equal(env.get("HEARTH_GPU_FRACTION"), "0.5");
    assert.equal(env.has("HEARTH_GATEWAY_URL"), false);
    assert.equal(worker.livenessProbe, undefined);
    assert.equal(worker.readinessProbe, undefined);
    assert.equal(worker.terminationMessagePolicy, "FallbackToLogsOnError");
    const warmWorker = warm.template.spec?.containers[0];
    assert.deepEqual(worker.resources, warmWorker?.resources);
    assert.deepEqual(worker.resources?.limits?.["nvidia.com/gpu"], "2");
    assert.deepEqual(pod.tolerations, warm.template.spec?.tolerations);
    assert.deepEqual(pod.affinity, warm.template.spec?.affinity);
    const labels = spec.template.metadata?.labels ?? {};
    assert.equal(labels["hearth.dev/job"], "run-1");
    assert.equal(labels["hearth.dev/worker-mode"], "oneshot", "never selected by the warm pool's Deployment");
    assert.equal(spec.template.metadata?.annotations?.["example.com/team"], "speech", "podMetadata is the Function's");
  });

  it("mounts the input as a file instead of passing it in env", () => {
    assert.equal(env.get("HEARTH_INPUT_FILE"), `${INPUT_DIR}/input`);
    assert.deepEqual(
      pod.volumes?.find((v) => v.name === "hearth-input"),
      { name: "hearth-input", configMap: { name: inputConfigMapName("run-1"), items: [{ key: "input", path: "input" }] } },
    );
    assert.deepEqual(worker.volumeMounts?.find((m) => m.name === "hearth-input"), { name: "hearth-input", mountPath: INPUT_DIR, readOnly: true });
    assert.ok(![...env.values()].some((v) => v?.includes("s3://a")));
    const cm = renderInputConfigMap(job, "whisper", inline.data);
    assert.equal(cm.metadata?.name, "run-1-hearth-input");
    assert.deepEqual(cm.data, { input: '{"audio":"s3://a"}' });
    assert.equal(cm.metadata?.ownerReferences?.[0]?.uid, JOB_UID);
  });

  it("mounts inputFrom's ConfigMap or Secret key directly, and nothing without input", () => {
    const inputVolume = (j: V1Job) => j.spec?.template.spec?.volumes?.find((v) => v.name === "hearth-input");
    assert.deepEqual(inputVolume(render({ kind: "secret", name: "s", key: "k" })), { name: "hearth-input", secret: { secretName: "s", items: [{ key: "k", path: "input" }] } });
    assert.deepEqual(inputVolume(render({ kind: "configMap", name: "c", key: "k" })), { name: "hearth-input", configMap: { name: "c", items: [{ key: "k", path: "input" }] } });
    const none = render({ kind: "none" }, { ...settings, ttlSecondsAfterFinished: undefined });
    assert.equal(inputVolume(none), undefined);
    assert.equal(none.spec?.ttlSecondsAfterFinished, undefined);
    assert.equal(none.spec?.template.spec?.containers[0]?.env?.some((e) => e.name === "HEARTH_INPUT_FILE"), false);
  });

  it("reports what the shared renderer rejects", () => {
    const r = renderBatchJob(job, aFunction({ gpu: { split: 3 } }), workloadConfigSchema.parse({}), inline, settings);
    assert.ok(!r.ok);
    assert.equal(r.reason, "InvalidGPU");
  });

  it("resolves input: small ones to an annotation, larger to a ConfigMap, JSON or base64 for pickle, size bound", () => {
    const limits = { maxAnnotationBytes: 10, maxInlineBytes: 100 };
    const resolve = (spec: Partial<JobSpec>, encoding: "json" | "pickle" = "json") => resolveInput(aJob({ functionRef: { name: "f" }, ...spec }), encoding, limits);
    assert.deepEqual(resolve({ input: [1, "a"] }), { ok: true, source: { kind: "annotation", data: '[1,"a"]' } });
    assert.deepEqual(resolve({ input: { key: "value" } }), { ok: true, source: { kind: "inline", data: '{"key":"value"}' } });
    assert.deepEqual(resolve({}), { ok: true, source: { kind: "none" } });
    assert.deepEqual(resolve({ input: "gAR9lC4=" }, "pickle"), { ok: true, source: { kind: "annotation", data: "gAR9lC4=" } });
    assert.equal(resolve({ input: { a: 1 } }, "pickle").ok, false);
    const big = resolve({ input: "x".repeat(200) });
    assert.ok(!big.ok);
    assert.match(big.message, /202 bytes.*at most 100 bytes.*inputFrom/);
    assert.deepEqual(resolve({ inputFrom: { secretKeyRef: { name: "s", key: "k" } } }), { ok: true, source: { kind: "secret", name: "s", key: "k" } });
  });

  it("hands a small input over through a pod annotation and the downward API", () => {
    const small = render({ kind: "annotation", data: '{"a":1}' });
    const tpl = small.spec?.template;
    assert.equal(tpl?.metadata?.annotations?.["hearth.dev/input"], '{"a":1}');
    assert.deepEqual(
      tpl?.spec?.volumes?.find((v) => v.name === "hearth-input"),
      { name: "hearth-input", downwardAPI: { items: [{ path: "input", fieldRef: { fieldPath: "metadata.annotations['hearth.dev/input']" } }] } },
    );
    const w = tpl?.spec?.containers.find((c) => c.name === "worker");
    assert.equal(w?.env?.find((e) => e.name === "HEARTH_INPUT_FILE")?.value, `${INPUT_DIR}/input`);
    assert.equal(batch.spec?.template.metadata?.annotations?.["hearth.dev/input"], undefined, "ConfigMap inputs are not duplicated");
  });
});

describe("attempts from pods", () => {
  it("reads a successful pod", () => {
    const f = attemptFromPod(aPod("p1", { exitCode: 0, message: '{"output":42}' }), "worker", 0);
    assert.deepEqual(f.attempt, { index: 0, pod: "p1", startTime: at(2), endTime: at(6), exitCode: 0, reason: "Succeeded" });
    assert.equal(f.succeeded, true);
    assert.equal(f.counted, false);
    assert.deepEqual(f.result, { kind: "output", output: 42 });
  });

  it("names failures by the contract's classes, with the runtime's message", () => {
    const f = attemptFromPod(aPod("p1", { exitCode: 65, message: '{"error":{"type":"InputRejected","message":"missing audio"}}' }), "worker", 3);
    assert.equal(f.attempt.reason, "InputRejected");
    assert.equal(f.attempt.message, "missing audio");
    assert.equal(f.attempt.exitCode, 65);
    assert.equal(f.counted, true);
    assert.equal(f.failureClass, "InputRejected");
  });

  it("keeps the kubelet's reason and the log tail for codes outside the table", () => {
    const oom = attemptFromPod(aPod("p1", { exitCode: 137, reason: "OOMKilled" }), "worker", 0);
    assert.equal(oom.attempt.reason, "OOMKilled");
    assert.equal(oom.attempt.message, "exited with code 137 (OOMKilled)");
    const logs = attemptFromPod(aPod("p1", { exitCode: 3, message: "Traceback…\nKeyError: 'x'" }), "worker", 0);
    assert.equal(logs.attempt.reason, "Error");
    assert.equal(logs.attempt.message, "Traceback…\nKeyError: 'x'");
    const term = attemptFromPod(aPod("p1", { exitCode: 143 }), "worker", 0);
    assert.equal(term.attempt.message, "exited with code 143 (SIGTERM)");
  });

  it("marks a disrupted pod and does not count it", () => {
    const f = attemptFromPod(aPod("p1", { exitCode: 143, disrupted: true }), "worker", 0);
    assert.equal(f.attempt.reason, "Disrupted");
    assert.equal(f.attempt.message, "Eviction API: evicting");
    assert.equal(f.disrupted, true);
    assert.equal(f.counted, false);
    assert.equal(f.terminal, true);
  });

  it("shows why a pod waits", () => {
    const f = attemptFromPod(aPod("p1", { phase: "Pending", waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } }), "worker", 0);
    assert.equal(f.attempt.reason, "ImagePullBackOff");
    assert.equal(f.attempt.message, "Back-off pulling image");
    assert.equal(f.attempt.startTime, undefined);
    assert.equal(attemptFromPod(aPod("p2"), "worker", 0).attempt.reason, "Running");
  });

  it("keeps recorded attempts whose pods are gone and appends new pods in creation order", () => {
    const previous = [{ index: 0, pod: "gone", reason: "UserError", exitCode: 1, endTime: at(5) }];
    const { attempts, facts } = mergeAttempts(previous, [aPod("p-b", { created: 30 }), aPod("p-a", { created: 20, exitCode: 1 })], "worker");
    assert.deepEqual(
      attempts.map((a) => [a.index, a.pod, a.reason]),
      [
        [0, "gone", "UserError"],
        [1, "p-a", "UserError"],
        [2, "p-b", "Running"],
      ],
    );
    assert.equal(facts.length, 2);
    // p-a went away after it ended (kept as it was); p-b vanished while running (Lost).
    const again = mergeAttempts(attempts, [aPod("p-c", { created: 40, exitCode: 0 })], "worker");
    assert.deepEqual(
      again.attempts.map((a) => [a.index, a.pod, a.reason]),
      [
        [0, "gone", "UserError"],
        [1, "p-a", "UserError"],
        [2, "p-b", "Lost"],
        [3, "p-c", "Succeeded"],
      ],
    );
    assert.equal(again.attempts[2]?.message, "the pod was deleted before its end was observed");
  });
});

describe("outcome", () => {
  const facts = (...pods: ReturnType<typeof aPod>[]) => mergeAttempts([], pods, "worker").facts;
  const base = { maxRetries: 2, activeDeadlineSeconds: 300, now: at(100) };

  it("succeeds with the output document", () => {
    const o = deriveOutcome({ ...base, batchJob: aBatchJob([complete()], { completionTime: at(9) }), facts: facts(aPod("p1", { exitCode: 0, message: '{"output":{"n":1}}' })) });
    assert.equal(o.state, "succeeded");
    assert.ok(o.state === "succeeded");
    assert.deepEqual(o.output, { n: 1 });
    assert.equal(o.completionTime, at(9));
  });

  it("fails a success whose output did not fit the termination message", () => {
    const o = deriveOutcome({ ...base, batchJob: aBatchJob([complete()]), facts: facts(aPod("p1", { exitCode: 0, message: '{"output":"' + "x".repeat(5000) })) });
    assert.ok(o.state === "failed");
    assert.equal(o.reason, "BadConfiguration");
    assert.match(o.message, /at most 4096 bytes/);
  });

  it("reports FailJob codes by class", () => {
    const o = deriveOutcome({
      ...base,
      batchJob: aBatchJob([failed("PodFailurePolicy", "Container worker for pod team-a/p1 failed with exit code 65 matching FailJob rule at index 1")]),
      facts: facts(aPod("p1", { exitCode: 65, message: '{"error":{"type":"InputRejected","message":"bad audio"}}' })),
    });
    assert.ok(o.state === "failed");
    assert.equal(o.reason, "InputRejected");
    assert.match(o.message, /not retried: pod p1: exit code 65: bad audio/);
  });

  it("reports exhausted retries by the last attempt's class, or BackoffLimitExceeded when it has none", () => {
    const user = deriveOutcome({
      ...base,
      batchJob: aBatchJob([failed("BackoffLimitExceeded")]),
      facts: facts(aPod("p1", { created: 1, exitCode: 1 }), aPod("p2", { created: 20, exitCode: 1 }), aPod("p3", { created: 40, exitCode: 75 })),
    });
    assert.ok(user.state === "failed");
    assert.equal(user.reason, "Fatal");
    assert.match(user.message, /^3 attempts failed \(maxRetries 2\); last: pod p3: exit code 75/);
    const other = deriveOutcome({ ...base, batchJob: aBatchJob([failed("BackoffLimitExceeded")]), facts: facts(aPod("p1", { exitCode: 137, reason: "OOMKilled" })) });
    assert.ok(other.state === "failed");
    assert.equal(other.reason, "BackoffLimitExceeded");
  });

  it("reports the backstop deadline as Timeout", () => {
    const o = deriveOutcome({ ...base, batchJob: aBatchJob([failed("DeadlineExceeded", "Job was active longer than specified deadline")]), facts: [] });
    assert.ok(o.state === "failed");
    assert.equal(o.reason, "Timeout");
    assert.match(o.message, /activeDeadlineSeconds 300/);
  });

  it("says what a running invocation is doing", () => {
    const running = deriveOutcome({ ...base, batchJob: aBatchJob(), facts: facts(aPod("p1")) });
    assert.deepEqual(running, { state: "waiting", reason: "Running", message: "attempt 1 of 3 running in pod p1" });
    const backoff = deriveOutcome({ ...base, batchJob: aBatchJob(), facts: facts(aPod("p1", { exitCode: 1 })) });
    assert.ok(backoff.state === "waiting");
    assert.equal(backoff.reason, "BackingOff");
    const pulling = deriveOutcome({ ...base, batchJob: aBatchJob(), facts: facts(aPod("p1", { phase: "Pending", waiting: { reason: "ImagePullBackOff", message: "nope" } })) });
    assert.deepEqual(pulling, { state: "waiting", reason: "ImagePullBackOff", message: "attempt 1 of 3: pod p1 is ImagePullBackOff: nope" });
    const disrupted = deriveOutcome({ ...base, batchJob: aBatchJob(), facts: facts(aPod("p1", { exitCode: 143, disrupted: true })) });
    assert.ok(disrupted.state === "waiting");
    assert.match(disrupted.message, /not counted/);
  });
});

describe("conditions and events", () => {
  it("keeps lastTransitionTime while the status holds", () => {
    const first = reconcileConditions(undefined, [{ type: "Complete", status: "False", reason: "Pending", message: "a" }], 1, at(1));
    const second = reconcileConditions(first, [{ type: "Complete", status: "False", reason: "Running", message: "b" }], 1, at(5));
    assert.equal(second[0]?.lastTransitionTime, at(1));
    const third = reconcileConditions(second, [{ type: "Complete", status: "True", reason: "Succeeded", message: "c" }], 1, at(9));
    assert.equal(third[0]?.lastTransitionTime, at(9));
    assert.equal(third[0]?.observedGeneration, 1);
  });

  it("emits events on transitions only", () => {
    const cond = (status: "True" | "False", reason: string) => ({ type: "Complete", status, reason, message: reason, lastTransitionTime: at(1) });
    assert.deepEqual(transitionEvents(undefined, { batchJob: "run-1-hearth", conditions: [cond("False", "Pending")] }), []);
    const failedAttempt = { index: 0, pod: "p1", exitCode: 1, reason: "UserError", endTime: at(5), message: "boom" };
    const before = { batchJob: "b", conditions: [cond("False", "Running")], attempts: [{ index: 0, pod: "p1", reason: "Running" }] };
    const after = { batchJob: "b", conditions: [cond("False", "BackingOff")], attempts: [failedAttempt] };
    const ev = transitionEvents(before, after);
    assert.deepEqual(ev, [{ type: "Warning", reason: "AttemptFailed", message: "attempt 1 (pod p1) failed with UserError (exit code 1: boom)" }]);
    assert.deepEqual(transitionEvents(after, after), []);
    const done = transitionEvents(after, { ...after, conditions: [cond("True", "Succeeded")] });
    // A success has no Event: the Complete condition tells it (and the batch Job's own Event).
    assert.deepEqual(done, []);
    const missing = transitionEvents(undefined, { conditions: [cond("False", "FunctionNotFound")] });
    assert.deepEqual(missing.map((e) => [e.type, e.reason]), [["Warning", "FunctionNotFound"]]);
  });
});
