import { setTimeout as sleep } from "node:timers/promises";
import type { CoreV1Api, V1Node, V1Taint } from "@kubernetes/client-node";

/**
 * Fake nodes: plain `Node` objects kwok keeps alive, shaped like nodes where the NVIDIA device
 * plugin, GPU Feature Discovery (GFD), MIG manager or HAMi run. The scheduler sees their
 * capacity and labels exactly as on a real GPU cluster.
 */

export type GpuSharingStrategy = "time-slicing" | "mps";

export interface GpuSharingSpec {
  readonly strategy: GpuSharingStrategy;
  /** Replicas per physical GPU (the device plugin's `replicas`). */
  readonly replicas: number;
  /** Advertised resource; the device plugin's `renameByDefault: true` gives `nvidia.com/gpu.shared`. */
  readonly resourceName?: string;
}

export interface MigSpec {
  /** MIG devices on the node by profile, e.g. `{"1g.10gb": 7, "2g.20gb": 3}` (mixed strategy). */
  readonly devices: Readonly<Record<string, number>>;
  /** Physical GPUs left whole (not partitioned), advertised as `nvidia.com/gpu`. Default 0. */
  readonly wholeGpus?: number;
}

export interface HamiSpec {
  /** Virtual GPUs per physical GPU (HAMi's `deviceSplitCount`). */
  readonly split: number;
}

export interface GpuSpec {
  /** GFD's `nvidia.com/gpu.product`, e.g. `Tesla-T4`, `NVIDIA-A100-SXM4-80GB`. */
  readonly product: string;
  /** Physical GPUs on the node. */
  readonly count: number;
  /** Memory per GPU in MiB (GFD's `nvidia.com/gpu.memory`). */
  readonly memoryMiB: number;
  /** GFD's `nvidia.com/gpu.family`: turing, ampere, ada-lovelace, hopper, … */
  readonly family?: string;
  /** CUDA compute capability, e.g. `[8, 0]`. */
  readonly compute?: readonly [number, number];
  readonly migCapable?: boolean;
  readonly sharing?: GpuSharingSpec;
  readonly mig?: MigSpec;
  readonly hami?: HamiSpec;
}

export interface FakeNodeSpec {
  readonly name: string;
  readonly gpu?: GpuSpec;
  /** Default "8". */
  readonly cpu?: string;
  /** Default "32Gi". */
  readonly memory?: string;
  /** Default 110. */
  readonly pods?: number;
  /** Adds `nvidia.com/gpu=present:NoSchedule`, as GPU node pools usually have. Default false. */
  readonly gpuTaint?: boolean;
  readonly taints?: readonly V1Taint[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Extra or overriding capacity (= allocatable), e.g. `{"example.com/foo": "2"}`. */
  readonly resources?: Readonly<Record<string, string>>;
  /** InternalIP; must be in 127.0.0.0/8. Default: kwok's `--node-ip`. */
  readonly internalIP?: string;
}

export const GPU_TAINT: V1Taint = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" };

export const GPU_LABELS = {
  present: "nvidia.com/gpu.present",
  product: "nvidia.com/gpu.product",
  count: "nvidia.com/gpu.count",
  memory: "nvidia.com/gpu.memory",
  family: "nvidia.com/gpu.family",
  computeMajor: "nvidia.com/gpu.compute.major",
  computeMinor: "nvidia.com/gpu.compute.minor",
  replicas: "nvidia.com/gpu.replicas",
  sharingStrategy: "nvidia.com/gpu.sharing-strategy",
  migCapable: "nvidia.com/mig.capable",
  migStrategy: "nvidia.com/mig.strategy",
} as const;

export const GPU_RESOURCES = {
  gpu: "nvidia.com/gpu",
  shared: "nvidia.com/gpu.shared",
  hamiCores: "nvidia.com/gpucores",
  hamiMemory: "nvidia.com/gpumem",
  hamiMemoryPercentage: "nvidia.com/gpumem-percentage",
} as const;

/** `nvidia.com/mig-2g.20gb` for profile `2g.20gb`. */
export const migResource = (profile: string): string => `nvidia.com/mig-${profile}`;

/** Labels kwok and GFD would put on the node. */
export function fakeNodeLabels(spec: FakeNodeSpec): Record<string, string> {
  const labels: Record<string, string> = {
    "kubernetes.io/hostname": spec.name,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    type: "kwok",
    ...(spec.gpu === undefined ? {} : gpuLabels(spec.gpu)),
  };
  return { ...labels, ...spec.labels };
}

function gpuLabels(gpu: GpuSpec): Record<string, string> {
  const labels: Record<string, string> = {
    [GPU_LABELS.present]: "true",
    [GPU_LABELS.product]: gpu.product,
    [GPU_LABELS.count]: String(gpu.count),
    [GPU_LABELS.memory]: String(gpu.memoryMiB),
    [GPU_LABELS.replicas]: String(gpu.sharing?.replicas ?? 1),
    [GPU_LABELS.sharingStrategy]: gpu.sharing?.strategy ?? "none",
    [GPU_LABELS.migCapable]: String(gpu.migCapable ?? gpu.mig !== undefined),
  };
  if (gpu.family !== undefined) labels[GPU_LABELS.family] = gpu.family;
  if (gpu.compute !== undefined) {
    labels[GPU_LABELS.computeMajor] = String(gpu.compute[0]);
    labels[GPU_LABELS.computeMinor] = String(gpu.compute[1]);
  }
  if (gpu.mig !== undefined) {
    labels[GPU_LABELS.migStrategy] = "mixed";
    for (const [profile, count] of Object.entries(gpu.mig.devices)) {
      const { slices, memoryGiB } = parseMigProfile(profile);
      const prefix = migResource(profile);
      labels[`${prefix}.count`] = String(count);
      labels[`${prefix}.memory`] = String(memoryGiB * 1024);
      labels[`${prefix}.slices.gi`] = String(slices);
      labels[`${prefix}.slices.ci`] = String(slices);
    }
  }
  if (gpu.hami !== undefined) labels["gpu"] = "on";
  return labels;
}

/** `2g.20gb` → 2 slices, 20 GiB. Throws on anything else. */
export function parseMigProfile(profile: string): { slices: number; memoryGiB: number } {
  const m = /^(\d+)g\.(\d+)gb$/.exec(profile);
  if (m === null) throw new Error(`invalid MIG profile ${JSON.stringify(profile)} (want e.g. "1g.10gb")`);
  return { slices: Number(m[1]), memoryGiB: Number(m[2]) };
}

/** Capacity (= allocatable) of the node, extended resources included. */
export function fakeNodeResources(spec: FakeNodeSpec): Record<string, string> {
  const base: Record<string, string> = {
    cpu: spec.cpu ?? "8",
    memory: spec.memory ?? "32Gi",
    pods: String(spec.pods ?? 110),
    "ephemeral-storage": "200Gi",
  };
  return { ...base, ...(spec.gpu === undefined ? {} : gpuResources(spec.gpu)), ...spec.resources };
}

function gpuResources(gpu: GpuSpec): Record<string, string> {
  if (gpu.hami !== undefined) {
    return {
      [GPU_RESOURCES.gpu]: String(gpu.count * gpu.hami.split),
      [GPU_RESOURCES.hamiCores]: String(gpu.count * 100),
      [GPU_RESOURCES.hamiMemory]: String(gpu.count * gpu.memoryMiB),
      [GPU_RESOURCES.hamiMemoryPercentage]: String(gpu.count * 100),
    };
  }
  if (gpu.mig !== undefined) {
    const r: Record<string, string> = {};
    const whole = gpu.mig.wholeGpus ?? 0;
    if (whole > 0) r[GPU_RESOURCES.gpu] = String(whole);
    for (const [profile, count] of Object.entries(gpu.mig.devices)) {
      parseMigProfile(profile);
      r[migResource(profile)] = String(count);
    }
    return r;
  }
  if (gpu.sharing !== undefined) {
    return { [gpu.sharing.resourceName ?? GPU_RESOURCES.shared]: String(gpu.count * gpu.sharing.replicas) };
  }
  return { [GPU_RESOURCES.gpu]: String(gpu.count) };
}

/** The Node object for a spec: pure, so it can be unit-tested and dry-run. */
export function fakeNode(spec: FakeNodeSpec): V1Node {
  const resources = fakeNodeResources(spec);
  const taints = [...(spec.gpuTaint === true ? [GPU_TAINT] : []), ...(spec.taints ?? [])];
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: spec.name,
      labels: fakeNodeLabels(spec),
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0", ...spec.annotations },
    },
    spec: taints.length === 0 ? {} : { taints },
    status: {
      capacity: resources,
      allocatable: { ...resources },
      ...(spec.internalIP === undefined ? {} : { addresses: [{ type: "InternalIP", address: spec.internalIP }] }),
    },
  };
}

/** Creates the node (kwok adopts it: `--manage-all-nodes`). Nodes keep `status` on create. */
export async function createFakeNode(core: CoreV1Api, spec: FakeNodeSpec): Promise<V1Node> {
  return core.createNode({ body: fakeNode(spec) });
}

export async function deleteFakeNode(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.deleteNode({ name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Removes fake nodes without stranding their pods: cordons them, deletes the pods bound to them
 * (kwok plays the kubelet's part and lets them go), waits up to timeoutMs for the pods to be
 * gone, then deletes the nodes. Deleting a node first would leave its pods Terminating until the
 * pod garbage collector's 40 s quarantine ends.
 */
export async function removeFakeNodes(core: CoreV1Api, names: readonly string[], timeoutMs = 20_000): Promise<void> {
  await Promise.all(
    names.map(async (name) => {
      try {
        await core.patchNode({ name, body: [{ op: "add", path: "/spec/unschedulable", value: true }] });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }),
  );
  const podsOn = async (): Promise<{ name: string; namespace: string }[]> => {
    const lists = await Promise.all(names.map((n) => core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${n}` })));
    return lists.flatMap((l) => l.items.map((p) => ({ name: p.metadata?.name ?? "", namespace: p.metadata?.namespace ?? "" })));
  };
  const deadline = Date.now() + timeoutMs;
  for (let pods = await podsOn(); pods.length > 0 && Date.now() < deadline; pods = await podsOn()) {
    await Promise.all(
      pods.map(async (p) => {
        try {
          await core.deleteNamespacedPod({ name: p.name, namespace: p.namespace });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }),
    );
    await sleep(200);
  }
  await Promise.all(names.map((n) => deleteFakeNode(core, n)));
}

function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === 404;
}

// ---- presets and the `--nodes` flag ------------------------------------------------------

type Preset = (name: string) => FakeNodeSpec;

const T4: Omit<GpuSpec, "count"> = { product: "Tesla-T4", memoryMiB: 15360, family: "turing", compute: [7, 5] };
const A100_80: Omit<GpuSpec, "count"> = {
  product: "NVIDIA-A100-SXM4-80GB",
  memoryMiB: 81920,
  family: "ampere",
  compute: [8, 0],
  migCapable: true,
};

/**
 * Node kinds for `hearth dev` and `hack/cluster.ts up --nodes`. Each is a common shape of a
 * GPU node pool; tests that need exact capacity should build their own {@link FakeNodeSpec}.
 */
export const NODE_PRESETS: Readonly<Record<string, Preset>> = {
  /** One T4, time-sliced 4 ways, renamed to `nvidia.com/gpu.shared` (4 units). */
  "t4-shared": (name) => ({
    name,
    cpu: "8",
    memory: "32Gi",
    gpuTaint: true,
    gpu: { ...T4, count: 1, sharing: { strategy: "time-slicing", replicas: 4 } },
  }),
  /** One whole T4 (`nvidia.com/gpu: 1`). */
  t4: (name) => ({ name, cpu: "8", memory: "32Gi", gpuTaint: true, gpu: { ...T4, count: 1 } }),
  /** Eight whole A100-80GB. */
  a100: (name) => ({ name, cpu: "96", memory: "1Ti", gpuTaint: true, gpu: { ...A100_80, count: 8 } }),
  /** Four A100-80GB partitioned with MIG (mixed): 7×1g.10gb, 3×2g.20gb, 2×3g.40gb, 1×7g.80gb. */
  "a100-mig": (name) => ({
    name,
    cpu: "96",
    memory: "1Ti",
    gpuTaint: true,
    gpu: { ...A100_80, count: 4, mig: { devices: { "1g.10gb": 7, "2g.20gb": 3, "3g.40gb": 2, "7g.80gb": 1 } } },
  }),
  /** Two A10 under HAMi, each split into 10 virtual GPUs (cores and memory as resources). */
  hami: (name) => ({
    name,
    cpu: "32",
    memory: "128Gi",
    gpuTaint: true,
    gpu: { product: "NVIDIA-A10", memoryMiB: 23028, family: "ampere", compute: [8, 6], count: 2, hami: { split: 10 } },
  }),
  /** One L4 (whole). */
  l4: (name) => ({
    name,
    cpu: "16",
    memory: "64Gi",
    gpuTaint: true,
    gpu: { product: "NVIDIA-L4", memoryMiB: 23034, family: "ada-lovelace", compute: [8, 9], count: 1 },
  }),
  /** No GPU. */
  cpu: (name) => ({ name, cpu: "16", memory: "64Gi" }),
};

/** What `up` creates without `--nodes`. */
export const DEFAULT_NODES = "t4-shared:3,a100-mig:1,hami:1,cpu:1";

/**
 * Parses `t4-shared:3,a100-mig,cpu:2` (preset[:count], comma-separated; `none` for no nodes)
 * into node specs named `<preset>-<i>`.
 */
export function parseNodesFlag(flag: string): FakeNodeSpec[] {
  const trimmed = flag.trim();
  if (trimmed === "" || trimmed === "none") return [];
  const seen = new Map<string, number>();
  return trimmed.split(",").flatMap((part) => {
    const [preset = "", countText = "1", ...rest] = part.trim().split(":");
    const build = NODE_PRESETS[preset];
    if (build === undefined || rest.length > 0) {
      throw new Error(`unknown node kind ${JSON.stringify(part)}; known: ${Object.keys(NODE_PRESETS).join(", ")} (as kind[:count])`);
    }
    const count = Number(countText);
    if (!Number.isInteger(count) || count < 0 || count > 1000) throw new Error(`invalid node count in ${JSON.stringify(part)}`);
    const first = seen.get(preset) ?? 0;
    seen.set(preset, first + count);
    return Array.from({ length: count }, (_, i) => build(`${preset}-${first + i}`));
  });
}
