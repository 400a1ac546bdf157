// Well-known NVIDIA GPUs: the node label values GPU Feature Discovery publishes on
// nvidia.com/gpu.product, memory, and MIG profiles (mixed strategy resource names). Operator
// config can override or extend every entry; these defaults make common clusters work unchanged.

export interface MigProfile {
  /** e.g. "2g.20gb": the pod requests nvidia.com/mig-<name>. */
  name: string;
  /** Compute slices of the profile. */
  slices: number;
  /** Memory of the profile, a quantity. */
  memory: string;
}

export interface GpuTypeInfo {
  products: string[];
  memory?: string;
  /** Compute slices of the whole GPU under MIG (7 for A100/H100, 4 for A30). */
  migSlices?: number;
  migProfiles?: MigProfile[];
}

const mig = (memory: number, names: [string, number, number][]): MigProfile[] =>
  names.map(([name, slices, gib]) => ({ name, slices, memory: `${gib}Gi` })).filter((p) => Number(p.memory.slice(0, -2)) <= memory);

export const DEFAULT_GPU_TYPES: Record<string, GpuTypeInfo> = {
  // Memory as GPU Feature Discovery reports it (nvidia.com/gpu.memory), a little under the box's figure.
  t4: { products: ["Tesla-T4"], memory: "15Gi" },
  l4: { products: ["NVIDIA-L4"], memory: "22Gi" },
  a10: { products: ["NVIDIA-A10"], memory: "22Gi" },
  a10g: { products: ["NVIDIA-A10G"], memory: "22Gi" },
  l40s: { products: ["NVIDIA-L40S"], memory: "48Gi" },
  a30: {
    products: ["NVIDIA-A30"],
    memory: "24Gi",
    migSlices: 4,
    migProfiles: mig(24, [
      ["1g.6gb", 1, 6],
      ["2g.12gb", 2, 12],
      ["4g.24gb", 4, 24],
    ]),
  },
  "a100-40gb": {
    products: ["NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-PCIE-40GB"],
    memory: "40Gi",
    migSlices: 7,
    migProfiles: mig(40, [
      ["1g.5gb", 1, 5],
      ["1g.10gb", 1, 10],
      ["2g.10gb", 2, 10],
      ["3g.20gb", 3, 20],
      ["4g.20gb", 4, 20],
      ["7g.40gb", 7, 40],
    ]),
  },
  "a100-80gb": {
    products: ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"],
    memory: "80Gi",
    migSlices: 7,
    migProfiles: mig(80, [
      ["1g.10gb", 1, 10],
      ["1g.20gb", 1, 20],
      ["2g.20gb", 2, 20],
      ["3g.40gb", 3, 40],
      ["4g.40gb", 4, 40],
      ["7g.80gb", 7, 80],
    ]),
  },
  "h100-80gb": {
    products: ["NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe"],
    memory: "80Gi",
    migSlices: 7,
    migProfiles: mig(80, [
      ["1g.10gb", 1, 10],
      ["1g.20gb", 1, 20],
      ["2g.20gb", 2, 20],
      ["3g.40gb", 3, 40],
      ["4g.40gb", 4, 40],
      ["7g.80gb", 7, 80],
    ]),
  },
  "h200-141gb": {
    products: ["NVIDIA-H200"],
    memory: "141Gi",
    migSlices: 7,
    migProfiles: mig(141, [
      ["1g.18gb", 1, 18],
      ["1g.35gb", 1, 35],
      ["2g.35gb", 2, 35],
      ["3g.71gb", 3, 71],
      ["4g.71gb", 4, 71],
      ["7g.141gb", 7, 141],
    ]),
  },
};
