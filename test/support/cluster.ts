// Helpers for integration tests on the real local cluster (one per run, from
// hack/with-cluster.ts; or reuse one from `node hack/cluster.ts up` with HEARTH_KUBECONFIG set).
// Tests share the cluster: each gets its own namespace, and tests that care about scheduling
// create their own fake nodes with a unique product label and taint.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubeConfig, type V1Node, type V1Taint, type V1Toleration } from "@kubernetes/client-node";
import { createFakeNode, removeFakeNodes, type FakeNodeSpec } from "../../src/devcluster/index.ts";

export {
  createFakeNode,
  deleteFakeNode,
  FAKE_POD_ANNOTATIONS,
  fakeNode,
  fakePodAnnotations,
  GPU_LABELS,
  GPU_RESOURCES,
  GPU_TAINT,
  migResource,
  NODE_PRESETS,
  removeFakeNodes,
  type FakeNodeSpec,
  type FakePodBehaviour,
} from "../../src/devcluster/index.ts";

/** Anything with node:test's `after` (a TestContext, or `{after}` from node:test for a file). */
export interface Cleanup {
  after(fn: () => Promise<void> | void): void;
}

export function kubeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const path = env["HEARTH_KUBECONFIG"];
  if (path === undefined || path === "") {
    throw new Error("HEARTH_KUBECONFIG is not set: run integration tests through `npm run test:integration` (hack/with-cluster.ts)");
  }
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** `prefix-<8 hex>`: unique across concurrently running test files. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export interface WaitOptions {
  /** Default 30 s. */
  readonly timeoutMs?: number;
  /** Default 100 ms. */
  readonly intervalMs?: number;
  /** Shown in the timeout error. */
  readonly what?: string;
}

/**
 * Polls `predicate` until it returns something other than undefined/false/null, and returns
 * that. Errors thrown by the predicate count as "not yet" (the last one is in the timeout error).
 */
export async function waitFor<T>(predicate: () => Promise<T | undefined | null | false> | T | undefined | null | false, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value !== undefined && value !== null && value !== false) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? "condition"}${why}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

export interface TestNamespace {
  readonly name: string;
  delete(): Promise<void>;
}

/**
 * Creates a uniquely named namespace and waits for its `default` ServiceAccount (pods are
 * rejected until the controller manager has made it).
 */
export async function createTestNamespace(kc: KubeConfig, prefix = "t"): Promise<TestNamespace> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = uniqueName(prefix);
  await core.createNamespace({ body: { metadata: { name, labels: { "hearth.dev/test": "true" } } } });
  await waitFor(() => core.readNamespacedServiceAccount({ name: "default", namespace: name }), {
    what: `ServiceAccount ${name}/default`,
  });
  return {
    name,
    delete: async () => {
      try {
        await core.deleteNamespace({ name });
      } catch (err) {
        if (!(typeof err === "object" && err !== null && "code" in err && err.code === 404)) throw err;
      }
    },
  };
}

/** A fresh namespace for this test (or file), deleted when it ends. */
export async function withNamespace(t: Cleanup, kc: KubeConfig = kubeConfigFromEnv(), prefix = "t"): Promise<string> {
  const ns = await createTestNamespace(kc, prefix);
  t.after(() => ns.delete());
  return ns.name;
}

export interface DedicatedNodes {
  readonly nodes: readonly V1Node[];
  /** Unique `nvidia.com/gpu.product`-style value and taint key for this set. */
  readonly id: string;
  /** Label selector that matches only these nodes. */
  readonly nodeSelector: Record<string, string>;
  /** Tolerations for the nodes' taints (the dedicated one and the GPU one). */
  readonly tolerations: V1Toleration[];
}

/** Taint key that keeps other tests' pods off dedicated nodes. */
export const DEDICATED_TAINT_KEY = "hearth.dev/test-dedicated";

/**
 * Creates fake nodes only this test uses: each spec gets the label `hearth.dev/test-nodes=<id>`
 * and the taint `hearth.dev/test-dedicated=<id>:NoSchedule` (plus whatever the spec has), and
 * is deleted when the test ends. Specs' names are prefixed with the id.
 */
export async function withFakeNodes(t: Cleanup, specs: readonly FakeNodeSpec[], kc: KubeConfig = kubeConfigFromEnv()): Promise<DedicatedNodes> {
  const core = kc.makeApiClient(CoreV1Api);
  const id = uniqueName("tn");
  const taint: V1Taint = { key: DEDICATED_TAINT_KEY, value: id, effect: "NoSchedule" };
  const nodes = await Promise.all(
    specs.map((s) =>
      createFakeNode(core, {
        ...s,
        name: `${id}-${s.name}`,
        labels: { ...s.labels, "hearth.dev/test-nodes": id },
        taints: [...(s.taints ?? []), taint],
      }),
    ),
  );
  // Cordon, drain (kwok ends the pods), then delete: no pods left Terminating on a missing node.
  t.after(() => removeFakeNodes(core, nodes.map((n) => n.metadata?.name ?? "")));
  await waitFor(
    async () => {
      const list = await core.listNode({ labelSelector: `hearth.dev/test-nodes=${id}` });
      return list.items.length === specs.length && list.items.every((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true);
    },
    { what: `dedicated nodes ${id} Ready` },
  );
  return {
    nodes,
    id,
    nodeSelector: { "hearth.dev/test-nodes": id },
    tolerations: [
      { key: DEDICATED_TAINT_KEY, operator: "Equal", value: id, effect: "NoSchedule" },
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ],
  };
}
