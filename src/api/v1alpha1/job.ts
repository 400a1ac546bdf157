// Job (hearth.dev): one declared invocation of a Function or Workflow.
import { z } from "zod";
import { conditions, jsonValue, localRef, objectName, retryPolicy, timeoutSeconds } from "./common.ts";
import { invocationMode } from "./function.ts";

/** Largest spec.input accepted by the schema (bytes of a top-level string, items of a list/map). */
export const MAX_INLINE_INPUT_STRING = 262_144;
export const MAX_INLINE_INPUT_ITEMS = 4_096;

const keySelector = z.object({
  name: objectName,
  key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, "must be a valid ConfigMap/Secret key"),
});

export const inputFrom = z
  .object({
    configMapKeyRef: keySelector.optional(),
    secretKeyRef: keySelector.optional(),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "has(self.configMapKeyRef) != has(self.secretKeyRef)", message: "inputFrom: set exactly one of configMapKeyRef or secretKeyRef" },
    ],
  });

export const jobSpec = z
  .object({
    functionRef: localRef.optional().describe("The Function to invoke."),
    workflowRef: localRef.optional().describe("The Workflow to invoke."),
    input: jsonValue
      .meta({ maxLength: MAX_INLINE_INPUT_STRING, maxItems: MAX_INLINE_INPUT_ITEMS, maxProperties: MAX_INLINE_INPUT_ITEMS })
      .optional()
      .describe(
        `Input, any JSON: a top-level string of at most ${MAX_INLINE_INPUT_STRING} bytes, a list or object of at most ${MAX_INLINE_INPUT_ITEMS} items. Larger inputs belong in inputFrom.`,
      ),
    inputFrom: inputFrom.optional(),
    invocation: invocationMode.optional().describe("Overrides the Function's invocation mode."),
    timeoutSeconds: timeoutSeconds.optional().describe("Per-attempt deadline; defaults to the Function's."),
    retries: retryPolicy.optional().describe("Defaults to the Function's."),
    ttlSecondsAfterFinished: z.int().min(0).max(31_536_000).optional(),
    taskId: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a gateway task id")
      .optional()
      .describe(
        "Set by the gateway for an isolated call (run/push to an invocation: isolated Function): the pod claims this task's input from the gateway and posts its output there. Hand-written Jobs leave it out.",
      ),
  })
  .meta({
    // CEL cannot see an untyped (preserve-unknown-fields) field such as input, so this rule is structural.
    not: { required: ["input", "inputFrom"] },
    "x-kubernetes-validations": [
      { rule: "has(self.functionRef) != has(self.workflowRef)", message: "set exactly one of functionRef or workflowRef" },
      { rule: "!has(self.taskId) || (has(self.functionRef) && !has(self.inputFrom))", message: "taskId (an isolated call) takes its input from the gateway: set functionRef and no inputFrom" },
    ],
  });
export type JobSpec = z.output<typeof jobSpec>;

export const attempt = z.object({
  index: z.int().min(0),
  pod: z.string().max(253).optional(),
  startTime: z.string().max(64).optional(),
  endTime: z.string().max(64).optional(),
  exitCode: z.int().optional(),
  reason: z.string().max(256).optional(),
  message: z.string().max(4096).optional(),
});
export type Attempt = z.infer<typeof attempt>;

/** One step of a workflowRef Job's run: how many of its executions are in each state. */
export const jobStepSummary = z.object({
  name: z.string().max(253),
  queued: z.int().min(0).optional(),
  running: z.int().min(0).optional(),
  succeeded: z.int().min(0).optional(),
  failed: z.int().min(0).optional(),
  cancelled: z.int().min(0).optional(),
});
export type JobStepSummary = z.infer<typeof jobStepSummary>;

export const jobStatus = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: conditions.optional(),
  attempts: z.array(attempt).max(128).optional(),
  output: jsonValue.optional(),
  outputRef: z.object({ kind: z.string().max(64), name: z.string().max(253), key: z.string().max(253).optional() }).optional(),
  startTime: z.string().max(64).optional(),
  completionTime: z.string().max(64).optional(),
  batchJob: z.string().max(253).optional(),
  taskId: z.string().max(253).optional(),
  invocation: invocationMode.optional(),
  /** workflowRef Jobs: each step's executions by state (the run is `taskId`). */
  steps: z.array(jobStepSummary).max(256).optional(),
});
export type JobStatus = z.infer<typeof jobStatus>;
