// The Job controller as `hearth operator` lists it.
// Its settings live under `controllers.job` in the operator config.
import { z } from "zod";
import { ConfigError } from "../../operator/config.ts";
import type { ControllerDefinition } from "../../operator/controller.ts";
import { CONTROLLER_NAME, JobController } from "./controller.ts";
import { GatewayClient } from "../gateway-client.ts";
import { clientWarmInvoker } from "./gateway.ts";
import { DEFAULT_JOB_CONTROLLER_CONFIG } from "./plan.ts";

export { JobController, type JobControllerOptions } from "./controller.ts";
export { DEFAULT_JOB_CONTROLLER_CONFIG, planJob, type JobControllerConfig, type JobPlan, type JobPlanInput } from "./plan.ts";
export { batchJobName, inputConfigMapName, LABEL_JOB } from "./batch-job.ts";

export const jobControllerSettingsSchema = z
  .object({
    /** Reconciles in parallel. */
    concurrency: z.int().min(1).max(256).default(16),
    /** Deadline of one reconcile. */
    timeoutSeconds: z.int().min(1).max(600).default(60),
    /** Every this often each Job is reconciled again even without events. 0 = never. */
    resyncSeconds: z.int().min(0).max(86400).default(600),
    /** Per attempt, added to timeoutSeconds in the batch Job's activeDeadlineSeconds backstop. */
    deadlineSlackSeconds: z.int().min(0).max(86400).default(DEFAULT_JOB_CONTROLLER_CONFIG.deadlineSlackSeconds),
    /** ttlSecondsAfterFinished of batch Jobs whose Hearth Job sets none; absent: kept until the Hearth Job is deleted. */
    defaultBatchJobTTLSeconds: z.int().min(0).max(31_536_000).optional(),
    /** Progress-only status changes are written at most this often per Job. */
    statusDebounceSeconds: z.number().min(0).max(60).default(DEFAULT_JOB_CONTROLLER_CONFIG.statusDebounceMs / 1000),
  })
  .strict();
export type JobControllerSettings = z.output<typeof jobControllerSettingsSchema>;

/** The Job controller; it reads the shared Function cache. */
export function jobController(): ControllerDefinition {
  return {
    name: CONTROLLER_NAME,
    setup({ manager, config, signingKey }) {
      const parsed = jobControllerSettingsSchema.safeParse(config.controllers["job"] ?? {});
      if (!parsed.success) {
        const lines = parsed.error.issues.map((i) => `  - controllers.job${i.path.length > 0 ? "." + i.path.join(".") : ""}: ${i.message}`);
        throw new ConfigError(`operator config is invalid:\n${lines.join("\n")}`);
      }
      const s = parsed.data;
      new JobController(manager, {
        workload: config,
        concurrency: s.concurrency,
        timeoutMs: s.timeoutSeconds * 1000,
        resyncMs: s.resyncSeconds * 1000,
        signingKey,
        warm: clientWarmInvoker(new GatewayClient({ url: config.gateway.url, callerTokenFile: config.gatewayClient.callerTokenFile })),
        config: {
          deadlineSlackSeconds: s.deadlineSlackSeconds,
          statusDebounceMs: s.statusDebounceSeconds * 1000,
          ...(s.defaultBatchJobTTLSeconds !== undefined ? { defaultBatchJobTTLSeconds: s.defaultBatchJobTTLSeconds } : {}),
        },
      });
    },
  };
}
