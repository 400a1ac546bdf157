// Pods and Deployments watched in Kubernetes' protobuf (src/kube/protobuf.ts, pod-protobuf.ts,
// deployment-protobuf.ts) against the same
// watch in JSON, on the real apiserver: every event of pods in many states (running with an init
// container, unschedulable, waiting on an image with a negative exit code in its last state,
// owned, with finalizers, being deleted) must parse to exactly what the JSON event parses to,
// through the pod schema's view, the Function controller's slim cache view and the Job
// controller's pod view; likewise
// Deployments (created by POST and by apply, scaled, failing, ready, deleted). Also: the stream
// really is protobuf, and an ERROR event (410 Gone) ends the watch with its status.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { cachedDeployments, cachedPods } from "../../src/controllers/function/caches.ts";
import { jobPodsResource } from "../../src/controllers/job/controller.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import { KubeClient, PROTOBUF_WATCH_ACCEPT, Transport } from "../../src/kube/client.ts";
import { toStatus } from "../../src/kube/errors.ts";
import { fromKubeconfigFile } from "../../src/kube/kubeconfig.ts";
import type { Deployment, Pod } from "../../src/kube/objects.ts";
import { deployments, namespaces, nodes, parseObject, pods, resourcePath, untyped, type ResourceType } from "../../src/kube/resources.ts";
import { uniqueName, waitFor } from "../support/cluster.ts";

const T = "2026-11-30T17:00:00Z";
const configMaps = untyped({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true });
/** The same descriptor without its protobuf decoder: a JSON watch. */
const jsonPods: ResourceType<Pod> = { ...pods, view: { schema: pods.schema, parse: pods.view?.parse ?? ((): never => assert.fail("pods has a view")) } };

const jsonDeployments: ResourceType<Deployment> = { ...deployments, view: { schema: deployments.schema, parse: deployments.view?.parse ?? ((): never => assert.fail("deployments has a view")) } };

type Seen = [string, unknown, unknown, unknown?];

describe("pods watched in protobuf", () => {
  let client: KubeClient;
  let transport: Transport;
  let ns: string;
  const stop = new AbortController();

  before(async () => {
    const path = process.env["HEARTH_KUBECONFIG"];
    assert.ok(path !== undefined && path !== "", "HEARTH_KUBECONFIG must point at the test cluster (hack/with-cluster.ts)");
    transport = new Transport({ connection: await fromKubeconfigFile(path), clock: new SystemClock() });
    client = new KubeClient(transport, "protobuf-watch-test");
    ns = uniqueName("pbwatch");
    await client.create(namespaces, { metadata: { name: ns } });
  });

  after(async () => {
    stop.abort();
    for (const p of (await client.list(pods, { namespace: ns })).items) {
      if ((p.metadata.finalizers ?? []).length > 0) await client.mergePatch(pods, p.metadata.name, ns, { metadata: { finalizers: null } });
    }
    await client.delete(namespaces, ns);
    transport.close();
  });

  it("parses every event as the JSON watch does", async () => {
    const watchStop = new AbortController();
    stop.signal.addEventListener("abort", () => watchStop.abort(), { once: true });
    const start = (await client.list(pods, { namespace: ns })).resourceVersion;
    const seen: Record<"protobuf" | "json", Seen[]> = { protobuf: [], json: [] };
    const watching = (["protobuf", "json"] as const).map((side) =>
      client
        .watch(side === "protobuf" ? pods : jsonPods, { namespace: ns, resourceVersion: start, timeoutSeconds: 120, signal: watchStop.signal }, (type, raw) => {
          // The Job controller's pod view too: the decoder must yield every field it reads.
          seen[side].push([type, parseObject(pods, raw), parseObject(cachedPods, raw), parseObject(jobPodsResource, raw)]);
        })
        .catch((err: unknown) => {
          if (!watchStop.signal.aborted) throw err;
        }),
    );

    const node = (await client.list(nodes)).items.map((n) => n.metadata.name).find((n) => n.startsWith("cpu")) ?? assert.fail("a cpu fake node");
    const owner = await client.create(configMaps, { metadata: { name: "owner", namespace: ns } });
    const ownerRef = { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid ?? "", controller: true, blockOwnerDeletion: true };
    await client.create(pods, {
      metadata: {
        name: "running",
        namespace: ns,
        labels: { "hearth.dev/function": "echo", other: "x" },
        annotations: { "controller.kubernetes.io/pod-deletion-cost": "-5", note: "ünïcode ✓" },
        ownerReferences: [ownerRef],
        finalizers: ["example.com/hold"],
      },
      spec: {
        nodeName: node,
        initContainers: [{ name: "init", image: "busybox:1" }],
        containers: [{ name: "worker", image: "busybox:1" }],
      },
    });
    await client.create(pods, {
      metadata: { name: "unschedulable", namespace: ns, labels: { "hearth.dev/function": "echo" } },
      spec: { nodeSelector: { "hearth.dev/no-such-node": "x" }, containers: [{ name: "worker", image: "registry.invalid/none:1" }] },
    });
    await waitFor(async () => (await client.get(pods, "running", ns))?.status.phase === "Running", { what: "the kwok pod Running" });
    await waitFor(async () => (await client.get(pods, "unschedulable", ns))?.status.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False"), {
      what: "the scheduler's PodScheduled=False",
    });
    // What a kubelet reports for a pod that cannot pull its image and crashed before.
    await transport.request("PATCH", resourcePath(pods, { namespace: ns, name: "unschedulable", subresource: "status" }), {
      verb: "patch",
      resource: "pods/status",
      contentType: "application/merge-patch+json",
      body: {
        status: {
          reason: "SomeReason",
          message: "some message",
          startTime: T,
          containerStatuses: [
            {
              name: "worker",
              ready: false,
              restartCount: 3,
              image: "registry.invalid/none:1",
              imageID: "",
              state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "registry.invalid/none:1"' } },
              lastState: { terminated: { exitCode: -1, signal: 9, reason: "Error", message: "boom", startedAt: T, finishedAt: T, containerID: "containerd://abc" } },
            },
          ],
        },
      },
    });
    await client.delete(pods, "running", ns);
    await waitFor(async () => (await client.get(pods, "running", ns))?.metadata.deletionTimestamp, { what: "the deletionTimestamp" });
    await client.mergePatch(pods, "running", ns, { metadata: { finalizers: null } });
    await waitFor(async () => (await client.get(pods, "running", ns)) === undefined, { what: "the pod gone" });

    const last = (s: Seen[]): Seen | undefined => s[s.length - 1];
    await waitFor(() => seen.json.some(([type]) => type === "DELETED") && seen.protobuf.length === seen.json.length && isDeepStrictEqual(last(seen.protobuf), last(seen.json)), {
      what: "both watches at the same last event",
    });
    assert.deepEqual(seen.protobuf, seen.json);

    // The events covered what the decoder reads.
    const values = seen.protobuf.map(([, parsed]) => (parsed as { ok: boolean; value: Pod }).value);
    assert.ok(seen.protobuf.every(([, a, b]) => (a as { ok: boolean }).ok && (b as { ok: boolean }).ok), "every event parsed");
    const has = (what: string, p: (pod: Pod) => boolean): void => assert.ok(values.some(p), what);
    has("owner, finalizers, labels, annotations", (p) => p.metadata.ownerReferences?.[0]?.uid === owner.metadata.uid && p.metadata.finalizers?.[0] === "example.com/hold" && p.metadata.annotations?.["note"] === "ünïcode ✓");
    has("deletionTimestamp", (p) => p.metadata.deletionTimestamp !== undefined);
    has("running since", (p) => p.status.containerStatuses?.some((c) => c.state?.running?.startedAt !== undefined) === true);
    has("init container statuses", (p) => (p.status.initContainerStatuses?.length ?? 0) > 0);
    has("unschedulable condition", (p) => p.status.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable") === true);
    has("waiting on the image, negative exit code", (p) =>
      p.status.containerStatuses?.some((c) => c.state?.waiting?.reason === "ImagePullBackOff" && c.lastState?.terminated?.exitCode === -1 && c.restartCount === 3) === true,
    );
    watchStop.abort();
    await Promise.all(watching);
  });

  it("parses every Deployment event as the JSON watch does", async () => {
    const watchStop = new AbortController();
    stop.signal.addEventListener("abort", () => watchStop.abort(), { once: true });
    const start = (await client.list(deployments, { namespace: ns })).resourceVersion;
    const seen: Record<"protobuf" | "json", Seen[]> = { protobuf: [], json: [] };
    const watching = (["protobuf", "json"] as const).map((side) =>
      client
        .watch(side === "protobuf" ? deployments : jsonDeployments, { namespace: ns, resourceVersion: start, timeoutSeconds: 120, signal: watchStop.signal }, (type, raw) => {
          seen[side].push([type, parseObject(deployments, raw), parseObject(cachedDeployments, raw)]);
        })
        .catch((err: unknown) => {
          if (!watchStop.signal.aborted) throw err;
        }),
    );
    const node = (await client.list(nodes)).items.map((n) => n.metadata.name).find((n) => n.startsWith("cpu")) ?? assert.fail("a cpu fake node");
    const template = (name: string): Record<string, unknown> => ({
      metadata: { labels: { app: name } },
      spec: { nodeName: node, containers: [{ name: "worker", image: "busybox:1" }] },
    });
    // Created by POST (an Update entry in managedFields), then applied by another manager, scaled through the subresource.
    await client.create(deployments, {
      metadata: { name: "posted", namespace: ns, labels: { "hearth.dev/function": "echo" }, annotations: { "hearth.dev/applied-hash": "abc" } },
      spec: { replicas: 2, selector: { matchLabels: { app: "posted" } }, template: template("posted") },
    });
    await client.apply(
      deployments,
      { metadata: { name: "applied", namespace: ns }, spec: { replicas: 1, selector: { matchLabels: { app: "applied" } }, template: template("applied") } },
      { fieldManager: "someone-else" },
    );
    await client.scale(deployments, "applied", ns, 0);
    // A Deployment whose pods cannot be created (a missing ServiceAccount): a ReplicaFailure condition.
    await client.create(deployments, {
      metadata: { name: "failing", namespace: ns },
      spec: { replicas: 1, progressDeadlineSeconds: 1, selector: { matchLabels: { app: "failing" } }, template: { ...template("failing"), spec: { serviceAccountName: "missing", containers: [{ name: "w", image: "busybox:1" }] } } },
    });
    await waitFor(async () => (await client.get(deployments, "posted", ns))?.status.readyReplicas === 2, { what: "posted ready" });
    await waitFor(async () => (await client.get(deployments, "failing", ns))?.status.conditions?.some((c) => c.type === "ReplicaFailure"), { what: "failing's ReplicaFailure" });
    await client.delete(deployments, "posted", ns);
    const last = (s: Seen[]): Seen | undefined => s[s.length - 1];
    await waitFor(() => seen.json.some(([type]) => type === "DELETED") && seen.protobuf.length === seen.json.length && isDeepStrictEqual(last(seen.protobuf), last(seen.json)), {
      what: "both watches at the same last event",
    });
    assert.deepEqual(seen.protobuf, seen.json);
    assert.ok(seen.protobuf.every(([, a, b]) => (a as { ok: boolean }).ok && (b as { ok: boolean }).ok), "every event parsed");
    const values = seen.protobuf.map(([, parsed]) => (parsed as { value: Deployment }).value);
    const has = (what: string, p: (d: Deployment) => boolean): void => assert.ok(values.some(p), what);
    has("replicas 0 through the scale subresource", (d) => d.metadata.name === "applied" && d.spec.replicas === 0);
    has("the applier owning replicas", (d) => d.replicasManagers.includes("someone-else"));
    has("a foreign manager's spec fields", (d) => "someone-else" in d.specManagers);
    has("the POST's update manager", (d) => (d.updateManagers ?? []).length > 0);
    has("ready replicas and observed generation", (d) => d.status.readyReplicas === 2 && (d.status.observedGeneration ?? 0) > 0);
    has("a ReplicaFailure condition with its message", (d) => d.status.conditions?.some((c) => c.type === "ReplicaFailure" && c.message !== undefined) === true);
    watchStop.abort();
    await Promise.all(watching);
  });

  it("is protobuf on the wire, and an ERROR event ends the watch with its status", async (t) => {
    let frames = 0;
    let lines = 0;
    await transport.stream(
      resourcePath(pods, { namespace: "kube-system" }),
      { verb: "watch", resource: "pods", accept: PROTOBUF_WATCH_ACCEPT, query: { watch: 1, resourceVersion: "0", timeoutSeconds: 1 } },
      stop.signal,
      () => lines++,
      [],
      () => frames++,
    );
    assert.equal(lines, 0);
    // resourceVersion 0 starts with the pods that exist: kube-system may have none, so make one.
    const created = await client.create(pods, { metadata: { name: "one", namespace: ns }, spec: { nodeSelector: { "hearth.dev/no-such-node": "x" }, containers: [{ name: "c", image: "busybox:1" }] } });
    frames = 0;
    await transport.stream(
      resourcePath(pods, { namespace: ns }),
      { verb: "watch", resource: "pods", accept: PROTOBUF_WATCH_ACCEPT, query: { watch: 1, resourceVersion: "0", timeoutSeconds: 1 } },
      stop.signal,
      () => lines++,
      [],
      () => frames++,
    );
    assert.equal(lines, 0);
    assert.ok(frames >= 1, `frames ${String(frames)}`);

    // A resourceVersion etcd has compacted away: the apiserver answers with an ERROR event whose
    // Status (410 Expired, in protobuf) must end the watch. A fresh cluster's etcd may still hold
    // revision 1 (the apiserver compacts every 5 minutes): the watch is then served and simply
    // ends; the ERROR frame's decoding is covered by test/unit/kube-protobuf.test.ts either way.
    let events = 0;
    const err = await client.watch(pods, { namespace: ns, resourceVersion: "1", timeoutSeconds: 3, signal: new AbortController().signal }, () => events++).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (err !== undefined) {
      assert.equal(toStatus(err).code, 410, JSON.stringify(toStatus(err)));
      assert.equal(toStatus(err).reason, "Expired", JSON.stringify(toStatus(err)));
    } else {
      t.diagnostic(`revision 1 not compacted yet: the watch was served (${String(events)} events) and ended without an ERROR`);
    }
    await client.delete(pods, created.metadata.name, ns);
  });
});
