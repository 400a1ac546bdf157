// Function: a user's model class (setup once, predict per call), served by a warm pool or as
// isolated batch Jobs.
import { z } from "zod";
import { REQUIREMENT_MESSAGE, REQUIREMENT_PATTERN, requirementError } from "../../packages/requirements.ts";
import {
  conditions,
  envFromSource,
  envVar,
  podMetadata,
  quantity,
  retryPolicy,
  timeoutSeconds,
} from "./common.ts";
import { artifactList } from "./artifacts.ts";
import { functionMetadataFields } from "./metadata.ts";

export const HANDLER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*([./][A-Za-z_][A-Za-z0-9_-]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export const gpuSpec = z
  .object({
    type: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a lowercase GPU type name such as t4, a100-80gb")
      .optional()
      .describe("GPU type, mapped to node labels (nvidia.com/gpu.product) by the operator's config."),
    count: z.int().min(1).max(16).optional().describe("Whole GPUs per worker. Default 1 when split is not set."),
    split: z
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe("Share one GPU N ways: each worker gets 1/N. Rendered per the cluster's sharing strategy."),
    memory: quantity.optional().describe("GPU memory wanted; picks the MIG profile or the HAMi memory limit."),
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "!(has(self.count) && self.count > 1 && has(self.split) && self.split > 1)",
        message: "gpu.count > 1 cannot be combined with gpu.split: use count for whole GPUs or split for a fraction of one GPU",
      },
    ],
  });
export type GpuSpec = z.infer<typeof gpuSpec>;

export const resourcesSpec = z.object({
  cpu: quantity.default("1"),
  memory: quantity.default("1Gi"),
  ephemeralStorage: quantity.default("2Gi"),
});

export const autoscalerMode = z.enum(["hearth", "external"]);
export type AutoscalerMode = z.infer<typeof autoscalerMode>;

export const warmPoolSpec = z
  .object({
    minReplicas: z.int().min(0).max(1000).default(1).describe("Workers kept warm. 0 allows scale to zero."),
    maxReplicas: z.int().min(1).max(1000).default(10),
    scaleDownDelaySeconds: z
      .int()
      .min(0)
      .max(86400)
      .default(300)
      .describe("The pool shrinks only after demand stayed lower for this long (a stable window: a bursty queue does not thrash a GPU pool)."),
    replicas: z
      .int()
      .min(0)
      .max(1000)
      .optional()
      .describe(
        "Workers the pool should have now: the scale subresource (kubectl scale, HPA, KEDA). Written by Hearth's autoscaler (autoscaler: hearth) or by an external one (autoscaler: external). Absent: minReplicas.",
      ),
    targetUtilization: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe("Share of each worker's concurrency the autoscaler aims to fill, in (0, 1]. Absent: the operator's default (1.0)."),
    autoscaler: autoscalerMode
      .default("hearth")
      .describe("hearth: the operator sizes the pool from the gateway's demand. external: only the scale subresource (kubectl scale, an HPA, KEDA) sets warmPool.replicas."),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "self.minReplicas <= self.maxReplicas", message: "warmPool.minReplicas must be <= warmPool.maxReplicas" },
    ],
  });
export type WarmPoolSpec = z.output<typeof warmPoolSpec>;

export const invocationMode = z.enum(["warm", "isolated"]);
export type InvocationMode = z.infer<typeof invocationMode>;

export const functionSpec = z
  .object({
    image: z.string().min(1).max(512).regex(/^\S+$/, "must be an image reference without spaces").describe("Container image holding the handler."),
    handler: z
      .string()
      .min(3)
      .max(256)
      .regex(HANDLER_PATTERN, "must be \"module:attr\", e.g. app.model:Whisper")
      .describe("\"module:attr\": a class with setup()/predict(), a function, or a runner class."),
    runtime: z.enum(["python", "node"]).default("python"),
    command: z.array(z.string().max(4096)).max(64).optional().describe("Overrides the runtime entrypoint."),
    env: z.array(envVar).max(128).optional(),
    envFrom: z.array(envFromSource).max(32).optional(),
    resources: resourcesSpec.default({ cpu: "1", memory: "1Gi", ephemeralStorage: "2Gi" }),
    gpu: gpuSpec.optional().describe("Absent: CPU only."),
    restartOnError: z.boolean().default(true).describe("Re-spawn the worker process with a fresh setup() after user code raised."),
    timeoutSeconds: timeoutSeconds.default(300).describe("Per-attempt deadline; progress updates extend it."),
    startupTimeoutSeconds: z
      .int()
      .min(1)
      .max(86400)
      .default(600)
      .describe("Deadline of setup() in each worker, distinct from timeoutSeconds; setup progress extends it. Past it the worker exits 124 (SetupTimeout) and restarts."),
    retries: retryPolicy.default({ maxRetries: 0, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 }),
    concurrency: z.int().min(1).max(1024).default(1).describe("Tasks in flight per worker."),
    warmPool: warmPoolSpec.default({ minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 300, autoscaler: "hearth" }),
    invocation: invocationMode.default("warm").describe("warm: served by the pool; isolated: a batch Job per call."),
    cacheable: z.boolean().default(false),
    encoding: z.enum(["json", "pickle"]).default("json"),
    pythonPackages: z
      .array(
        z
          .string()
          .min(1)
          .max(256)
          .superRefine((req, ctx) => {
            const error = requirementError(req);
            if (error !== undefined) ctx.addIssue({ code: "custom", message: error });
          })
          // The apiserver checks the same pattern, with a message people can act on (a bare
          // `pattern` would answer with the regular expression).
          .meta({ "x-kubernetes-validations": [{ rule: `self.matches(r'${REQUIREMENT_PATTERN}')`, message: REQUIREMENT_MESSAGE }] }),
      )
      .max(128)
      .optional()
      .describe("PEP 508 requirements pip installs before the worker starts (an init container, cached per node by the package set; dev mode: a venv per set)."),
    artifacts: artifactList.optional().describe("Read-only files (model weights) in place before setup() runs, at /models/<name> unless mountPath says otherwise."),
    ...functionMetadataFields,
    podMetadata: podMetadata.optional(),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "self.encoding != 'pickle' || self.runtime == 'python'", message: "encoding: pickle needs runtime: python" },
      {
        rule: "!has(self.pythonPackages) || size(self.pythonPackages) == 0 || self.runtime == 'python'",
        message: "pythonPackages needs runtime: python",
      },
    ],
  });
export type FunctionSpec = z.output<typeof functionSpec>;
export type FunctionSpecInput = z.input<typeof functionSpec>;

export const gpuStatus = z.object({
  resource: z.string().max(253),
  units: z.int().min(0),
  fraction: z.string().max(16),
  strategy: z.string().max(32),
  profile: z.string().max(64).optional(),
});

/** Setup of the pool's workers as the gateway last heard it (src/controllers/setup-status). */
export const setupStatus = z.object({
  /** Workers still in setup(). */
  starting: z.int().min(0).optional(),
  /** Human summary, e.g. "loading: 40% weights". */
  message: z.string().max(1024).optional(),
  /** The most advanced setup progress of a starting worker, 0..1. */
  progress: z.number().min(0).max(1).optional(),
  /** Seconds setup() took on the last worker that became ready. */
  lastDurationSeconds: z.number().min(0).optional(),
  /** A worker reported the handler's signature after setup() (the console's form; `hearth describe`). */
  signatureKnown: z.boolean().optional(),
  /** The last setup failure (SetupTimeout, SetupFailing) with the worker's last message. */
  lastFailure: z
    .object({
      reason: z.string().max(64),
      message: z.string().max(2048),
      time: z.string().max(64).optional(),
      worker: z.string().max(253).optional(),
    })
    .optional(),
});
export type SetupStatus = z.infer<typeof setupStatus>;

export const coldStart = z.object({
  seconds: z.number().min(0).describe("From the first call queued with no ready worker to that call's lease."),
  time: z.string().max(64).describe("When the cold start ended (RFC 3339)."),
});

export const functionStatus = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: conditions.optional(),
  replicas: z.int().min(0).optional(),
  readyReplicas: z.int().min(0).optional(),
  updatedReplicas: z.int().min(0).optional(),
  /** The pods of the warm pool, as a label selector string (the scale subresource's labelSelectorPath). */
  selector: z.string().max(1024).optional(),
  /** What the built-in autoscaler wants now (absent with autoscaler: external). */
  desiredReplicas: z.int().min(0).optional(),
  warmWorkers: z.int().min(0).optional(),
  busyWorkers: z.int().min(0).optional(),
  queueDepth: z.int().min(0).optional(),
  inFlight: z.int().min(0).optional(),
  lastScaleTime: z.string().max(64).optional(),
  lastColdStart: coldStart.optional(),
  gpu: gpuStatus.optional(),
  endpoint: z.string().max(512).optional(),
  deployment: z.string().max(253).optional(),
  setup: setupStatus.optional().describe("What the workers' setup() is doing, from their heartbeats (written by the operator's leader)."),
});
export type FunctionStatus = z.infer<typeof functionStatus>;
