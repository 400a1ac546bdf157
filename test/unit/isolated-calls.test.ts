// Isolated calls, the pure parts: the engine's isolated-task hooks (fake clock, in-memory store),
// what a call Job's status means for its task, the Job controller's rendering of a call's pod,
// and the oneshot documents of a delivered output.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { JobStatus } from "../../src/api/v1alpha1/index.ts";
import { taskToken, verifyTaskToken } from "../../src/auth/worker-token.ts";
import { DEFAULT_JOB_CONTROLLER_CONFIG, planJob } from "../../src/controllers/job/plan.ts";
import { parseTerminationMessage } from "../../src/controllers/job/result.ts";
import { deriveOutcome } from "../../src/controllers/job/outcome.ts";
import { mergeAttempts } from "../../src/controllers/job/attempts.ts";
import { Authenticator } from "../../src/gateway/auth.ts";
import { callJob, callJobName, callUpdate, errorTypeOf } from "../../src/gateway/isolated/plan.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";
import { TaskStore } from "../../src/gateway/store.ts";
import { EngineError, renderTask, TaskEngine } from "../../src/gateway/tasks.ts";
import { FakeClock } from "../../src/kube/clock.ts";
import { deliveredDocument } from "../../src/runtime/oneshot-task.ts";
import { aBatchJob, aFunction, aJob, aPod, at, WORKLOAD } from "./job-fixtures.ts";

function engineWith() {
  const clock = new FakeClock();
  const iso = staticFunction({ namespace: "ns", name: "iso", invocation: "isolated", timeoutSeconds: 30 });
  const engine = new TaskEngine({ store: new TaskStore(":memory:"), registry: new StaticRegistry([iso]), clock });
  return { clock, iso, engine };
}

/** Outcomes become visible once the store has committed them. */
async function durable(engine: TaskEngine, id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const status = engine.get(id)?.status;
    if (status === "succeeded" || status === "failed" || status === "cancelled") return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("TaskEngine: isolated tasks", () => {
  it("counts them as queued but never hands them to a warm lease", async () => {
    const { engine, iso } = engineWith();
    const { task } = await engine.submit(iso, '{"x":1}', "json");
    assert.equal(task.isolated, true);
    assert.deepEqual(await engine.lease(iso, "w", 5, 0), []);
    assert.equal(engine.stats("ns", "iso").queueDepth, 1);
    assert.deepEqual(engine.isolatedTasks().map((t) => t.id), [task.id]);
  });

  it("runs from the pod's claim to its output, attempts counted per pod", async () => {
    const { engine, iso } = engineWith();
    const { task } = await engine.submit(iso, '{"x":1}', "json");
    const grant = engine.claim(task.id, "pod-a");
    assert.equal(grant.attempt, 1);
    assert.equal(grant.input, '{"x":1}');
    assert.equal(engine.claim(task.id, "pod-a").leaseId, grant.leaseId, "a repeated claim by the same pod gets the same lease");
    assert.equal(engine.get(task.id)?.status, "running");
    assert.deepEqual(engine.stats("ns", "iso"), { queueDepth: 0, inFlight: 1, warmWorkers: 0, busyWorkers: 0 });
    // A Job view from before the claim (its pod not yet counted as ended) changes nothing.
    engine.isolatedObserved(task.id, { state: "waiting", ended: 0, waiting: { reason: "Pending", message: "pod pending" } });
    assert.equal(engine.get(task.id)?.status, "running");
    // The attempt failed and the batch Job backs off: queued again, then the next pod claims.
    engine.isolatedObserved(task.id, { state: "waiting", ended: 1, waiting: { reason: "BackingOff", message: "retrying" } });
    assert.equal(engine.get(task.id)?.status, "queued");
    assert.match(renderTask(task), /"waiting":\{"reason":"BackingOff"/);
    assert.throws(() => void engine.complete(task.id, grant.leaseId, "1"), (e: unknown) => e instanceof EngineError && e.type === "Conflict", "the first pod's lease is gone");
    const second = engine.claim(task.id, "pod-b");
    assert.equal(second.attempt, 2);
    await engine.complete(task.id, second.leaseId, '"ok"');
    assert.equal(engine.get(task.id)?.status, "succeeded");
    assert.equal(engine.get(task.id)?.attempts, 2);
    assert.deepEqual(engine.stats("ns", "iso"), { queueDepth: 0, inFlight: 0, warmWorkers: 0, busyWorkers: 0 });
  });

  it("fails from the Job's verdict, not from the worker's fail route", async () => {
    const { engine, iso } = engineWith();
    const { task } = await engine.submit(iso, "null", "json");
    const grant = engine.claim(task.id, "pod-a");
    assert.throws(() => void engine.fail(task.id, grant.leaseId, "UserError", "x"), (e: unknown) => e instanceof EngineError && e.type === "Conflict");
    engine.isolatedFinished(task.id, { error: { type: "UserError", message: "2 attempts failed", attempt: 2 }, attempts: 2 });
    await durable(engine, task.id);
    const done = engine.get(task.id);
    assert.equal(done?.status, "failed");
    assert.equal(done?.attempts, 2);
    assert.equal(done?.error?.type, "UserError");
    assert.throws(() => engine.claim(task.id, "pod-c"), (e: unknown) => e instanceof EngineError && e.type === "Conflict");
  });

  it("takes the Job's running view without a claim, and a claim after it does not count twice", async () => {
    const { engine, iso } = engineWith();
    const { task } = await engine.submit(iso, "null", "json");
    engine.isolatedObserved(task.id, { state: "waiting", ended: 0, waiting: { reason: "Unschedulable", message: "0/3 nodes have nvidia.com/gpu" } });
    assert.deepEqual((JSON.parse(renderTask(task)) as { waiting?: unknown }).waiting, { reason: "Unschedulable", message: "0/3 nodes have nvidia.com/gpu" });
    engine.isolatedObserved(task.id, { state: "running", started: 1 });
    assert.equal(engine.get(task.id)?.status, "running");
    assert.equal(engine.claim(task.id, "pod-a").attempt, 1);
    engine.isolatedFinished(task.id, { cancelled: "Job ns/call-x was deleted" });
    await durable(engine, task.id);
    assert.equal(engine.get(task.id)?.status, "cancelled");
  });
});

describe("TaskEngine: isolated tasks across a gateway restart", () => {
  it("takes progress and the output of the pod that claimed from the previous process, once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hearth-iso-restart-"));
    try {
      const path = join(dir, "gateway.db");
      const clock = new FakeClock();
      const iso = staticFunction({ namespace: "ns", name: "iso", invocation: "isolated", timeoutSeconds: 30 });
      const store1 = new TaskStore(path);
      const before = new TaskEngine({ store: store1, registry: new StaticRegistry([iso]), clock });
      const { task } = await before.submit(iso, '{"x":1}', "json");
      const grant = before.claim(task.id, "pod-a");
      await store1.committed();
      before.close();
      await store1.close();

      // The restarted gateway: the lease was not stored; the pod still holds it.
      const store2 = new TaskStore(path);
      const after = new TaskEngine({ store: store2, registry: new StaticRegistry([iso]), clock });
      assert.equal(after.recover(), 1);
      after.isolatedTasks();
      after.progress(task.id, grant.leaseId, 0.5, "half");
      const running = after.get(task.id);
      assert.equal(running?.status, "running");
      assert.deepEqual(running?.progress, { value: 0.5, message: "half" });
      await after.complete(task.id, grant.leaseId, '"ok"');
      const done = after.get(task.id);
      assert.equal(done?.status, "succeeded");
      assert.equal(done?.output, '"ok"');
      assert.equal(done?.attempts, 1, "adopted, not counted as a new attempt");
      after.close();
      await store2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never adopts a lease this process granted and dropped, nor one while another is held", async () => {
    const { engine, iso } = engineWith();
    const { task } = await engine.submit(iso, "null", "json");
    const first = engine.claim(task.id, "pod-a");
    engine.isolatedObserved(task.id, { state: "waiting", ended: 1, waiting: { reason: "BackingOff", message: "retrying" } });
    assert.throws(() => void engine.complete(task.id, first.leaseId, "1"), (e: unknown) => e instanceof EngineError && e.type === "Conflict", "own dropped lease");
    engine.claim(task.id, "pod-b");
    assert.throws(() => void engine.complete(task.id, "0badc0de.1", "1"), (e: unknown) => e instanceof EngineError && e.type === "Conflict", "another pod holds the task");
  });
});

describe("call Jobs", () => {
  it("carry the task, not its input", () => {
    const job = callJob({ taskId: "0b8d6a7e-1c1a-4a59-9e59-3f3e7a9b1c2d", namespace: "ns", functionName: "iso", ttlSecondsAfterFinished: 3600 });
    assert.equal(job.metadata.name, callJobName("0b8d6a7e-1c1a-4a59-9e59-3f3e7a9b1c2d"));
    assert.ok(job.metadata.name.length <= 52);
    assert.deepEqual(job.spec, { functionRef: { name: "iso" }, taskId: "0b8d6a7e-1c1a-4a59-9e59-3f3e7a9b1c2d", invocation: "isolated", ttlSecondsAfterFinished: 3600 });
    assert.equal(job.metadata.labels["hearth.dev/task"], "0b8d6a7e-1c1a-4a59-9e59-3f3e7a9b1c2d");
  });

  const cond = (type: string, status: "True" | "False", reason: string, message = reason) => ({ type, status, reason, message, lastTransitionTime: at(1) });

  it("map their status onto the task", () => {
    assert.deepEqual(callUpdate(undefined, "json"), { kind: "none" });
    assert.deepEqual(callUpdate({ conditions: [cond("Complete", "False", "Unschedulable", "no GPU")] }, "json"), { kind: "waiting", ended: 0, reason: "Unschedulable", message: "no GPU" });
    const running: JobStatus = { conditions: [cond("Complete", "False", "Running")], attempts: [{ index: 0, pod: "p0", startTime: at(1), endTime: at(2), exitCode: 1, reason: "UserError" }, { index: 1, pod: "p1", reason: "Running" }] };
    assert.deepEqual(callUpdate(running, "json"), { kind: "running", started: 2 });
    const failed: JobStatus = { conditions: [cond("Complete", "False", "UserError"), cond("Failed", "True", "UserError", "2 attempts failed")], attempts: running.attempts?.map((a) => ({ ...a, endTime: at(3) })) };
    assert.deepEqual(callUpdate(failed, "json"), { kind: "failed", type: "UserError", message: "2 attempts failed", attempts: 2 });
    assert.deepEqual(callUpdate({ conditions: [cond("Complete", "True", "Succeeded")], outputRef: { kind: "Task", name: "t" } }, "json"), { kind: "delivered", attempts: 0 });
    assert.deepEqual(callUpdate({ conditions: [cond("Complete", "True", "Succeeded")], output: { a: 1 }, attempts: [{ index: 0, pod: "p0" }] }, "json"), { kind: "succeeded", output: '{"a":1}', attempts: 1 });
    assert.equal(callUpdate({ conditions: [cond("Complete", "True", "Succeeded")] }, "json").kind, "failed", "exit 0 without a result is no silent null");
    assert.equal(callUpdate({ conditions: [cond("Complete", "False", "FunctionNotFound", "Function iso not found")] }, "json").kind, "failed");
    assert.equal(errorTypeOf("BackoffLimitExceeded"), "Fatal");
    assert.equal(errorTypeOf("InputRejected"), "InputRejected");
  });
});

describe("Job controller: a call Job's pod", () => {
  it("claims its task from the gateway with a token from its own Secret", () => {
    const job = aJob({ functionRef: { name: "whisper" }, taskId: "abc-123" });
    const p = planJob({
      job,
      fn: aFunction(),
      batchJob: undefined,
      batchJobGone: false,
      pods: [],
      inputCheck: { state: "unchecked" },
      now: new Date(at(1)),
      config: DEFAULT_JOB_CONTROLLER_CONFIG,
      workload: WORKLOAD,
      taskToken: "tok",
    });
    const env = p.batchJob?.spec?.template.spec?.containers[0]?.env ?? [];
    const byName = new Map(env.map((e) => [e.name, e]));
    assert.equal(byName.get("HEARTH_TASK_ID")?.value, "abc-123");
    assert.equal(byName.get("HEARTH_GATEWAY_URL")?.value, WORKLOAD.gateway.url);
    assert.deepEqual(byName.get("HEARTH_TASK_TOKEN")?.valueFrom?.secretKeyRef, { name: "run-1-hearth-task", key: "token" });
    assert.equal(byName.get("HEARTH_INPUT_FILE"), undefined, "no input file: the input stays in the gateway");
    assert.equal(p.taskSecret?.data?.["token"], Buffer.from("tok").toString("base64"));
    assert.equal(p.taskSecret?.metadata?.ownerReferences?.[0]?.name, "run-1");
  });

  it("reads outputRef from the termination message into status", () => {
    assert.deepEqual(parseTerminationMessage('{"outputRef":{"kind":"Task","name":"t1"}}'), { kind: "outputRef", outputRef: { kind: "Task", name: "t1" } });
    const pod = aPod("run-1-hearth-a", { phase: "Succeeded", exitCode: 0, message: '{"outputRef":{"kind":"Task","name":"t1"}}' });
    const { facts } = mergeAttempts([], [pod], "worker");
    const o = deriveOutcome({ batchJob: aBatchJob([{ type: "Complete", status: "True" }]), facts, maxRetries: 0, activeDeadlineSeconds: undefined, now: at(5) });
    assert.equal(o.state, "succeeded");
    assert.deepEqual(o.state === "succeeded" ? o.outputRef : undefined, { kind: "Task", name: "t1" });
  });
});

describe("task tokens", () => {
  it("open one task of one Function, and nothing else", () => {
    const key = "k".repeat(32);
    const t = taskToken(key, "ns", "iso", "t1");
    assert.ok(verifyTaskToken(key, "ns", "iso", "t1", t));
    assert.ok(!verifyTaskToken(key, "ns", "iso", "t2", t));
    assert.ok(!verifyTaskToken(key, "ns", "other", "t1", t));
    const auth = new Authenticator({ workerSigningKey: key });
    assert.ok(auth.task(`Bearer ${t}`, "ns", "iso", "t1"));
    assert.ok(!auth.task(`Bearer ${t}`, "ns", "iso", "t2"));
    assert.ok(!auth.worker(`Bearer ${t}`, "ns", "iso"), "not a worker token: it leases nothing");
  });

  it("leave a small delivered output in the termination message, and a reference for a large one", () => {
    assert.equal(deliveredDocument("t1", '{"a":1}'), '{"output":{"a":1}}');
    assert.equal(deliveredDocument("t1", JSON.stringify("x".repeat(5000))), '{"outputRef":{"kind":"Task","name":"t1"}}');
  });
});
