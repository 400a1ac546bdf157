// How this cluster shares GPUs (operator config `gpu:` and `gpuTypes:`), as zod schemas with
// defaults. Every strategy's parameters have defaults so Helm values can list them all and the
// `strategy` field picks one.
import { z } from "zod";
import { QUANTITY_PATTERN } from "../api/v1alpha1/common.ts";
import { DEFAULT_GPU_TYPES } from "./catalog.ts";

export const GPU_STRATEGIES = ["none", "timeSlicing", "mps", "mig", "hami"] as const;
export type GpuStrategy = (typeof GPU_STRATEGIES)[number];

const resourceName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, "must be a Kubernetes resource name such as nvidia.com/gpu");
const quantityString = z.string().regex(new RegExp(QUANTITY_PATTERN), "must be a Kubernetes quantity such as 16Gi");

export const migProfileSchema = z.object({
  name: z.string().regex(/^\d+g\.\d+gb(\+[a-z]+)?$/, 'must be a MIG profile name such as "2g.20gb"'),
  slices: z.int().min(1).max(8),
  memory: quantityString,
});

export const gpuTypeSchema = z
  .object({
    products: z.array(z.string().min(1).max(63)).min(1).describe("Values of the product node label (GPU Feature Discovery)."),
    memory: quantityString.optional(),
    migSlices: z.int().min(1).max(8).optional(),
    migProfiles: z.array(migProfileSchema).max(32).optional(),
  })
  .refine((t) => t.migProfiles === undefined || t.migSlices !== undefined, {
    message: "migProfiles needs migSlices (the GPU's compute slices, 7 for A100/H100)",
  });

export const gpuTypesSchema = z
  .record(z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "GPU type names are lowercase, e.g. t4, a100-80gb"), gpuTypeSchema)
  .default(DEFAULT_GPU_TYPES);
export type GpuTypes = z.output<typeof gpuTypesSchema>;

export const tolerationSchema = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.int().optional(),
});
export type Toleration = z.infer<typeof tolerationSchema>;

export const gpuConfigSchema = z
  .object({
    strategy: z.enum(GPU_STRATEGIES).default("none").describe("How the cluster shares GPUs; gpu.split follows it."),
    timeSlicing: z
      .object({
        replicas: z.int().min(2).max(64).default(4).describe("The device plugin's sharing.timeSlicing replicas."),
        resourceName: resourceName.default("nvidia.com/gpu"),
        failRequestsGreaterThanOne: z.boolean().default(false),
      })
      .prefault({}),
    mps: z
      .object({ replicas: z.int().min(2).max(48).default(4), resourceName: resourceName.default("nvidia.com/gpu") })
      .prefault({}),
    hami: z
      .object({
        resourceName: resourceName.default("nvidia.com/gpu"),
        coresResource: resourceName.default("nvidia.com/gpucores"),
        memoryPercentageResource: resourceName.default("nvidia.com/gpumem-percentage"),
        memoryResource: resourceName.default("nvidia.com/gpumem"),
      })
      .prefault({}),
    wholeGpuResource: resourceName.default("nvidia.com/gpu").describe("Resource for whole GPUs (gpu.count)."),
    productLabel: z.string().min(1).max(317).default("nvidia.com/gpu.product"),
    tolerations: z.array(tolerationSchema).max(16).default([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]),
    runtimeClassName: z.string().min(1).max(253).optional().describe("e.g. nvidia, when the cluster needs it for GPU pods."),
  })
  .prefault({});
export type GpuConfig = z.output<typeof gpuConfigSchema>;
export type GpuConfigInput = z.input<typeof gpuConfigSchema>;
