// The Job controller's batch Job and pod watches in Kubernetes' protobuf
// (src/controllers/job/batch-job-protobuf.ts, src/kube/pod-protobuf.ts) against the same watches
// in JSON, on the real apiserver: every event of batch Jobs that succeed, fail by an exit-code
// rule, wait on their pod, and are deleted, and of their pods, must parse through the Job
// controller's views to exactly what the JSON event parses to.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { LABEL_JOB } from "../../src/controllers/job/batch-job.ts";
import { batchJobsResource, jobPodsResource } from "../../src/controllers/job/controller.ts";
import type { BatchJobView, PodView } from "../../src/controllers/job/views.ts";
import { fakePodAnnotations } from "../../src/devcluster/index.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import { KubeClient, Transport, type ApplyObject } from "../../src/kube/client.ts";
import { fromKubeconfigFile } from "../../src/kube/kubeconfig.ts";
import type { KubeObject } from "../../src/kube/objects.ts";
import { namespaces, nodes, parseObject, type ResourceType } from "../../src/kube/resources.ts";
import { uniqueName, waitFor } from "../support/cluster.ts";

/** The same descriptor without its protobuf decoder: the JSON watch (fields cut as before). */
function asJson<T extends KubeObject>(r: ResourceType<T>): ResourceType<T> {
  const view = r.view ?? assert.fail(`${r.plural} has a view`);
  const { protobuf: _protobuf, ...json } = view;
  assert.ok(_protobuf !== undefined, `${r.plural} is watched in protobuf`);
  return { ...r, view: json };
}

type Seen = [string, unknown];

describe("the Job controller's watches in protobuf", () => {
  let client: KubeClient;
  let transport: Transport;
  let ns: string;

  before(async () => {
    const path = process.env["HEARTH_KUBECONFIG"];
    assert.ok(path !== undefined && path !== "", "HEARTH_KUBECONFIG must point at the test cluster (hack/with-cluster.ts)");
    transport = new Transport({ connection: await fromKubeconfigFile(path), clock: new SystemClock() });
    client = new KubeClient(transport, "job-protobuf-watch-test");
    ns = uniqueName("jobpb");
    await client.create(namespaces, { metadata: { name: ns } });
  });

  after(async () => {
    await client.delete(namespaces, ns);
    transport.close();
  });

  it("parses every batch Job and pod event as the JSON watch does", async () => {
    const stop = new AbortController();
    const watched = [batchJobsResource, jobPodsResource] as const;
    const seen = new Map<string, Seen[]>();
    const watching: Promise<void>[] = [];
    for (const r of watched) {
      const start = (await client.list(r, { namespace: ns })).resourceVersion;
      for (const [side, desc] of [
        ["protobuf", r],
        ["json", asJson<KubeObject>(r)],
      ] as const) {
        const list: Seen[] = [];
        seen.set(`${r.plural} ${side}`, list);
        watching.push(
          client
            .watch(desc, { namespace: ns, labelSelector: LABEL_JOB, resourceVersion: start, timeoutSeconds: 180, signal: stop.signal }, (type, raw) => {
              const parsed = parseObject(r, raw);
              list.push([type, parsed.ok ? parsed.value : `rejected: ${parsed.error}`]);
            })
            .catch((err: unknown) => {
              if (!stop.signal.aborted) throw err;
            }),
        );
      }
    }

    const node = (await client.list(nodes)).items.map((n) => n.metadata.name).find((n) => n.startsWith("cpu")) ?? assert.fail("a cpu fake node");
    const batchJob = (name: string, pod: Record<string, string>, spec: Record<string, unknown> = {}): ApplyObject => ({
      metadata: { name, namespace: ns, labels: { [LABEL_JOB]: name } },
      spec: {
        backoffLimit: 0,
        ...spec,
        template: {
          metadata: { labels: { [LABEL_JOB]: name }, annotations: pod },
          spec: { nodeName: node, restartPolicy: "Never", containers: [{ name: "runtime", image: "registry.example.com/bench:1" }] },
        },
      },
    });
    // Succeeds with a result document; fails by an exit-code rule; waits on its image until deleted.
    await client.create(batchJobsResource, batchJob("ok", fakePodAnnotations({ exitCode: 0, delay: "200ms", message: '{"output":{"ok":true}}' }), { activeDeadlineSeconds: 600 }));
    await client.create(
      batchJobsResource,
      batchJob("bad", fakePodAnnotations({ exitCode: 2, delay: "200ms", message: '{"error":{"type":"BadInput","message":"no"}}' }), {
        backoffLimit: 3,
        podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "runtime", operator: "In", values: [2] } }, { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }] },
      }),
    );
    await client.create(batchJobsResource, batchJob("stuck", fakePodAnnotations({ waitingReason: "ImagePullBackOff", waitingMessage: "Back-off pulling image", runForever: true })));

    const ended = (name: string) => async (): Promise<boolean> => {
      const b = await client.get(batchJobsResource, name, ns);
      return (b?.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
    };
    await waitFor(ended("ok"), { what: "batch Job ok Complete", timeoutMs: 120_000 });
    await waitFor(ended("bad"), { what: "batch Job bad Failed", timeoutMs: 120_000 });
    await waitFor(async () => (await client.list(jobPodsResource, { namespace: ns, labelSelector: `${LABEL_JOB}=stuck` })).items.some((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ImagePullBackOff"), {
      what: "the stuck pod waiting on its image",
      timeoutMs: 120_000,
    });
    await client.delete(batchJobsResource, "stuck", ns, { propagationPolicy: "Foreground" });
    await waitFor(async () => (await client.get(batchJobsResource, "stuck", ns)) === undefined, { what: "batch Job stuck gone", timeoutMs: 120_000 });

    const last = (s: Seen[] | undefined): Seen | undefined => s?.[s.length - 1];
    for (const r of watched) {
      const pb = (): Seen[] => seen.get(`${r.plural} protobuf`) ?? [];
      const json = (): Seen[] => seen.get(`${r.plural} json`) ?? [];
      await waitFor(() => json().some(([type]) => type === "DELETED") && pb().length === json().length && isDeepStrictEqual(last(pb()), last(json())), {
        what: `both ${r.plural} watches at the same last event`,
      });
      assert.deepEqual(pb(), json(), r.plural);
      assert.ok(pb().every(([, v]) => typeof v === "object"), `every ${r.plural} event parsed`);
    }
    stop.abort();
    await Promise.all(watching);

    // The events covered what the decoders read.
    const jobs = (seen.get("jobs protobuf") ?? []).map(([, v]) => v as BatchJobView);
    const pods = (seen.get("pods protobuf") ?? []).map(([, v]) => v as PodView);
    const has = <T>(what: string, xs: T[], p: (x: T) => boolean): void => assert.ok(xs.some(p), what);
    has("backoffLimit, activeDeadlineSeconds", jobs, (j) => j.spec?.backoffLimit === 0 && j.spec.activeDeadlineSeconds === 600);
    has("an exit-code rule's container", jobs, (j) => j.spec?.podFailurePolicy?.rules.some((x) => x.onExitCodes?.containerName === "runtime") === true);
    has("a rule without onExitCodes", jobs, (j) => j.spec?.podFailurePolicy?.rules.some((x) => x.onExitCodes === undefined) === true);
    has("Complete with completionTime and succeeded", jobs, (j) => j.status?.completionTime !== undefined && j.status.succeeded === 1 && j.status.conditions?.some((c) => c.type === "Complete" && c.lastTransitionTime !== undefined) === true);
    has("Failed by the rule, with reason and message", jobs, (j) => j.status?.conditions?.some((c) => c.type === "Failed" && c.reason === "PodFailurePolicy" && (c.message ?? "") !== "") === true);
    has("active, startTime", jobs, (j) => j.status?.active === 1 && j.status.startTime !== undefined);
    has("owner and deletionTimestamp", pods, (p) => p.metadata.ownerReferences?.[0]?.controller === true && p.metadata.deletionTimestamp !== undefined);
    has("terminated with exit code, message, startedAt and finishedAt", pods, (p) =>
      p.status?.containerStatuses?.some((c) => c.state?.terminated?.exitCode === 2 && c.state.terminated.message !== undefined && c.state.terminated.startedAt !== undefined && c.state.terminated.finishedAt !== undefined) === true,
    );
    has("a condition's lastTransitionTime", pods, (p) => p.status?.conditions?.some((c) => c.lastTransitionTime !== undefined) === true);
    has("waiting with reason and message", pods, (p) => p.status?.containerStatuses?.some((c) => c.state?.waiting?.reason === "ImagePullBackOff" && c.state.waiting.message !== undefined) === true);
  });
});
