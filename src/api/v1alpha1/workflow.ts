// Workflow: a graph of Function steps with routing, map and accumulate (reduce).
import { z } from "zod";
import { conditions, jsonValue, localRef, retryPolicy, timeoutSeconds } from "./common.ts";

export const MAX_STEPS = 64;
const stepName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a lowercase RFC 1123 label (a-z, 0-9, '-')");

export const workflowStep = z
  .object({
    name: stepName,
    functionRef: localRef,
    map: z.boolean().optional().describe("The step returns a list; each item is sent to the next steps separately."),
    next: z.array(stepName).max(16).optional().describe("Steps that receive this step's output."),
    routes: z.array(stepName).max(16).optional().describe("The step returns which of these run next."),
    accumulate: z
      .object({ initial: jsonValue.optional() })
      .optional()
      .describe("Reduce: called with (accumulator, item) for every item that reaches it."),
    retries: retryPolicy.optional(),
    timeoutSeconds: timeoutSeconds.optional(),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "!(has(self.next) && has(self.routes))", message: "a step sets next or routes, not both" },
      { rule: "!has(self.next) || !self.next.exists(n, n == self.name)", message: "a step cannot list itself in next" },
    ],
  });
export type WorkflowStep = z.output<typeof workflowStep>;

export const workflowSpec = z
  .object({
    start: stepName.describe("The first step."),
    retries: retryPolicy.optional().describe("Default retry policy of the steps."),
    timeoutSeconds: timeoutSeconds.optional(),
    description: z.string().max(1024).optional(),
    steps: z.array(workflowStep).min(1).max(MAX_STEPS),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "self.steps.all(s, self.steps.exists_one(t, t.name == s.name))", message: "step names must be unique", fieldPath: ".steps" },
      { rule: "self.steps.exists(s, s.name == self.start)", message: "start must name one of the steps", fieldPath: ".start" },
      {
        rule: "self.steps.all(s, !has(s.next) || s.next.all(n, self.steps.exists(t, t.name == n)))",
        message: "every name in next must be a step of this workflow",
        fieldPath: ".steps",
      },
      {
        rule: "self.steps.all(s, !has(s.routes) || s.routes.all(n, self.steps.exists(t, t.name == n)))",
        message: "every name in routes must be a step of this workflow",
        fieldPath: ".steps",
      },
    ],
  });
export type WorkflowSpec = z.output<typeof workflowSpec>;

export const workflowStatus = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: conditions.optional(),
  endpoint: z.string().max(512).optional(),
});
export type WorkflowStatus = z.infer<typeof workflowStatus>;
