// The parts of batch Jobs and Pods the Job controller reads, parsed at the boundary. Timestamps
// arrive as Date (client-node's deserializer) or RFC 3339 strings (raw JSON); both become strings.
// Unlisted fields are stripped, which keeps informer caches small.
import { z } from "zod";

const time = z.union([z.string(), z.date()]).transform((t) => (typeof t === "string" ? t : t.toISOString()));

const meta = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  // Informers tell updates from replays by it.
  resourceVersion: z.string().optional(),
  creationTimestamp: time.optional(),
  deletionTimestamp: time.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  ownerReferences: z.array(z.object({ uid: z.string(), kind: z.string(), name: z.string(), controller: z.boolean().optional() })).optional(),
});

const condition = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: time.optional(),
});

const containerStatus = z.object({
  name: z.string(),
  state: z
    .object({
      waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).optional(),
      running: z.object({ startedAt: time.optional() }).optional(),
      terminated: z
        .object({
          exitCode: z.number(),
          reason: z.string().optional(),
          message: z.string().optional(),
          startedAt: time.optional(),
          finishedAt: time.optional(),
        })
        .optional(),
    })
    .optional(),
});
export type ContainerStatusView = z.output<typeof containerStatus>;

export const podView = z.object({
  metadata: meta,
  status: z
    .object({
      phase: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startTime: time.optional(),
      conditions: z.array(condition).optional(),
      containerStatuses: z.array(containerStatus).optional(),
      initContainerStatuses: z.array(containerStatus).optional(),
    })
    .optional(),
});
export type PodView = z.output<typeof podView>;

export const batchJobView = z.object({
  metadata: meta,
  // Only what the outcome needs: the retry budget, the backstop, and (through the exit-code
  // rules) the runtime's container name. Keeping the template out keeps the cache small.
  spec: z
    .object({
      backoffLimit: z.number().optional(),
      activeDeadlineSeconds: z.number().optional(),
      podFailurePolicy: z
        .object({ rules: z.array(z.object({ onExitCodes: z.object({ containerName: z.string().optional() }).optional() })) })
        .optional(),
    })
    .optional(),
  status: z
    .object({
      startTime: time.optional(),
      completionTime: time.optional(),
      conditions: z.array(condition).optional(),
      active: z.number().optional(),
      failed: z.number().optional(),
      succeeded: z.number().optional(),
    })
    .optional(),
});
export type BatchJobView = z.output<typeof batchJobView>;

/** The container the exit-code rules watch: the runtime's. */
export function runtimeContainer(job: BatchJobView): string {
  for (const r of job.spec?.podFailurePolicy?.rules ?? []) if (r.onExitCodes?.containerName !== undefined) return r.onExitCodes.containerName;
  return "";
}
