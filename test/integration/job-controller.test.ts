// The Job controller on the real control plane: batch Jobs run by kube-controller-manager's Job
// controller, pods ended by kwok stages with the exit codes and termination messages chosen
// through the Function's pod annotations, garbage collection by the real GC.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { hearthJob, type FunctionSpecInput, type HearthJob, type JobSpec } from "../../src/api/v1alpha1/index.ts";
import { batchJobName } from "../../src/controllers/job/batch-job.ts";
import { batchJobsResource, configMapsResource, JobController } from "../../src/controllers/job/controller.ts";
import { BATCH_JOB_TTL_BACKSTOP_SECONDS, type JobControllerConfig } from "../../src/controllers/job/plan.ts";
import { KubeClient, createClient } from "../../src/kube/client.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import { KubeError } from "../../src/kube/errors.ts";
import { fromKubeconfigFile } from "../../src/kube/kubeconfig.ts";
import { events, hearthFunctions, hearthJobs, pods, untyped } from "../../src/kube/resources.ts";
import type { OperatorConfigInput } from "../../src/operator/config.ts";
import { Manager } from "../../src/operator/manager.ts";
import { workloadConfigSchema, type WorkloadConfig } from "../../src/workload/config.ts";
import { removeFakeNodes } from "../../src/devcluster/index.ts";
import { installCrds, startTestOperator, type TestOperator } from "../support/operator.ts";
import { createFakeNode, createTestNamespace, DEDICATED_TAINT_KEY, fakePodAnnotations, kubeConfigFromEnv, uniqueName, waitFor, type FakePodBehaviour } from "../support/cluster.ts";

/** Small enough that a test's backstop fires in seconds, large enough not to fire by accident. */
const TEST_CONFIG: Partial<JobControllerConfig> = { deadlineSlackSeconds: 20, recheckAfterMs: 1000 };

const kc = kubeConfigFromEnv();
const core = kc.makeApiClient(CoreV1Api);
const clock = new SystemClock();
const logger = pino({ level: process.env["HEARTH_TEST_LOG"] === "1" ? "debug" : "warn" });
const client = createClient({ connection: await fromKubeconfigFile(process.env["HEARTH_KUBECONFIG"] ?? ""), clock, fieldManager: "hearth-test" });
after(() => client.transport.close());

/**
 * A node of this file's own: roomy, labelled and tainted, so these pods land only there and no
 * other test file's pods do (draining it at the end would delete them).
 */
async function createOwnNode(name: string, pods: number): Promise<Record<string, string>> {
  const nodeSelector = { "hearth.dev/test-nodes": name };
  await createFakeNode(core, { name, cpu: "64", memory: "256Gi", pods, labels: nodeSelector, taints: [{ key: DEDICATED_TAINT_KEY, value: name, effect: "NoSchedule" }] });
  return nodeSelector;
}

function workloadFor(nodeLabel: Record<string, string>): WorkloadConfig {
  const id = nodeLabel["hearth.dev/test-nodes"];
  return workloadConfigSchema.parse({ pod: { nodeSelector: nodeLabel, tolerations: [{ key: DEDICATED_TAINT_KEY, operator: "Equal", value: id, effect: "NoSchedule" }] } });
}

function startOperator(namespaces: string[], workload: WorkloadConfig, c: KubeClient = client, log = logger): Manager {
  const manager = new Manager({ client: c, clock, logger: log, registry: new Registry(), identity: uniqueName("job-test"), namespaces });
  new JobController(manager, { workload, config: TEST_CONFIG });
  manager.start();
  return manager;
}

/** A Function whose pods end the way `behaviour` says (kwok reads the annotations). */
async function makeFunction(namespace: string, name: string, behaviour: FakePodBehaviour, spec: Partial<FunctionSpecInput> = {}): Promise<void> {
  await client.create(hearthFunctions, {
    metadata: { name, namespace },
    spec: {
      image: "registry.example.com/test:1",
      handler: "app:Model",
      invocation: "isolated",
      resources: { cpu: "10m", memory: "16Mi", ephemeralStorage: "16Mi" },
      podMetadata: { annotations: fakePodAnnotations(behaviour) },
      ...spec,
    },
  });
}

async function makeJob(namespace: string, name: string, spec: Partial<JobSpec>): Promise<void> {
  await client.create(hearthJobs, { metadata: { name, namespace }, spec });
}

async function getJob(namespace: string, name: string): Promise<HearthJob | undefined> {
  const raw = await client.get(hearthJobs, name, namespace);
  return raw === undefined ? undefined : hearthJob.parse(raw);
}

function condition(job: HearthJob | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  const c = job?.status?.conditions?.find((x) => x.type === type);
  return c === undefined ? undefined : { status: c.status, reason: c.reason, message: c.message };
}

async function waitForJob(namespace: string, name: string, pred: (j: HearthJob) => boolean, timeoutMs = 60_000, what = "Job status"): Promise<HearthJob> {
  return waitFor(
    async () => {
      const j = await getJob(namespace, name);
      return j !== undefined && pred(j) ? j : undefined;
    },
    { timeoutMs, intervalMs: 250, what: `${namespace}/${name}: ${what}` },
  );
}

const finished = (j: HearthJob): boolean => condition(j, "Complete")?.status === "True" || condition(j, "Failed")?.status === "True";

async function batchJobsOf(namespace: string, jobName: string) {
  return (await client.list(batchJobsResource, { namespace, labelSelector: `hearth.dev/job=${jobName}` })).items;
}

async function podsOf(namespace: string, jobName: string) {
  return (await client.list(pods, { namespace, labelSelector: `hearth.dev/job=${jobName}` })).items;
}

async function eventReasons(namespace: string, name: string): Promise<string[]> {
  const list = await client.list(events, { namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=Job` });
  return list.items.filter((e) => (e["involvedObject"] as { apiVersion?: string }).apiVersion === "hearth.dev/v1alpha1").map((e) => String(e["reason"]));
}

async function evict(namespace: string, pod: string): Promise<void> {
  await client.transport.request("POST", `/api/v1/namespaces/${namespace}/pods/${pod}/eviction`, {
    verb: "create",
    resource: "pods/eviction",
    body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace } },
  });
}

describe("Job controller on a real cluster", { concurrency: true, timeout: 240_000 }, () => {
  let ns = "";
  let nodeName = "";
  let workload: WorkloadConfig;
  let manager: Manager | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    await installCrds(client);
    const id = uniqueName("jobs");
    nodeName = id;
    // A node of our own (tainted, roomy) selected through the operator's pod.nodeSelector and
    // tolerated through its pod.tolerations: other test files cannot starve these pods, and the
    // node's drain at the end deletes no pod of theirs.
    workload = workloadFor(await createOwnNode(nodeName, 500));
    const namespace = await createTestNamespace(kc, "jobs");
    ns = namespace.name;
    cleanups.push(() => namespace.delete());
    manager = startOperator([ns], workload);
  });

  after(async () => {
    await manager?.stop();
    for (const c of cleanups.reverse()) await c();
    await removeFakeNodes(core, [nodeName]);
  });

  it("runs one batch Job and puts the output from the termination message in status", async () => {
    await makeFunction(ns, "ok", { exitCode: 0, delay: "500ms", message: JSON.stringify({ output: { text: "hello", n: 2 } }) });
    await makeJob(ns, "ok-1", { functionRef: { name: "ok" }, input: { audio: "s3://bucket/a.wav" } });
    const j = await waitForJob(ns, "ok-1", finished);
    assert.deepEqual(condition(j, "Complete")?.status, "True", JSON.stringify(j.status));
    assert.equal(condition(j, "Failed"), undefined);
    assert.deepEqual(j.status?.output, { text: "hello", n: 2 });
    assert.equal(j.status?.attempts?.length, 1);
    assert.equal(j.status?.attempts?.[0]?.reason, "Succeeded");
    assert.equal(j.status?.attempts?.[0]?.exitCode, 0);
    assert.ok(j.status?.startTime !== undefined && j.status.completionTime !== undefined);
    assert.equal(j.status?.batchJob, batchJobName("ok-1"));

    const batch = await batchJobsOf(ns, "ok-1");
    assert.equal(batch.length, 1);
    const raw = await client.get(untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true }), batchJobName("ok-1"), ns);
    const spec = raw?.["spec"] as { backoffLimit: number; podFailurePolicy: unknown; template: { spec: { restartPolicy: string; containers: { env: { name: string; value?: string }[] }[] } } };
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.template.spec.restartPolicy, "Never");
    const env = spec.template.spec.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === "HEARTH_MODE")?.value, "oneshot");
    assert.ok(!env.some((e) => e.value?.includes("s3://bucket")), "the input is not in env");
    // A small input rides in a pod annotation, read through the downward API: no ConfigMap.
    const template = (raw?.["spec"] as { template: { metadata: { annotations: Record<string, string> } } }).template;
    assert.equal(template.metadata.annotations["hearth.dev/input"], '{"audio":"s3://bucket/a.wav"}');
    assert.equal(await client.get(configMapsResource, "ok-1-hearth-input", ns), undefined);
    // A success is told by the Complete condition alone: no Event (every queued Event sent first).
    await manager?.recorder.flush();
    assert.deepEqual(await eventReasons(ns, "ok-1"), []);
  });

  it("retries exit 1 maxRetries times, then fails listing every attempt", async () => {
    await makeFunction(ns, "user-error", { exitCode: 1, delay: "200ms", message: JSON.stringify({ error: { type: "UserError", message: "ValueError: bad" } }) });
    await makeJob(ns, "user-error-1", { functionRef: { name: "user-error" }, retries: { maxRetries: 2, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 } });
    // kube-controller-manager waits 10 s, then 20 s, between attempts.
    const j = await waitForJob(ns, "user-error-1", finished, 120_000);
    assert.deepEqual(condition(j, "Failed")?.reason, "UserError", JSON.stringify(j.status));
    assert.match(condition(j, "Failed")?.message ?? "", /^3 attempts failed \(maxRetries 2\); last: pod .*: exit code 1: ValueError: bad$/);
    assert.deepEqual(
      j.status?.attempts?.map((a) => [a.index, a.exitCode, a.reason, a.message]),
      [
        [0, 1, "UserError", "ValueError: bad"],
        [1, 1, "UserError", "ValueError: bad"],
        [2, 1, "UserError", "ValueError: bad"],
      ],
    );
    assert.equal(new Set(j.status?.attempts?.map((a) => a.pod)).size, 3, "one fresh pod per attempt");
    assert.equal((await batchJobsOf(ns, "user-error-1")).length, 1);
    const reasons = await eventReasons(ns, "user-error-1");
    assert.equal(reasons.filter((r) => r === "AttemptFailed").length, 3);
  });

  for (const [code, reason] of [
    [2, "BadConfiguration"],
    [65, "InputRejected"],
  ] as const) {
    it(`fails at once on exit ${code} (${reason}), without retrying`, async () => {
      const fn = `fail-${code}`;
      await makeFunction(ns, fn, { exitCode: code, delay: "200ms", message: JSON.stringify({ error: { type: reason, message: `exit ${code} on purpose` } }) });
      await makeJob(ns, `${fn}-1`, { functionRef: { name: fn }, retries: { maxRetries: 3, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 } });
      const j = await waitForJob(ns, `${fn}-1`, finished, 30_000);
      assert.deepEqual(condition(j, "Failed"), { status: "True", reason, message: `not retried: pod ${j.status?.attempts?.[0]?.pod}: exit code ${code}: exit ${code} on purpose` });
      assert.equal(j.status?.attempts?.length, 1);
      // Had the Job counted it, a second pod would appear after the 10 s backoff.
      await sleep(12_000);
      assert.equal((await podsOf(ns, `${fn}-1`)).length, 1);
    });
  }

  it("retries exit 75 (Fatal)", async () => {
    await makeFunction(ns, "fatal", { exitCode: 75, delay: "200ms", message: JSON.stringify({ error: { type: "Fatal", message: "CUDA error" } }) });
    await makeJob(ns, "fatal-1", { functionRef: { name: "fatal" }, retries: { maxRetries: 1, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 } });
    const j = await waitForJob(ns, "fatal-1", finished, 60_000);
    assert.equal(condition(j, "Failed")?.reason, "Fatal");
    assert.deepEqual(
      j.status?.attempts?.map((a) => [a.exitCode, a.reason]),
      [
        [75, "Fatal"],
        [75, "Fatal"],
      ],
    );
  });

  it("does not count a disrupted (evicted) pod", async () => {
    await makeFunction(ns, "slow", { exitCode: 0, delay: "8s", message: JSON.stringify({ output: "done" }) });
    // maxRetries 0: had the eviction counted, the Job would fail.
    await makeJob(ns, "evicted-1", { functionRef: { name: "slow" } });
    const first = await waitFor(
      async () => (await podsOf(ns, "evicted-1")).find((p) => p.status.phase === "Running"),
      { what: "first pod running", timeoutMs: 30_000 },
    );
    await evict(ns, first.metadata.name);
    const j = await waitForJob(ns, "evicted-1", finished, 60_000);
    assert.equal(condition(j, "Complete")?.status, "True", JSON.stringify(j.status));
    assert.deepEqual(j.status?.output, "done");
    const attempts = j.status?.attempts ?? [];
    assert.deepEqual(
      attempts.map((a) => [a.pod === first.metadata.name, a.reason]),
      [
        [true, "Disrupted"],
        [false, "Succeeded"],
      ],
    );
    assert.match(attempts[0]?.message ?? "", /[Ee]viction/);
  });

  it("control: without the Ignore rule, the same eviction fails a batch Job (so the test above can fail)", async () => {
    const name = "control-no-ignore";
    await client.create(untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true }), {
      metadata: { name, namespace: ns },
      spec: {
        backoffLimit: 0,
        podFailurePolicy: { rules: [{ action: "Count", onExitCodes: { operator: "In", values: [1] } }] },
        template: {
          metadata: { annotations: fakePodAnnotations({ exitCode: 0, delay: "8s" }) },
          spec: { restartPolicy: "Never", nodeSelector: workload.pod.nodeSelector, tolerations: workload.pod.tolerations, containers: [{ name: "worker", image: "x" }] },
        },
      },
    });
    const pod = await waitFor(
      async () => (await client.list(pods, { namespace: ns, labelSelector: `job-name=${name}` })).items.find((p) => p.status.phase === "Running"),
      { what: "control pod running", timeoutMs: 30_000 },
    );
    await evict(ns, pod.metadata.name);
    await waitFor(
      async () => {
        const b = await client.get(batchJobsResource, name, ns);
        return b?.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True")?.reason === "BackoffLimitExceeded";
      },
      { what: "control batch Job Failed", timeoutMs: 30_000 },
    );
  });

  it("reports exit 124 as Timeout", async () => {
    await makeFunction(ns, "slowpoke", { exitCode: 124, delay: "200ms", message: JSON.stringify({ error: { type: "Timeout", message: "attempt deadline of 5s passed" } }) });
    await makeJob(ns, "timeout-1", { functionRef: { name: "slowpoke" }, timeoutSeconds: 5 });
    const j = await waitForJob(ns, "timeout-1", finished, 30_000);
    assert.equal(condition(j, "Failed")?.reason, "Timeout");
    assert.equal(j.status?.attempts?.[0]?.reason, "Timeout");
  });

  it("reports the activeDeadlineSeconds backstop as Timeout when the runtime never ends", async () => {
    await makeFunction(ns, "hang", { runForever: true });
    await makeJob(ns, "hang-1", { functionRef: { name: "hang" }, timeoutSeconds: 1 });
    const batch = await waitFor(async () => (await batchJobsOf(ns, "hang-1"))[0], { what: "batch Job" });
    assert.equal(batch.spec?.activeDeadlineSeconds, 1 + 20);
    const j = await waitForJob(ns, "hang-1", finished, 60_000);
    assert.equal(condition(j, "Failed")?.reason, "Timeout", JSON.stringify(j.status));
    assert.match(condition(j, "Failed")?.message ?? "", /activeDeadlineSeconds 21/);
  });

  it("deleting the Job removes its batch Job, pods and input", async () => {
    await makeFunction(ns, "forever", { runForever: true });
    // Large enough for a ConfigMap of its own.
    await makeJob(ns, "deleted-1", { functionRef: { name: "forever" }, input: { text: "x".repeat(10_000) } });
    await waitFor(async () => (await podsOf(ns, "deleted-1")).some((p) => p.status.phase === "Running"), { what: "pod running", timeoutMs: 30_000 });
    assert.ok((await client.get(configMapsResource, "deleted-1-hearth-input", ns)) !== undefined);
    await client.delete(hearthJobs, "deleted-1", ns);
    await waitFor(
      async () => (await batchJobsOf(ns, "deleted-1")).length === 0 && (await podsOf(ns, "deleted-1")).length === 0 && (await client.get(configMapsResource, "deleted-1-hearth-input", ns)) === undefined,
      { what: "batch Job, pods and ConfigMap garbage-collected", timeoutMs: 60_000 },
    );
  });

  it("deletes the Job, and with it its batch Job, ttlSecondsAfterFinished after the end", async () => {
    await makeFunction(ns, "short-lived", { exitCode: 0, delay: "200ms", message: '{"output":"bye"}' });
    // The operator deletes the Hearth Job at its TTL; the batch Job's own TTL is a backstop 300 s
    // later (so Kubernetes cannot delete it before the outcome is read), and it goes with its owner.
    await makeJob(ns, "ttl-1", { functionRef: { name: "short-lived" }, ttlSecondsAfterFinished: 3 });
    const j = await waitForJob(ns, "ttl-1", finished);
    assert.equal(j.status?.output, "bye");
    const raw = await client.get(untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true }), batchJobName("ttl-1"), ns);
    assert.equal((raw?.["spec"] as { ttlSecondsAfterFinished?: number }).ttlSecondsAfterFinished, 3 + BATCH_JOB_TTL_BACKSTOP_SECONDS);
    await waitFor(async () => (await getJob(ns, "ttl-1")) === undefined && (await batchJobsOf(ns, "ttl-1")).length === 0, { what: "Job deleted after its TTL", timeoutMs: 60_000 });
  });

  it("waits for a missing Function and runs once it appears", async () => {
    await makeJob(ns, "early-1", { functionRef: { name: "late" } });
    const waiting = await waitForJob(ns, "early-1", (j) => condition(j, "Complete")?.reason === "FunctionNotFound");
    assert.equal(condition(waiting, "Complete")?.status, "False");
    assert.equal((await batchJobsOf(ns, "early-1")).length, 0);
    await makeFunction(ns, "late", { exitCode: 0, delay: "200ms", message: '{"output":7}' });
    const j = await waitForJob(ns, "early-1", finished);
    assert.equal(j.status?.output, 7);
  });

  it("says a warm Job and a Workflow Job wait for the gateway", async () => {
    await makeFunction(ns, "warm", {}, { invocation: "warm" });
    await makeJob(ns, "warm-1", { functionRef: { name: "warm" } });
    // The Function may reach the operator's cache after the Job: FunctionNotFound first, then this.
    // The test operator's gateway URL answers nothing: the Job says so and keeps trying.
    const warm = await waitForJob(ns, "warm-1", (j) => condition(j, "Complete")?.reason === "GatewayUnavailable");
    assert.equal(condition(warm, "Complete")?.status, "False");
    assert.equal(warm.status?.invocation, "warm");
    await makeJob(ns, "wf-1", { workflowRef: { name: "pipeline" } });
    const wf = await waitForJob(ns, "wf-1", (j) => condition(j, "Complete")?.reason === "GatewayUnavailable");
    assert.equal(condition(wf, "Complete")?.status, "False");
    assert.equal((await batchJobsOf(ns, "warm-1")).length + (await batchJobsOf(ns, "wf-1")).length, 0);
  });

  it("mounts spec.inputFrom's Secret, waiting while it is missing", async () => {
    await makeFunction(ns, "secret-in", { exitCode: 0, delay: "200ms", message: '{"output":"ok"}' });
    await makeJob(ns, "secret-in-1", { functionRef: { name: "secret-in" }, inputFrom: { secretKeyRef: { name: "payload", key: "in.json" } } });
    await waitForJob(ns, "secret-in-1", (j) => condition(j, "Complete")?.reason === "InputNotFound");
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "payload" }, stringData: { "in.json": '{"big":true}' } } });
    const j = await waitForJob(ns, "secret-in-1", finished);
    assert.equal(condition(j, "Complete")?.status, "True");
    const raw = await client.get(untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true }), batchJobName("secret-in-1"), ns);
    const volumes = (raw?.["spec"] as { template: { spec: { volumes: { name: string; secret?: unknown }[] } } }).template.spec.volumes;
    assert.deepEqual(volumes.find((v) => v.name === "hearth-input")?.secret, { secretName: "payload", items: [{ key: "in.json", path: "input" }], defaultMode: 420 });
  });
});

/** A client that dies just before writing status: the crash window between creating the batch Job and recording it. */
class CrashBeforeStatus extends KubeClient {
  override as(fieldManager: string): KubeClient {
    return new CrashBeforeStatus(this.transport, fieldManager);
  }

  override applyStatus(): Promise<never> {
    return Promise.reject(new KubeError({ code: 0, reason: "Network", message: "operator crashed" }));
  }
}

// Each test has its namespace to itself: only the operators it starts may touch its Jobs.
describe("Job controller across operator crashes", { timeout: 180_000 }, () => {
  let nodeName = "";
  let workload: WorkloadConfig;
  let nodeSelector: Record<string, string> = {};

  before(async () => {
    await installCrds(client);
    nodeName = uniqueName("jobs-crash");
    nodeSelector = await createOwnNode(nodeName, 100);
    workload = workloadFor(nodeSelector);
  });

  after(async () => {
    await removeFakeNodes(core, [nodeName]);
  });

  // What a clean Job costs the apiserver and the operator. Per Job: the batch Job (created once,
  // its own add not reconciled), the end written once (a second write only when the pod outlives
  // the 5 s debounce, i.e. on a loaded machine) and no Event. Reconciles: the Job's add, its pod's
  // start and end, the batch Job's end (not the pod's add: merely created, it would plan nothing)
  // — plus at most two hold timers on a loaded machine (8 or more before the watch filters skipped
  // KCM's and kwok's interim updates and our own echoes).
  it("a clean Job: one batch Job create, its end written once, no Event, at most 6 reconciles", async (t) => {
    const ns = (await createTestNamespace(kc, "jobs-cost")).name;
    t.after(() => core.deleteNamespace({ name: ns }).then(() => undefined));
    await makeFunction(ns, "clean", { exitCode: 0, delay: "200ms", message: '{"output":"ok"}' });
    const own = createClient({ connection: await fromKubeconfigFile(process.env["HEARTH_KUBECONFIG"] ?? ""), clock, fieldManager: "hearth-test" });
    t.after(() => own.transport.close());
    const registry = new Registry();
    const manager = new Manager({ client: own, clock, logger, registry, identity: uniqueName("job-cost"), namespaces: [ns] });
    new JobController(manager, { workload, config: TEST_CONFIG });
    manager.start();
    const names = ["clean-1", "clean-2", "clean-3"];
    try {
      for (const n of names) await makeJob(ns, n, { functionRef: { name: "clean" } });
      for (const n of names) assert.equal(condition(await waitForJob(ns, n, finished), "Complete")?.status, "True");
      await manager.recorder.flush();
      for (const n of names) assert.deepEqual(await eventReasons(ns, n), [], n);
      const counts = own.transport.counts;
      assert.equal(counts.get("create jobs"), names.length, "one batch Job create per Job");
      assert.equal(counts.get("create events"), undefined, "no Event for a success");
      const statusWrites = counts.get("apply jobs/status") ?? 0;
      assert.ok(statusWrites >= names.length && statusWrites <= 2 * names.length, `status writes ${statusWrites}`);
      const writes = [...counts].filter(([k]) => /^(create|update|patch|apply|delete) /.test(k) && !k.includes("lease"));
      assert.deepEqual(writes.map(([k]) => k).sort(), ["apply jobs/status", "create jobs"], "nothing else written");
      const reconciles = ((await registry.getSingleMetric("hearth_controller_reconcile_total")?.get())?.values ?? [])
        .filter((v) => v.labels["controller"] === "job")
        .reduce((a, v) => a + v.value, 0);
      assert.ok(reconciles <= 6 * names.length, `${reconciles} reconciles for ${names.length} Jobs`);
    } finally {
      await manager.stop();
    }
  });

  it("while the batch Job's watch lags, reconciles plan with the create's answer: no GET, no second create", async (t) => {
    const ns = (await createTestNamespace(kc, "jobs-lag")).name;
    t.after(() => core.deleteNamespace({ name: ns }).then(() => undefined));
    await makeFunction(ns, "lag", { exitCode: 0, delay: "200ms", message: '{"output":"ok"}' });
    const own = createClient({ connection: await fromKubeconfigFile(process.env["HEARTH_KUBECONFIG"] ?? ""), clock, fieldManager: "hearth-test" });
    t.after(() => own.transport.close());
    const registry = new Registry();
    const manager = new Manager({ client: own, clock, logger, registry, identity: uniqueName("job-lag"), namespaces: [ns] });
    const controller = new JobController(manager, { workload, config: TEST_CONFIG });
    manager.start();
    try {
      await controller.batchJobs.waitForSync();
      // The batch Jobs' watch shows nothing from now on: the cache lags as far as it can.
      await controller.batchJobs.stop();
      await makeJob(ns, "lag-1", { functionRef: { name: "lag" } });
      // The pod's start and end wake the Job (the pods' watch runs): each reconcile needs the batch Job.
      await waitFor(async () => (await podsOf(ns, "lag-1")).some((p) => p.status.phase === "Succeeded"), { what: "the pod succeeded" });
      const reconciles = async (): Promise<number> =>
        ((await registry.getSingleMetric("hearth_controller_reconcile_total")?.get())?.values ?? []).filter((v) => v.labels["controller"] === "job").reduce((a, v) => a + v.value, 0);
      await waitFor(async () => (await reconciles()) >= 3, { what: "reconciles for the pod's start and end" });
      const counts = own.transport.counts;
      assert.equal(counts.get("create jobs"), 1, "one batch Job create");
      assert.equal(counts.get("get jobs") ?? 0, 0, "no GET of the batch Job the controller just created");
      assert.equal((await batchJobsOf(ns, "lag-1")).length, 1);
    } finally {
      await manager.stop();
    }
  });

  it("a crash between creating the batch Job and writing status leaves exactly one batch Job", async (t) => {
    const ns = (await createTestNamespace(kc, "jobs-crash")).name;
    t.after(() => core.deleteNamespace({ name: ns }).then(() => undefined));
    await makeFunction(ns, "crash-window", { exitCode: 0, delay: "3s", message: '{"output":"once"}' });
    await makeJob(ns, "window-1", { functionRef: { name: "crash-window" } });
    const crashing = startOperator([ns], workload, new CrashBeforeStatus(client.transport, "hearth-test"), pino({ level: "silent" }));
    const created = await waitFor(async () => (await batchJobsOf(ns, "window-1"))[0], { what: "batch Job from the crashing operator" });
    await crashing.stop();
    assert.equal((await getJob(ns, "window-1"))?.status, undefined, "nothing was recorded");

    const healthy = startOperator([ns], workload);
    try {
      const j = await waitForJob(ns, "window-1", finished);
      assert.equal(condition(j, "Complete")?.status, "True");
      assert.equal(j.status?.output, "once");
      const batch = await batchJobsOf(ns, "window-1");
      assert.deepEqual(
        batch.map((b) => b.metadata.uid),
        [created.metadata.uid],
      );
      assert.equal((await podsOf(ns, "window-1")).length, 1);
    } finally {
      await healthy.stop();
    }
  });

  it("a `hearth operator` process killed mid-Job and restarted leaves exactly one batch Job", async (t) => {
    const ns = (await createTestNamespace(kc, "jobs-kill")).name;
    t.after(() => core.deleteNamespace({ name: ns }).then(() => undefined));
    const config: Partial<OperatorConfigInput> = {
      pod: { nodeSelector, tolerations: workload.pod.tolerations },
      controllers: { function: { concurrency: 4, timeoutSeconds: 30, resyncSeconds: 0, gatewayFinalizer: false }, job: { deadlineSlackSeconds: 20 } },
    };
    await makeFunction(ns, "killed", { exitCode: 0, delay: "6s", message: '{"output":"survived"}' });
    await makeJob(ns, "killed-1", { functionRef: { name: "killed" } });
    const first = await startTestOperator({ namespace: ns, mode: "process", config });
    let second: TestOperator | undefined;
    try {
      const batch = await waitFor(async () => (await batchJobsOf(ns, "killed-1"))[0], { what: "batch Job from the first operator", timeoutMs: 30_000 });
      await waitFor(async () => (await podsOf(ns, "killed-1")).some((p) => p.status.phase === "Running"), { what: "pod running", timeoutMs: 30_000 });
      await first.kill();
      second = await startTestOperator({ namespace: ns, mode: "process", config });
      const j = await waitForJob(ns, "killed-1", finished, 60_000);
      assert.equal(condition(j, "Complete")?.status, "True", JSON.stringify(j.status));
      assert.equal(j.status?.output, "survived");
      assert.deepEqual(
        (await batchJobsOf(ns, "killed-1")).map((b) => b.metadata.uid),
        [batch.metadata.uid],
      );
      assert.equal((await podsOf(ns, "killed-1")).length, 1);
    } finally {
      await first.kill();
      await second?.stop();
    }
  });
});
