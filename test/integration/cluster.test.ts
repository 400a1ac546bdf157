// The local cluster harness, for real (issue #2): the real scheduler enforces fake GPU capacity
// and product labels, the real Job controller applies podFailurePolicy to exit codes chosen by
// pod annotations (played by kwok stages), and the harness starts and stops cleanly.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Container,
  type V1Job,
  type V1Pod,
  type V1PodSpec,
  type V1Toleration,
} from "@kubernetes/client-node";
import { resolveBinaries, startDevCluster } from "../../src/devcluster/index.ts";
import { groupMembers } from "../../src/devcluster/process.ts";
import {
  fakePodAnnotations,
  GPU_LABELS,
  GPU_RESOURCES,
  kubeConfigFromEnv,
  migResource,
  NODE_PRESETS,
  uniqueName,
  waitFor,
  withFakeNodes,
  withNamespace,
  type FakeNodeSpec,
} from "../support/cluster.ts";

const kc: KubeConfig = kubeConfigFromEnv();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const batch = kc.makeApiClient(BatchV1Api);

const main = (extra: Partial<V1Container> = {}): V1Container => ({ name: "main", image: "registry.example.com/worker:1", ...extra });

async function deploy(ns: string, name: string, replicas: number, spec: Partial<V1PodSpec>, annotations: Record<string, string> = {}): Promise<void> {
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name }, annotations }, spec: { containers: [main()], ...spec } },
      },
    },
  });
}

async function pods(ns: string, labelSelector: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: ns, labelSelector })).items;
}

const isRunningReady = (p: V1Pod): boolean =>
  p.status?.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
const isUnschedulable = (p: V1Pod): boolean =>
  p.status?.phase === "Pending" && p.status.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable") === true;
const jobCondition = (job: V1Job, type: string): { reason?: string; message?: string } | undefined =>
  job.status?.conditions?.find((c) => c.type === type && c.status === "True");

/** Waits until `want` pods are Running+Ready and `pending` are Unschedulable, and stay so. */
async function expectSplit(ns: string, app: string, want: number, pending: number): Promise<V1Pod[]> {
  const settled = async (): Promise<V1Pod[] | undefined> => {
    const ps = await pods(ns, `app=${app}`);
    const ok = ps.length === want + pending && ps.filter(isRunningReady).length === want && ps.filter(isUnschedulable).length === pending;
    return ok ? ps : undefined;
  };
  await waitFor(settled, { what: `${app}: ${want} running, ${pending} unschedulable` });
  await sleep(1000); // the scheduler retries unschedulable pods; nothing may change
  return waitFor(settled, { timeoutMs: 1, what: `${app} to stay ${want} running, ${pending} unschedulable` });
}

function countByNode(ps: readonly V1Pod[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of ps.filter(isRunningReady)) {
    const n = p.spec?.nodeName ?? "";
    counts[n] = (counts[n] ?? 0) + 1;
  }
  return counts;
}

function gpuNode(name: string, product: string, count: number): FakeNodeSpec {
  return { name, gpuTaint: true, gpu: { product, count, memoryMiB: 16384, family: "test" } };
}

async function job(ns: string, name: string, annotations: Record<string, string>, tolerations: V1Toleration[], nodeSelector: Record<string, string>, extra: Partial<V1Job["spec"]> = {}): Promise<void> {
  await batch.createNamespacedJob({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        backoffLimit: 6,
        ...extra,
        template: { metadata: { annotations }, spec: { restartPolicy: "Never", containers: [main()], tolerations, nodeSelector } },
      },
    },
  });
}

describe("local cluster: fake GPU nodes under the real scheduler", { concurrency: true }, () => {
  it("(a) schedules nvidia.com/gpu pods only up to the nodes' capacity; the rest stay Pending", async (t) => {
    const ns = await withNamespace(t, kc);
    const product = uniqueName("TEST-GPU");
    const nodes = await withFakeNodes(t, [gpuNode("g0", product, 2), gpuNode("g1", product, 2)], kc);
    await deploy(ns, "gpu", 6, {
      containers: [main({ resources: { limits: { [GPU_RESOURCES.gpu]: "1" } } })],
      nodeSelector: { [GPU_LABELS.product]: product },
      tolerations: nodes.tolerations,
    });
    const ps = await expectSplit(ns, "gpu", 4, 2);
    assert.deepEqual(Object.values(countByNode(ps)), [2, 2]);
    const unschedulable = ps.find(isUnschedulable)?.status?.conditions?.find((c) => c.type === "PodScheduled");
    assert.match(unschedulable?.message ?? "", /Insufficient nvidia\.com\/gpu/);
  });

  it("(a) enforces time-sliced, MIG and HAMi capacity too", async (t) => {
    const ns = await withNamespace(t, kc);
    const preset = (kind: string): FakeNodeSpec => {
      const build = NODE_PRESETS[kind];
      assert.ok(build);
      return build(kind);
    };
    const nodes = await withFakeNodes(t, [preset("t4-shared"), preset("a100-mig"), preset("hami")], kc);
    const common = { nodeSelector: nodes.nodeSelector, tolerations: nodes.tolerations };
    const limits = (l: Record<string, string>): Partial<V1PodSpec> => ({ ...common, containers: [main({ resources: { limits: l } })] });
    await Promise.all([
      deploy(ns, "shared", 5, limits({ [GPU_RESOURCES.shared]: "1" })), // 1 T4 × 4 replicas
      deploy(ns, "mig", 4, limits({ [migResource("2g.20gb")]: "1" })), // 3 × 2g.20gb
      deploy(ns, "hami", 4, limits({ [GPU_RESOURCES.gpu]: "1", [GPU_RESOURCES.hamiCores]: "60" })), // 200 cores
    ]);
    await Promise.all([expectSplit(ns, "shared", 4, 1), expectSplit(ns, "mig", 3, 1), expectSplit(ns, "hami", 3, 1)]);
  });

  it("(b) pods selecting nvidia.com/gpu.product land only on nodes with that product", async (t) => {
    const ns = await withNamespace(t, kc);
    const [a, b, absent] = [uniqueName("TEST-A"), uniqueName("TEST-B"), uniqueName("TEST-NONE")];
    const nodes = await withFakeNodes(t, [gpuNode("a", a, 8), gpuNode("b", b, 8)], kc);
    const nodeOf = (product: string): string =>
      nodes.nodes.find((n) => n.metadata?.labels?.[GPU_LABELS.product] === product)?.metadata?.name ?? "";
    const gpu = [main({ resources: { limits: { [GPU_RESOURCES.gpu]: "1" } } })];
    await Promise.all([
      deploy(ns, "by-selector", 3, { containers: gpu, tolerations: nodes.tolerations, nodeSelector: { [GPU_LABELS.product]: a } }),
      deploy(ns, "by-affinity", 3, {
        containers: gpu,
        tolerations: nodes.tolerations,
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: GPU_LABELS.product, operator: "In", values: [b] }] }],
            },
          },
        },
      }),
      deploy(ns, "nowhere", 1, { containers: gpu, tolerations: nodes.tolerations, nodeSelector: { [GPU_LABELS.product]: absent } }),
    ]);
    const [bySelector, byAffinity] = await Promise.all([expectSplit(ns, "by-selector", 3, 0), expectSplit(ns, "by-affinity", 3, 0), expectSplit(ns, "nowhere", 0, 1)]);
    assert.deepEqual(countByNode(bySelector), { [nodeOf(a)]: 3 });
    assert.deepEqual(countByNode(byAffinity), { [nodeOf(b)]: 3 });
  });
});

describe("local cluster: pod behaviour chosen by annotations (kwok stages)", { concurrency: true }, () => {
  const cpuNode: FakeNodeSpec = { name: "cpu", cpu: "32", memory: "64Gi" };

  it("(c) a Job pod told to exit 3 fails with that code and message; podFailurePolicy FailJob fires", async (t) => {
    const ns = await withNamespace(t, kc);
    const nodes = await withFakeNodes(t, [cpuNode], kc);
    const message = "input rejected: expected {text: string}";
    await job(ns, "fail3", fakePodAnnotations({ exitCode: 3, message, delay: "500ms" }), nodes.tolerations, nodes.nodeSelector, {
      podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "main", operator: "In", values: [3] } }] },
    });
    const failed = await waitFor(async () => {
      const j = await batch.readNamespacedJob({ name: "fail3", namespace: ns });
      return jobCondition(j, "Failed") === undefined ? undefined : j;
    }, { what: "Job fail3 Failed" });
    assert.equal(jobCondition(failed, "Failed")?.reason, "PodFailurePolicy");
    assert.match(jobCondition(failed, "Failed")?.message ?? "", /exit code 3 matching FailJob rule/);
    const ps = await pods(ns, "job-name=fail3");
    assert.equal(ps.length, 1, "FailJob: no retry");
    const pod = ps[0];
    assert.equal(pod?.status?.phase, "Failed");
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 3);
    assert.equal(terminated?.message, message);
    assert.equal(terminated?.reason, "Error");
  });

  it("(d) a pod told ImagePullBackOff stays Pending and not ready, waiting with that reason", async (t) => {
    const ns = await withNamespace(t, kc);
    const nodes = await withFakeNodes(t, [cpuNode], kc);
    const image = "registry.example.com/missing:404";
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "pull", annotations: fakePodAnnotations({ waitingReason: "ImagePullBackOff" }) },
        spec: { containers: [main({ image })], tolerations: nodes.tolerations, nodeSelector: nodes.nodeSelector },
      },
    });
    const waiting = async (): Promise<V1Pod | undefined> => {
      const p = await core.readNamespacedPod({ name: "pull", namespace: ns });
      return p.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ImagePullBackOff" ? p : undefined;
    };
    await waitFor(waiting, { what: "ImagePullBackOff" });
    await sleep(1500);
    const pod = await waitFor(waiting, { timeoutMs: 1, what: "still ImagePullBackOff" });
    assert.equal(pod.status?.phase, "Pending");
    assert.equal(pod.status?.conditions?.find((c) => c.type === "Ready")?.status, "False");
    assert.equal(pod.status?.containerStatuses?.[0]?.ready, false);
    assert.equal(pod.status?.containerStatuses?.[0]?.state?.waiting?.message, `Back-off pulling image "${image}"`);
  });

  it("(e) a Job whose pod exits 0 completes, with or without the annotation", async (t) => {
    const ns = await withNamespace(t, kc);
    const nodes = await withFakeNodes(t, [cpuNode], kc);
    await Promise.all([
      job(ns, "exit0", fakePodAnnotations({ exitCode: 0, message: "done", delay: "200ms" }), nodes.tolerations, nodes.nodeSelector),
      job(ns, "plain", {}, nodes.tolerations, nodes.nodeSelector),
    ]);
    for (const name of ["exit0", "plain"]) {
      const done = await waitFor(async () => {
        const j = await batch.readNamespacedJob({ name, namespace: ns });
        return jobCondition(j, "Complete") === undefined ? undefined : j;
      }, { what: `Job ${name} Complete` });
      assert.equal(done.status?.succeeded, 1);
      const [pod] = await pods(ns, `job-name=${name}`);
      assert.equal(pod?.status?.phase, "Succeeded");
      const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
      assert.equal(terminated?.exitCode, 0);
      assert.equal(terminated?.reason, "Completed");
    }
  });

  it("runs warm pods Running+Ready on loopback pod IPs, and keeps them running", async (t) => {
    const ns = await withNamespace(t, kc);
    const nodes = await withFakeNodes(t, [cpuNode], kc);
    await deploy(ns, "warm", 2, { tolerations: nodes.tolerations, nodeSelector: nodes.nodeSelector });
    const ps = await expectSplit(ns, "warm", 2, 0);
    for (const p of ps) {
      assert.match(p.status?.podIP ?? "", /^127\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, "pod IP inside 127.64.0.0/10");
      assert.match(p.status?.hostIP ?? "", /^127\./);
      assert.ok(p.status?.containerStatuses?.[0]?.state?.running);
    }
  });

  it("turns a pod Ready only after hearth.dev/fake-ready-delay", async (t) => {
    const ns = await withNamespace(t, kc);
    const nodes = await withFakeNodes(t, [cpuNode], kc);
    await deploy(ns, "setup", 1, { tolerations: nodes.tolerations, nodeSelector: nodes.nodeSelector }, fakePodAnnotations({ readyDelay: "2s" }));
    const running = await waitFor(async () => (await pods(ns, "app=setup")).find((p) => p.status?.phase === "Running"), { what: "Running" });
    assert.equal(isRunningReady(running), false, "not ready while setup runs");
    await waitFor(async () => (await pods(ns, "app=setup")).find(isRunningReady), { what: "Ready after the delay" });
  });

  it("shows a crashing warm pod (restartPolicy Always) as CrashLoopBackOff with the exit code", async (t) => {
    const ns = await withNamespace(t, kc);
    const nodes = await withFakeNodes(t, [cpuNode], kc);
    await deploy(ns, "crash", 1, { tolerations: nodes.tolerations, nodeSelector: nodes.nodeSelector }, fakePodAnnotations({ exitCode: 75, message: "CUDA error", delay: "300ms" }));
    const pod = await waitFor(async () => (await pods(ns, "app=crash")).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CrashLoopBackOff"), {
      what: "CrashLoopBackOff",
    });
    const status = pod.status?.containerStatuses?.[0];
    assert.equal(pod.status?.phase, "Running");
    assert.equal(status?.restartCount, 1);
    assert.equal(status?.lastState?.terminated?.exitCode, 75);
    assert.equal(status?.lastState?.terminated?.message, "CUDA error");
  });

  it("ends a deleted running pod promptly; its Job counts it failed", async (t) => {
    const ns = await withNamespace(t, kc);
    const nodes = await withFakeNodes(t, [cpuNode], kc);
    await job(ns, "forever", fakePodAnnotations({ runForever: true }), nodes.tolerations, nodes.nodeSelector);
    const pod = await waitFor(async () => (await pods(ns, "job-name=forever")).find(isRunningReady), { what: "Running" });
    await sleep(1500);
    const name = pod.metadata?.name ?? "";
    assert.ok(isRunningReady(await core.readNamespacedPod({ name, namespace: ns })), "fake-run: forever keeps a Job's pod running");
    const t0 = Date.now();
    await core.deleteNamespacedPod({ name, namespace: ns });
    await waitFor(async () => !(await pods(ns, "job-name=forever")).some((p) => p.metadata?.name === name), { timeoutMs: 10_000, what: "pod gone" });
    assert.ok(Date.now() - t0 < 10_000);
    await waitFor(async () => (await batch.readNamespacedJob({ name: "forever", namespace: ns })).status?.failed === 1, { what: "Job counts the pod failed" });
  });
});

describe("local cluster harness", () => {
  it("starts a second cluster side by side and stops it leaving nothing behind", async () => {
    const repo = join(import.meta.dirname, "..", "..");
    const binDir = await resolveBinaries({ buildScript: join(repo, "hack", "build-control-plane.sh") });
    const name = uniqueName("lifecycle");
    // Under .hearth/clusters with this process as owner: `cluster.ts prune` stops it if we die.
    const dir = join(repo, ".hearth", "clusters", name);
    const cluster = await startDevCluster({ name, binDir, dir, nodes: [], ownerPid: process.pid });
    const stopped = { done: false };
    try {
      const other = cluster.kubeConfig().makeApiClient(CoreV1Api);
      const names = (await other.listNamespace()).items.map((n) => n.metadata?.name);
      assert.ok(names.includes("default") && names.includes("kube-system"));
      assert.notEqual(cluster.server, kc.getCurrentCluster()?.server, "its own apiserver");
      const port = Number(new URL(cluster.server).port);
      await cluster.stop();
      stopped.done = true;
      for (const p of cluster.state.processes) assert.deepEqual(groupMembers(p.pgid), [], `${p.name} group gone`);
      assert.equal(existsSync(cluster.state.etcdDir), false, "etcd data removed");
      assert.equal(existsSync(cluster.dir), false, "cluster dir removed");
      const refused = await new Promise<boolean>((resolve) => {
        const s = createConnection({ host: "127.0.0.1", port }, () => {
          s.destroy();
          resolve(false);
        });
        s.once("error", () => resolve(true));
      });
      assert.ok(refused, "apiserver port closed");
    } finally {
      if (!stopped.done) await cluster.stop();
    }
  });
});
