import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HearthFunction, HearthJob, JobStatus } from "../../src/api/v1alpha1/index.ts";
import { BATCH_JOB_TTL_BACKSTOP_SECONDS, DEFAULT_JOB_CONTROLLER_CONFIG, planJob, type InputCheck, type JobPlan, type JobPlanInput } from "../../src/controllers/job/plan.ts";
import type { BatchJobView, PodView } from "../../src/controllers/job/views.ts";
import type { GatewayTaskView } from "../../src/controllers/job/gateway.ts";
import { aBatchJob, aFunction, aJob, aPod, at, BATCH_UID, complete, failed, WORKLOAD } from "./job-fixtures.ts";

interface Scenario {
  job?: HearthJob;
  fn?: HearthFunction | undefined;
  batchJob?: BatchJobView;
  batchJobGone?: boolean;
  pods?: PodView[];
  inputCheck?: InputCheck;
  now?: string;
  gatewayTask?: GatewayTaskView;
  lastStatusWrite?: string;
}

function plan(s: Scenario = {}): JobPlan {
  const input: JobPlanInput = {
    job: s.job ?? aJob(),
    fn: "fn" in s ? s.fn : aFunction(),
    batchJob: s.batchJob,
    batchJobGone: s.batchJobGone ?? false,
    pods: s.pods ?? [],
    inputCheck: s.inputCheck ?? { state: "unchecked" },
    now: new Date(s.now ?? at(100)),
    config: DEFAULT_JOB_CONTROLLER_CONFIG,
    workload: WORKLOAD,
    ...(s.gatewayTask !== undefined ? { gatewayTask: s.gatewayTask } : {}),
    ...(s.lastStatusWrite !== undefined ? { lastStatusWrite: new Date(s.lastStatusWrite) } : {}),
  };
  return planJob(input);
}

function cond(status: JobStatus, type: string): { status: string; reason: string; message: string } | undefined {
  const c = status.conditions?.find((x) => x.type === type);
  return c === undefined ? undefined : { status: c.status, reason: c.reason, message: c.message };
}

/** Runs the plan again on the status it produced: a converged plan changes nothing. */
function replan(s: Scenario, p: JobPlan): JobPlan {
  return plan({ ...s, job: aJob((s.job ?? aJob()).spec, p.status) });
}

describe("planJob: before the batch Job exists", () => {
  it("creates one batch Job and the input ConfigMap, and says so", () => {
    const s: Scenario = { job: aJob({ functionRef: { name: "whisper" }, input: { audio: "a.wav", text: "x".repeat(5000) } }) };
    const p = plan(s);
    assert.equal(p.batchJob?.metadata?.name, "run-1-hearth");
    assert.equal(p.inputConfigMap?.metadata?.name, "run-1-hearth-input");
    assert.deepEqual(p.inputConfigMap?.data, { input: JSON.stringify({ audio: "a.wav", text: "x".repeat(5000) }) });
    const small = plan({ job: aJob({ functionRef: { name: "whisper" }, input: { audio: "a.wav" } }) });
    assert.equal(small.inputConfigMap, undefined, "a small input needs no ConfigMap");
    assert.equal(small.batchJob?.spec?.template.metadata?.annotations?.["hearth.dev/input"], '{"audio":"a.wav"}');
    assert.equal(p.status.batchJob, "run-1-hearth");
    assert.equal(p.status.invocation, "isolated");
    assert.deepEqual(cond(p.status, "Complete"), { status: "False", reason: "Pending", message: "creating batch Job run-1-hearth" });
    assert.equal(p.status.observedGeneration, 1);
    assert.equal(p.statusChanged, false, "a fresh batch Job says no more than Pending: not worth a write of its own");
    assert.deepEqual(p.events, []);
    const pending = plan({ job: aJob(), batchJob: aBatchJob(), pods: [aPod("p1", { phase: "Pending" })] });
    assert.equal(pending.statusChanged, false, "still nothing to tell");
    const unschedulable = aPod("p1", { phase: "Pending" });
    unschedulable.status?.conditions?.push({ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/6 nodes are available: 6 Insufficient nvidia.com/gpu." });
    const stuck = plan({ job: aJob(), batchJob: aBatchJob(), pods: [unschedulable] });
    assert.equal(stuck.statusChanged, true, "a reason to wait is worth telling");
    assert.deepEqual(cond(stuck.status, "Complete"), {
      status: "False",
      reason: "Unschedulable",
      message: "attempt 1 of 1: pod p1 is Unschedulable: 0/6 nodes are available: 6 Insufficient nvidia.com/gpu.",
    });
  });

  it("plans the same batch Job again when the cache has not seen it yet (a crash between create and status write)", () => {
    const first = plan();
    const again = plan({ job: aJob(undefined, first.status) });
    assert.deepEqual(again.batchJob, first.batchJob);
    assert.equal(again.statusChanged, false);
    assert.deepEqual(again.events, []);
  });

  it("applies the Job's timeout and retries over the Function's", () => {
    const p = plan({ job: aJob({ functionRef: { name: "whisper" }, timeoutSeconds: 7, retries: { maxRetries: 3, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 } }) });
    const spec = p.batchJob?.spec;
    assert.equal(spec?.backoffLimit, 3);
    assert.equal(spec?.template.spec?.containers[0]?.env?.find((e) => e.name === "HEARTH_TIMEOUT_SECONDS")?.value, "7");
    assert.equal(spec?.activeDeadlineSeconds, 4 * (7 + 600) + 70);
    const fnDefaults = plan({ fn: aFunction({ timeoutSeconds: 20, retries: { maxRetries: 1 } }) });
    assert.equal(fnDefaults.batchJob?.spec?.backoffLimit, 1);
    assert.equal(fnDefaults.batchJob?.spec?.activeDeadlineSeconds, 2 * (20 + 600) + 10);
  });

  it("waits for a missing Function, and recovers when it appears", () => {
    const s: Scenario = { fn: undefined };
    const p = plan(s);
    assert.equal(p.batchJob, undefined);
    assert.deepEqual(cond(p.status, "Complete"), { status: "False", reason: "FunctionNotFound", message: "Function whisper not found in namespace team-a" });
    assert.equal(p.requeueAfterMs, DEFAULT_JOB_CONTROLLER_CONFIG.recheckAfterMs);
    assert.deepEqual(p.events.map((e) => [e.type, e.reason]), [["Warning", "FunctionNotFound"]]);
    assert.equal(p.statusUrgent, true);
    const later = plan({ job: aJob(undefined, p.status) });
    assert.ok(later.batchJob !== undefined);
    assert.equal(cond(later.status, "Complete")?.reason, "Pending");
  });

  it("hands warm Jobs to the gateway with the Job's UID as idempotency key", () => {
    const p = plan({ fn: aFunction({ invocation: "warm" }) });
    assert.equal(p.batchJob, undefined);
    assert.equal(p.statusChanged, false);
    assert.ok(p.enqueue !== undefined);
    assert.equal(p.enqueue.function, "whisper");
    assert.equal(p.enqueue.idempotencyKey, aJob().metadata.uid);
    const override = plan({ job: aJob({ functionRef: { name: "whisper" }, invocation: "warm" }) });
    assert.ok(override.enqueue !== undefined);
  });

  it("sends a warm Job's own timeoutSeconds and retries with its task", () => {
    const retries = { maxRetries: 2, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 };
    const p = plan({ job: aJob({ functionRef: { name: "whisper" }, invocation: "warm", timeoutSeconds: 42, retries }) });
    assert.equal(p.enqueue?.timeoutSeconds, 42);
    assert.deepEqual(p.enqueue?.retries, retries);
  });

  it("fails a warm Job at once with the gateway's message when the gateway refuses it for good", () => {
    const p = plan({ fn: aFunction({ invocation: "warm" }), gatewayTask: { state: "refused", message: "the gateway refused the task (HTTP 400 BadRequest): uses encoding pickle" } });
    assert.equal(cond(p.status, "Failed")?.reason, "GatewayRefused");
    assert.match(cond(p.status, "Failed")?.message ?? "", /uses encoding pickle/);
    assert.equal(p.requeueAfterMs, undefined, "not retried");
  });

  it("maps the gateway task of a warm Job onto status", () => {
    const fn = aFunction({ invocation: "warm" });
    const task = (t: Record<string, unknown>): GatewayTaskView => ({ state: "task", task: { id: "t1", status: "queued", attempts: 0, ...t } as never });
    const down = plan({ fn, gatewayTask: { state: "unavailable", message: "connection refused" } });
    assert.equal(cond(down.status, "Complete")?.reason, "GatewayUnavailable");
    assert.ok((down.requeueAfterMs ?? 0) > 0);
    const queued = plan({ fn, gatewayTask: task({}) });
    assert.equal(cond(queued.status, "Complete")?.reason, "Queued");
    assert.equal(queued.status.taskId, "t1");
    assert.equal(queued.status.invocation, "warm");
    assert.ok((queued.requeueAfterMs ?? 0) > 0);
    const ok = plan({ fn, gatewayTask: task({ status: "succeeded", attempts: 1, output: { text: "hi" }, startedAt: at(1), finishedAt: at(2) }) });
    assert.equal(cond(ok.status, "Complete")?.status, "True");
    assert.deepEqual(ok.status.output, { text: "hi" });
    assert.equal(ok.status.completionTime, at(2));
    assert.deepEqual(ok.status.attempts, [{ index: 0, startTime: at(1), endTime: at(2), exitCode: 0 }]);
    const bad = plan({ fn, gatewayTask: task({ status: "failed", attempts: 3, error: { type: "UserError", message: "boom" } }) });
    assert.equal(cond(bad.status, "Failed")?.reason, "UserError");
    assert.equal(bad.status.attempts?.[0]?.exitCode, 1);
    assert.equal(bad.status.attempts?.[0]?.index, 2);
    const rejected = plan({ fn, gatewayTask: task({ status: "failed", attempts: 1, error: { type: "InputRejected", message: "no" } }) });
    assert.equal(cond(rejected.status, "Failed")?.reason, "InputRejected");
  });

  it("rejects inputFrom on a warm Job with a clear reason", () => {
    const p = plan({ job: aJob({ functionRef: { name: "whisper" }, invocation: "warm", inputFrom: { configMapKeyRef: { name: "c", key: "k" } } }) });
    assert.equal(cond(p.status, "Failed")?.reason, "BadConfiguration");
    assert.match(cond(p.status, "Failed")?.message ?? "", /inputFrom/);
    assert.equal(p.enqueue, undefined);
  });

  it("still runs an isolated Job of a warm Function as a batch Job", () => {
    const isolatedJob = plan({ job: aJob({ functionRef: { name: "whisper" }, invocation: "isolated" }), fn: aFunction({ invocation: "warm" }) });
    assert.ok(isolatedJob.batchJob !== undefined);
  });

  it("hands a workflowRef Job to the gateway as a run of its Workflow, keyed by the Job's UID", () => {
    const p = plan({ job: aJob({ workflowRef: { name: "pipeline" }, input: "text", timeoutSeconds: 5 }), fn: undefined });
    assert.equal(p.batchJob, undefined);
    assert.deepEqual(p.enqueue, { kind: "workflow", namespace: aJob().metadata.namespace, function: "pipeline", idempotencyKey: aJob().metadata.uid, input: "text" });
    const bad = plan({ job: aJob({ workflowRef: { name: "pipeline" }, inputFrom: { configMapKeyRef: { name: "c", key: "k" } } }), fn: undefined });
    assert.equal(cond(bad.status, "Failed")?.reason, "BadConfiguration");
    assert.match(cond(bad.status, "Failed")?.message ?? "", /workflowRef Job takes spec.input/);
  });

  it("maps a workflow run onto status: output, the run id and each step's counts", () => {
    const job = aJob({ workflowRef: { name: "pipeline" }, input: "text" });
    const run = (t: Record<string, unknown>): GatewayTaskView => ({ state: "task", task: { id: "run-x", status: "running", attempts: 1, startedAt: at(10), ...t } as never });
    const running = plan({ job, fn: undefined, gatewayTask: run({ steps: { split: { succeeded: 1 }, embed: { running: 2, succeeded: 1 } } }) });
    assert.equal(cond(running.status, "Complete")?.reason, "Running");
    assert.match(cond(running.status, "Complete")?.message ?? "", /run run-x of Workflow pipeline is running: 2 of 4 step executions finished/);
    assert.deepEqual(running.status.steps, [{ name: "split", succeeded: 1 }, { name: "embed", running: 2, succeeded: 1 }]);
    assert.equal(running.status.taskId, "run-x");
    assert.equal(running.status.invocation, undefined);
    assert.equal(running.status.attempts, undefined);
    const done = plan({ job, fn: undefined, gatewayTask: run({ status: "succeeded", finishedAt: at(20), output: [3, 4], steps: { split: { succeeded: 1 }, embed: { succeeded: 3 }, total: { succeeded: 3 } } }) });
    assert.equal(cond(done.status, "Complete")?.status, "True");
    assert.deepEqual(done.status.output, [3, 4]);
    assert.deepEqual(done.status.steps?.map((x) => [x.name, x.succeeded]), [["split", 1], ["embed", 3], ["total", 3]]);
    const failedRun = plan({ job, fn: undefined, gatewayTask: run({ status: "failed", finishedAt: at(20), error: { type: "UserError", message: "step embed (item 2) failed on attempt 1: boom" }, steps: { embed: { failed: 1 } } }) });
    assert.equal(cond(failedRun.status, "Failed")?.reason, "UserError");
    assert.match(cond(failedRun.status, "Failed")?.message ?? "", /step embed/);
  });

  it("rejects input it cannot hand over", () => {
    const p = plan({ job: aJob({ functionRef: { name: "whisper" }, input: { not: "base64" } }), fn: aFunction({ encoding: "pickle" }) });
    assert.equal(p.batchJob, undefined);
    assert.equal(cond(p.status, "Failed")?.reason, "InputRejected");
    assert.equal(cond(p.status, "Complete")?.status, "False");
    assert.equal(p.status.completionTime, at(100));
  });

  it("fails a Job whose Function cannot be rendered", () => {
    const p = plan({ fn: aFunction({ env: [{ name: "HEARTH_MODE", value: "warm" }] }) });
    assert.equal(p.batchJob, undefined);
    const c = cond(p.status, "Failed");
    assert.equal(c?.reason, "BadConfiguration");
    assert.match(c?.message ?? "", /^Function whisper cannot run \(InvalidSpec\): spec.env sets HEARTH_MODE/);
  });

  it("checks inputFrom before creating, and waits while it is missing", () => {
    const job = aJob({ functionRef: { name: "whisper" }, inputFrom: { configMapKeyRef: { name: "big", key: "in.json" } } });
    const unchecked = plan({ job });
    assert.equal(unchecked.needsInputCheck, true);
    assert.equal(unchecked.batchJob, undefined);
    const missing = plan({ job, inputCheck: { state: "missing", message: "ConfigMap big has no key in.json" } });
    assert.equal(missing.batchJob, undefined);
    assert.equal(cond(missing.status, "Complete")?.reason, "InputNotFound");
    const present = plan({ job, inputCheck: { state: "present" } });
    assert.equal(present.inputConfigMap, undefined, "the user's ConfigMap is mounted as it is");
    assert.deepEqual(present.batchJob?.spec?.template.spec?.volumes?.find((v) => v.name === "hearth-input")?.configMap, { name: "big", items: [{ key: "in.json", path: "input" }] });
  });
});

describe("planJob: following the batch Job", () => {
  const created = plan().status;
  const job = (status: JobStatus = created): HearthJob => aJob(undefined, status);

  it("reports the running attempt", () => {
    const p = plan({ job: job(), batchJob: aBatchJob(), pods: [aPod("run-1-hearth-a")] });
    assert.equal(p.batchJob, undefined, "never re-applied once it exists");
    assert.deepEqual(cond(p.status, "Complete"), { status: "False", reason: "Running", message: "attempt 1 of 1 running in pod run-1-hearth-a" });
    assert.equal(p.status.startTime, at(1));
    assert.deepEqual(p.status.attempts, [{ index: 0, pod: "run-1-hearth-a", startTime: at(2), reason: "Running" }]);
    assert.equal(p.statusUrgent, false, "progress only");
  });

  it("completes with the output from the termination message", () => {
    const s: Scenario = { job: job(), batchJob: aBatchJob([complete(at(9))], { completionTime: at(9) }), pods: [aPod("p1", { exitCode: 0, message: '{"output":{"text":"hello"}}' })] };
    const p = plan(s);
    assert.deepEqual(cond(p.status, "Complete"), { status: "True", reason: "Succeeded", message: "completed in pod p1" });
    assert.equal(cond(p.status, "Failed"), undefined);
    assert.deepEqual(p.status.output, { text: "hello" });
    assert.equal(p.status.completionTime, at(9));
    assert.deepEqual(p.events, []);
    // Urgent all the same: the end is written at once.
    assert.equal(p.statusUrgent, true);
    const converged = replan(s, p);
    assert.equal(converged.statusChanged, false);
  });

  it("holds back the status while kube-controller-manager concludes the batch Job", () => {
    const pods = [aPod("p1", { exitCode: 0, message: '{"output":1}', finishedAt: 95 })];
    const p = plan({ job: job(), batchJob: aBatchJob(), pods, now: at(100) });
    assert.equal(p.holdStatusMs, 115_000, "pod ended 5 s ago; held for the rest of settleHoldMs");
    assert.equal(cond(p.status, "Complete")?.reason, "Running");
    const failing = plan({ job: job(), batchJob: aBatchJob([], { backoffLimit: 3 }), pods: [aPod("p1", { exitCode: 65, finishedAt: 99 })], now: at(100) });
    assert.equal(failing.holdStatusMs, 119_000, "FailJob: the batch Job is about to fail");
    const retrying = plan({ job: job(), batchJob: aBatchJob([], { backoffLimit: 3 }), pods: [aPod("p1", { exitCode: 1, finishedAt: 99 })], now: at(100) });
    assert.equal(retrying.holdStatusMs, undefined, "a retry is ten seconds away: say so now");
    assert.equal(retrying.statusUrgent, true);
    const late = plan({ job: job(), batchJob: aBatchJob(), pods, now: at(300) });
    assert.equal(late.holdStatusMs, undefined, "not held forever");
  });

  it("does not write Running for an attempt that only just started", () => {
    const fresh = plan({ job: job(), batchJob: aBatchJob(), pods: [aPod("p1", { created: 98 })], now: at(100) });
    assert.equal(cond(fresh.status, "Complete")?.reason, "Running");
    assert.equal(fresh.holdStatusMs, 4_000, "started 1 s ago: held until statusDebounceMs after its start");
    const settled = plan({ job: job(), batchJob: aBatchJob(), pods: [aPod("p1", { created: 90 })], now: at(100) });
    assert.equal(settled.holdStatusMs, undefined);
    assert.equal(settled.statusChanged, true);
  });

  it("debounces progress-only changes after the last status write, never the ones a user waits for", () => {
    const running = { job: job(), batchJob: aBatchJob(), pods: [aPod("p1", { created: 90 })], now: at(100) };
    const soon = plan({ ...running, lastStatusWrite: at(98) });
    assert.equal(soon.statusChanged, true);
    assert.equal(soon.holdStatusMs, 3_000, "written 2 s ago: held until statusDebounceMs after that write");
    assert.equal(plan({ ...running, lastStatusWrite: at(90) }).holdStatusMs, undefined, "the last write is long enough ago");
    const done = plan({ job: job(), batchJob: aBatchJob([complete(at(99))], { completionTime: at(99) }), pods: [aPod("p1", { exitCode: 0, message: '{"output":1}' })], lastStatusWrite: at(99) });
    assert.equal(done.statusUrgent, true);
    assert.equal(done.holdStatusMs, undefined, "the end is written at once");
    const ended = [aPod("p1", { exitCode: 0, message: '{"output":1}', finishedAt: 95 })];
    assert.equal(plan({ job: job(), batchJob: aBatchJob(), pods: ended, lastStatusWrite: at(99) }).holdStatusMs, 115_000, "the longer of the settling hold and the debounce");
  });

  it("fails at once on a FailJob exit code, naming its class", () => {
    const p = plan({
      job: job(),
      batchJob: aBatchJob([failed("PodFailurePolicy", "Container worker for pod team-a/p1 failed with exit code 2 matching FailJob rule at index 1")], { backoffLimit: 3 }),
      pods: [aPod("p1", { exitCode: 2, message: '{"error":{"type":"BadConfiguration","message":"cannot import app"}}' })],
    });
    assert.deepEqual(cond(p.status, "Failed"), { status: "True", reason: "BadConfiguration", message: "not retried: pod p1: exit code 2: cannot import app" });
    assert.equal(p.status.attempts?.length, 1);
    assert.deepEqual(p.events.map((e) => [e.type, e.reason]), [
      ["Warning", "AttemptFailed"],
      ["Warning", "Failed"],
    ]);
  });

  it("lists every attempt when retries run out", () => {
    const pods = [aPod("p1", { created: 1, exitCode: 1 }), aPod("p2", { created: 20, exitCode: 1 }), aPod("p3", { created: 50, exitCode: 1, message: '{"error":{"type":"UserError","message":"ValueError"}}' })];
    const p = plan({ job: job(), batchJob: aBatchJob([failed("BackoffLimitExceeded", "Job has reached the specified backoff limit")], { backoffLimit: 2 }), pods });
    assert.deepEqual(
      p.status.attempts?.map((a) => [a.index, a.pod, a.exitCode, a.reason]),
      [
        [0, "p1", 1, "UserError"],
        [1, "p2", 1, "UserError"],
        [2, "p3", 1, "UserError"],
      ],
    );
    assert.equal(cond(p.status, "Failed")?.reason, "UserError");
    assert.match(cond(p.status, "Failed")?.message ?? "", /^3 attempts failed \(maxRetries 2\); last: pod p3: exit code 1: ValueError$/);
  });

  it("lists a disrupted pod without counting it", () => {
    const pods = [aPod("p1", { created: 1, exitCode: 143, disrupted: true }), aPod("p2", { created: 10, exitCode: 0, message: '{"output":1}' })];
    const p = plan({ job: job(), batchJob: aBatchJob([complete()]), pods });
    assert.deepEqual(
      p.status.attempts?.map((a) => [a.pod, a.reason]),
      [
        ["p1", "Disrupted"],
        ["p2", "Succeeded"],
      ],
    );
    assert.equal(cond(p.status, "Complete")?.status, "True");
    assert.deepEqual(p.events.map((e) => e.reason), ["AttemptDisrupted"]);
  });

  it("reports the backstop deadline as Timeout", () => {
    const p = plan({ job: job(), batchJob: aBatchJob([failed("DeadlineExceeded")], { activeDeadlineSeconds: 61 }), pods: [aPod("p1", { exitCode: 143 })] });
    assert.equal(cond(p.status, "Failed")?.reason, "Timeout");
    assert.match(cond(p.status, "Failed")?.message ?? "", /activeDeadlineSeconds 61/);
  });

  it("ignores pods of another batch Job carrying the same label", () => {
    const p = plan({ job: job(), batchJob: aBatchJob(), pods: [aPod("stranger", { owner: "other-uid" })] });
    assert.equal(p.status.attempts, undefined);
    assert.equal(cond(p.status, "Complete")?.reason, "Pending");
  });

  it("does not adopt a batch Job it does not control", () => {
    const p = plan({ job: job(), batchJob: aBatchJob([], { owner: "previous-incarnation" }) });
    assert.equal(cond(p.status, "Complete")?.reason, "BatchJobConflict");
    assert.equal(p.batchJob, undefined);
    assert.ok(p.requeueAfterMs !== undefined);
  });

  it("keeps following the batch Job when the Function is gone", () => {
    const p = plan({ job: job(), fn: undefined, batchJob: aBatchJob(), pods: [aPod("p1")] });
    assert.equal(cond(p.status, "Complete")?.reason, "Running");
  });

  it("fails as BatchJobLost when its batch Job vanished before the end", () => {
    const p = plan({ job: job(), batchJobGone: true });
    assert.equal(p.batchJob, undefined, "never a second batch Job for the same invocation");
    assert.equal(cond(p.status, "Failed")?.reason, "BatchJobLost");
  });
});

describe("planJob: after the end", () => {
  const done = plan({ job: aJob(undefined, plan().status), batchJob: aBatchJob([complete(at(9))], { completionTime: at(9) }), pods: [aPod("p1", { exitCode: 0, message: '{"output":1}' })] }).status;

  it("freezes the status, whatever happens to the batch Job", () => {
    const p = plan({ job: aJob(undefined, done), batchJobGone: true, fn: undefined });
    assert.equal(p.statusChanged, false);
    assert.equal(p.batchJob, undefined);
    assert.deepEqual(p.status, done);
    assert.equal(p.deleteJob, undefined);
    assert.equal(p.requeueAfterMs, undefined);
  });

  it("deletes the Job once ttlSecondsAfterFinished has passed", () => {
    const spec = { functionRef: { name: "whisper" }, ttlSecondsAfterFinished: 60 };
    const early = plan({ job: aJob(spec, done), now: at(30) });
    assert.equal(early.deleteJob, undefined);
    assert.equal(early.requeueAfterMs, 39_000);
    const late = plan({ job: aJob(spec, done), now: at(69) });
    assert.equal(late.deleteJob, true);
  });

  it("gives the batch Job the TTL plus a backstop: the operator deletes first, Kubernetes cannot delete before the outcome is read", () => {
    const p = plan({ job: aJob({ functionRef: { name: "whisper" }, ttlSecondsAfterFinished: 60 }) });
    assert.equal(p.batchJob?.spec?.ttlSecondsAfterFinished, 60 + BATCH_JOB_TTL_BACKSTOP_SECONDS);
  });
});

// Keeps the fixture's UIDs honest: pods are matched to the batch Job by its UID.
it("fixtures agree on the batch Job's UID", () => {
  assert.equal(aBatchJob().metadata.uid, BATCH_UID);
  assert.equal(aPod("p").metadata.ownerReferences?.[0]?.uid, BATCH_UID);
});
