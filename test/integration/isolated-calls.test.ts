// Isolated calls and batch Jobs end to end, in `hearth dev` on the real test cluster: run/push to
// an `invocation: isolated` Function becomes a hearth.dev Job, the operator's Job controller
// runs it as a batch Job with the exit-code table, and dev mode's local runner runs each of its
// pods as a real oneshot process (Node and Python) whose real exit code and termination message
// end the fake pod. Outputs come back through the gateway, beyond the 4 KiB termination message.
import { it } from "node:test";
import assert from "node:assert/strict";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { createClient, HearthError, type RemoteFunction } from "../../src/client/index.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { startDevMode } from "../support/dev-process.ts";

type Condition = { type: string; status: string; reason?: string; message?: string };
type JobStatus = { conditions?: Condition[]; attempts?: { index: number; exitCode?: number; reason?: string; message?: string; pod?: string }[]; output?: unknown; outputRef?: { kind: string; name: string } };

const CODE = "test/integration/handlers/isolated";

function isolatedFunction(ns: string, name: string, o: { runtime: "node" | "python"; handler: string; maxRetries?: number; timeoutSeconds?: number; memory?: string }): Record<string, unknown> {
  return {
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Function",
    metadata: { name, namespace: ns, annotations: { "hearth.dev/dev-code-path": CODE } },
    spec: {
      image: "example.com/calls:1",
      handler: o.handler,
      runtime: o.runtime,
      invocation: "isolated",
      resources: { cpu: "100m", memory: o.memory ?? "128Mi", ephemeralStorage: "128Mi" },
      timeoutSeconds: o.timeoutSeconds ?? 60,
      retries: { maxRetries: o.maxRetries ?? 0 },
    },
  };
}

it("isolated calls and batch Jobs run real oneshot processes in dev mode", { timeout: 420_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "iso");
  const dm = await startDevMode(t, { kubeconfig, namespace: ns });
  const { token } = dm;

  const custom = kc.makeApiClient(CustomObjectsApi);
  const create = (plural: string, body: Record<string, unknown>) => custom.createNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural, body });
  const getJob = async (name: string): Promise<JobStatus | undefined> => {
    try {
      const j = (await custom.getNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural: "jobs", name })) as { status?: JobStatus };
      return j.status ?? {};
    } catch {
      return undefined;
    }
  };
  const finished = (name: string) =>
    waitFor(async () => {
      const s = await getJob(name);
      return s?.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True") === true ? s : undefined;
    }, { timeoutMs: 150_000, what: `Job ${name} finished; dev output:\n${dm.output.slice(-3000)}` });

  await create("functions", isolatedFunction(ns, "big-node", { runtime: "node", handler: "calls:big" }));
  await create("functions", isolatedFunction(ns, "big-py", { runtime: "python", handler: "calls:big" }));
  await create("functions", isolatedFunction(ns, "flaky", { runtime: "node", handler: "calls:fail", maxRetries: 1 }));
  await create("functions", isolatedFunction(ns, "fail-py", { runtime: "python", handler: "calls:fail" }));
  await create("functions", isolatedFunction(ns, "broken", { runtime: "node", handler: "calls:missing", maxRetries: 2 }));
  await create("functions", isolatedFunction(ns, "sleepy", { runtime: "node", handler: "calls:sleepy" }));
  // No node has this much memory: the call's pod stays Pending, Unschedulable.
  await create("functions", isolatedFunction(ns, "huge", { runtime: "node", handler: "calls:big", memory: "900Ti" }));

  const client = createClient({ url: dm.url, token });
  t.after(() => client.close());
  // The gateway learns of new Functions from its own watch: wait until it knows them all.
  const fn = async (name: string): Promise<RemoteFunction> => {
    const f = client.function(`${ns}/${name}`);
    await waitFor(async () => f.stats().then(() => true, () => false), { timeoutMs: 30_000, what: `gateway knows ${name}` });
    return f;
  };

  const bigOutput = async (name: string, size: number): Promise<void> => {
    const task = await (await fn(name)).push({ size });
    const out = (await task.result({ timeoutMs: 150_000 })) as { size: number; data: string; pod: string };
    assert.equal(out.data.length, size, `${name}: the whole ${size}-character output came back`);
    assert.ok(out.pod.startsWith(`call-${task.id}-hearth-`), `${name}: ran in the call Job's pod, got ${out.pod}`);
    const doc = await task.status();
    assert.equal(doc.status, "succeeded");
    assert.equal(doc.attempts, 1);
    const job = await finished(`call-${task.id}`);
    assert.deepEqual(job.outputRef, { kind: "Task", name: task.id }, `${name}: the Job says the output is held by the task`);
    assert.equal(job.attempts?.[0]?.exitCode, 0);
  };

  const retriedThenFailed = async (): Promise<void> => {
    const task = await (await fn("flaky")).push("boom");
    await assert.rejects(task.result({ timeoutMs: 150_000 }), (err: unknown) => {
      assert.ok(err instanceof HearthError, String(err));
      assert.equal(err.type, "UserError");
      assert.match(err.message, /user code failed: boom/);
      return true;
    });
    const doc = await task.status();
    assert.equal(doc.status, "failed");
    assert.equal(doc.attempts, 2, "maxRetries 1: two attempts, each a pod");
    assert.equal(doc.error?.attempt, 2);
    const job = await finished(`call-${task.id}`);
    assert.deepEqual(job.attempts?.map((a) => a.exitCode), [1, 1]);
  };

  const pythonFails = async (): Promise<void> => {
    const task = await (await fn("fail-py")).push("snake");
    await assert.rejects(task.result({ timeoutMs: 150_000 }), (err: unknown) => err instanceof HearthError && err.type === "UserError" && /user code failed: snake/.test(err.message));
  };

  const failsAtOnce = async (): Promise<void> => {
    const task = await (await fn("broken")).push(null);
    await assert.rejects(task.result({ timeoutMs: 150_000 }), (err: unknown) => err instanceof HearthError && err.type === "BadConfiguration");
    const doc = await task.status();
    assert.equal(doc.attempts, 1, "exit 2 is FailJob: no retry although maxRetries is 2");
    const job = await finished(`call-${task.id}`);
    assert.equal(job.attempts?.length, 1);
    assert.equal(job.attempts?.[0]?.exitCode, 2);
  };

  const cancelDeletesJob = async (): Promise<void> => {
    const task = await (await fn("sleepy")).push(300);
    await waitFor(async () => (await task.status()).status === "running", { timeoutMs: 120_000, what: "sleepy call running" });
    const cancelled = await task.cancel();
    assert.equal(cancelled.status, "cancelled");
    await waitFor(async () => (await getJob(`call-${task.id}`)) === undefined, { timeoutMs: 60_000, what: "the cancelled call's Job deleted" });
  };

  const waitsUnschedulable = async (): Promise<void> => {
    const task = await (await fn("huge")).push({ size: 1 });
    const doc = await waitFor(
      async () => {
        const d = await task.status();
        return d.waiting?.reason === "Unschedulable" ? d : undefined;
      },
      { timeoutMs: 90_000, what: "the huge call queued with reason Unschedulable" },
    );
    assert.equal(doc.status, "queued");
    assert.match(doc.waiting?.message ?? "", /Insufficient memory|nodes are available/);
    await task.cancel();
  };

  // kind: Job, written by hand: the exit code and message in status come from the real handler.
  const handWrittenJobs = async (): Promise<void> => {
    await create("jobs", { apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name: "real-fail", namespace: ns }, spec: { functionRef: { name: "flaky" }, input: "by hand", retries: { maxRetries: 0 } } });
    await create("jobs", { apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name: "real-ok", namespace: ns }, spec: { functionRef: { name: "big-py" }, input: { size: 12 } } });
    const failed = await finished("real-fail");
    assert.equal(failed.conditions?.find((c) => c.type === "Failed")?.reason, "UserError");
    assert.equal(failed.attempts?.[0]?.exitCode, 1);
    assert.match(failed.attempts?.[0]?.message ?? "", /user code failed: by hand/);
    const ok = await finished("real-ok");
    assert.equal((ok.output as { data?: string } | undefined)?.data, "x".repeat(12), "the output from the termination message of a real process");
    assert.match((ok.output as { pod?: string } | undefined)?.pod ?? "", /^real-ok-hearth-/);
  };

  const results = await Promise.allSettled([bigOutput("big-node", 10_000), bigOutput("big-py", 6_000), retriedThenFailed(), pythonFails(), failsAtOnce(), cancelDeletesJob(), handWrittenJobs(), waitsUnschedulable()]);
  const failures = results.flatMap((r, i) => (r.status === "rejected" ? [`#${i}: ${r.reason instanceof Error ? (r.reason.stack ?? r.reason.message) : String(r.reason)}`] : []));
  assert.deepEqual(failures, [], `dev output:\n${dm.output.slice(-4000)}`);
});
