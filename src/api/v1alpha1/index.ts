// hearth.dev/v1alpha1: the public API. Schemas only; the CRDs in crds/ are generated from them.
import { z } from "zod";
import { API_VERSION, MAX_NAME_LENGTH } from "./common.ts";
import { functionSpec, functionStatus } from "./function.ts";
import { jobSpec, jobStatus } from "./job.ts";
import { workflowSpec, workflowStatus } from "./workflow.ts";

export * from "./artifacts.ts";
export * from "./common.ts";
export * from "./function.ts";
export * from "./job.ts";
export * from "./metadata.ts";
export * from "./workflow.ts";

/** The part of ObjectMeta the controllers read. Unknown fields pass through. */
export const objectMeta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(z.looseObject({ uid: z.string(), kind: z.string(), name: z.string() })).optional(),
});

function resource<S extends z.ZodType, T extends z.ZodType>(kind: string, spec: S, status: T) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: objectMeta,
    spec,
    status: status.optional(),
  });
}

export const hearthFunction = resource("Function", functionSpec, functionStatus);
export const hearthJob = resource("Job", jobSpec, jobStatus);
export const workflow = resource("Workflow", workflowSpec, workflowStatus);

export type HearthFunction = z.output<typeof hearthFunction>;
export type HearthJob = z.output<typeof hearthJob>;
export type Workflow = z.output<typeof workflow>;

/** What the CRD generator needs to know about each kind. */
export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
  /** The scale subresource (kubectl scale, HPA, KEDA), when the kind has one. */
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
}

const readyColumn = { name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].status" };
const ageColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

export const kinds: KindInfo[] = [
  {
    kind: "Function",
    plural: "functions",
    singular: "function",
    shortNames: ["fn"],
    spec: functionSpec,
    status: functionStatus,
    scale: { specReplicasPath: ".spec.warmPool.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" },
    printerColumns: [
      readyColumn,
      { name: "Desired", type: "integer", jsonPath: ".spec.warmPool.replicas", description: "Workers the pool should have (the scale subresource)" },
      { name: "Replicas", type: "integer", jsonPath: ".status.readyReplicas", description: "Ready warm workers" },
      { name: "Queue", type: "integer", jsonPath: ".status.queueDepth", description: "Tasks queued at the gateway" },
      { name: "Busy", type: "integer", jsonPath: ".status.busyWorkers", description: "Workers holding a task", priority: 1 },
      { name: "GPU", type: "string", jsonPath: ".status.gpu.fraction", description: "GPU fraction per worker" },
      { name: "Invocation", type: "string", jsonPath: ".spec.invocation", priority: 1 },
      { name: "Image", type: "string", jsonPath: ".spec.image", priority: 1 },
      { name: "Reason", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].reason", priority: 1 },
      { name: "Description", type: "string", jsonPath: ".spec.description", priority: 1 },
      ageColumn,
    ],
  },
  {
    kind: "Job",
    plural: "jobs",
    singular: "job",
    shortNames: ["hjob"],
    spec: jobSpec,
    status: jobStatus,
    printerColumns: [
      { name: "Function", type: "string", jsonPath: ".spec.functionRef.name" },
      { name: "Workflow", type: "string", jsonPath: ".spec.workflowRef.name", priority: 1 },
      { name: "Complete", type: "string", jsonPath: ".status.conditions[?(@.type==\"Complete\")].status" },
      { name: "Failed", type: "string", jsonPath: ".status.conditions[?(@.type==\"Failed\")].status" },
      ageColumn,
    ],
  },
  {
    kind: "Workflow",
    plural: "workflows",
    singular: "workflow",
    shortNames: ["wf"],
    spec: workflowSpec,
    status: workflowStatus,
    printerColumns: [
      { name: "Start", type: "string", jsonPath: ".spec.start" },
      { name: "Valid", type: "string", jsonPath: ".status.conditions[?(@.type==\"Valid\")].status" },
      readyColumn,
      ageColumn,
    ],
  },
];

export { MAX_NAME_LENGTH };
