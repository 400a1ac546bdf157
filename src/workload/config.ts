// What rendering a worker pod needs from the operator config: gateway URL, runtime commands,
// GPU sharing, GPU types and pod defaults. The Function and Job controllers both read it.
import { z } from "zod";
import { gpuConfigSchema, gpuTypesSchema, tolerationSchema } from "../gpu/config.ts";

const command = z.array(z.string().min(1).max(4096)).min(1).max(64);

export const runtimesSchema = z
  .object({
    python: z.object({ command: command.default(["python", "-m", "hearth.runtime"]) }).prefault({}),
    node: z.object({ command: command.default(["hearth", "worker"]) }).prefault({}),
  })
  .prefault({});

export const podDefaultsSchema = z
  .object({
    runAsUser: z.int().min(1).max(2147483647).default(1000).describe("Non-root UID for workers (images with USER root still run)."),
    runAsGroup: z.int().min(1).max(2147483647).default(1000),
    fsGroup: z.int().min(1).max(2147483647).default(1000),
    healthPort: z.int().min(1).max(65535).default(8081),
    serviceAccountName: z.string().min(1).max(253).optional(),
    priorityClassName: z.string().min(1).max(253).optional(),
    imagePullSecrets: z.array(z.string().min(1).max(253)).max(16).default([]),
    /** Extra node labels every worker needs (e.g. a node pool). */
    nodeSelector: z.record(z.string(), z.string()).default({}),
    /** Taints every worker tolerates (e.g. a dedicated, tainted node pool); GPU pods add gpu.tolerations. */
    tolerations: z.array(tolerationSchema).max(16).default([]),
    /** Annotations on every worker pod (warm and batch), under the Function's podMetadata (e.g. a mesh's, or dev mode's). */
    annotations: z.record(z.string().max(253), z.string().max(4096)).default({}),
    /** Upper bound of the grace period; warm workers get min(timeoutSeconds, this) + 15 s to drain. */
    maxTerminationGracePeriodSeconds: z.int().min(0).max(3600).default(600),
  })
  .prefault({});

export const workloadConfigSchema = z.object({
  gateway: z
    .object({
      url: z
        .url({ protocol: /^https?$/, error: "gateway.url must be an http(s) URL such as http://hearth-gateway.hearth-system:8080" })
        .default("http://hearth-gateway.hearth-system:8080"),
    })
    .prefault({}),
  runtimes: runtimesSchema,
  gpu: gpuConfigSchema,
  gpuTypes: gpuTypesSchema,
  pod: podDefaultsSchema,
  artifacts: z
    .object({
      imageMode: z
        .enum(["volume", "initContainer"])
        .default("initContainer")
        .describe("image artifacts: a Kubernetes image volume (ImageVolume feature, 1.33+) or an init container copying the image's /models."),
      cache: z
        .object({
          hostPath: z.string().min(2).max(512).default("/var/cache/hearth/artifacts").describe("Per-node cache of URL artifacts."),
          persistentVolumeClaim: z.string().min(1).max(253).optional().describe("A shared (ReadWriteMany) claim instead of the hostPath."),
        })
        .prefault({}),
      fetcherImage: z.string().min(1).max(512).default("ghcr.io/hearth-dev/hearth:0.1.0").describe("Image with the hearth CLI, for the download init container."),
      fetcherCommand: command.default(["hearth", "artifacts", "fetch"]),
    })
    .prefault({}),
  packages: z
    .object({
      cache: z
        .object({ hostPath: z.string().min(2).max(512).default("/var/cache/hearth/python-packages").describe("Per-node cache of installed pythonPackages sets (one directory per set).") })
        .prefault({}),
      indexURL: z.url({ protocol: /^https?$/ }).optional().describe("pip --index-url (a private mirror)."),
      extraIndexURLs: z.array(z.url({ protocol: /^https?$/ })).max(8).default([]).describe("pip --extra-index-url, each."),
      pipOptions: z.array(z.string().min(1).max(512)).max(32).default([]).describe("More pip install options, e.g. [--trusted-host, mirror.internal]."),
    })
    .prefault({}),
  images: z
    .object({ packageInstaller: z.string().min(1).max(512).optional().describe("Image that pip-installs pythonPackages; default: the Function's image.") })
    .prefault({}),
});
export type WorkloadConfig = z.output<typeof workloadConfigSchema>;
export type WorkloadConfigInput = z.input<typeof workloadConfigSchema>;
