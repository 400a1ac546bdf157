// The documents of the read-only routes the console and `hearth list/describe` use
// (docs/protocol.md, "Console API"): Functions with their metadata, status, live queue numbers
// and signature; Jobs; Workflows; recent tasks. Pure: objects in, plain JSON out.
import type { Unstructured } from "../kube/objects.ts";
import type { FunctionStats, TaskStatus } from "../protocol/index.ts";
import type { SignatureEntry } from "./signatures.ts";
import type { Task } from "./tasks.ts";

export interface ConditionView {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface FunctionSummary {
  namespace: string;
  name: string;
  title: string;
  description?: string;
  tags: string[];
  codeURL?: string;
  runtime: string;
  invocation: string;
  image?: string;
  handler?: string;
  ready: ConditionView | undefined;
  gpu: { type?: string; count?: number; split?: number; fraction?: string; resource?: string; strategy?: string } | undefined;
  replicas: { desired: number; ready: number; min?: number; max?: number };
  warmWorkers: number;
  busyWorkers: number;
  queueDepth: number;
  inFlight: number;
  signatureKnown: boolean;
  createdAt?: string;
}

export interface FunctionDetail extends FunctionSummary {
  conditions: ConditionView[];
  readme: { source: "inline" | "configMap" | "none"; markdown?: string; error?: string };
  signature: { known: boolean; source?: string; inputSchema?: Record<string, unknown>; reportedAt?: string; rejected?: string };
  timeoutSeconds?: number;
  concurrency?: number;
  encoding?: string;
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** `o` without its undefined fields: the documents leave absent what is not known. */
function defined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = { ...o };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as T;
}

function timestamp(v: unknown): string | undefined {
  return typeof v === "string" ? v : v instanceof Date ? v.toISOString() : undefined;
}

export function conditionsOf(obj: Unstructured): ConditionView[] {
  const list = rec(obj["status"])["conditions"];
  if (!Array.isArray(list)) return [];
  return list.flatMap((c: unknown) => {
    const r = rec(c);
    const type = str(r["type"]);
    const status = str(r["status"]);
    if (type === undefined || status === undefined) return [];
    return [defined<ConditionView>({ type, status, reason: str(r["reason"]), message: str(r["message"]) })];
  });
}

export function functionSummary(obj: Unstructured, stats: FunctionStats, signature: SignatureEntry | undefined): FunctionSummary {
  const spec = rec(obj["spec"]);
  const status = rec(obj["status"]);
  const gpuSpec = rec(spec["gpu"]);
  const gpuStatus = rec(status["gpu"]);
  const pool = rec(spec["warmPool"]);
  const hasGpu = spec["gpu"] !== undefined;
  const tags = Array.isArray(spec["tags"]) ? spec["tags"].filter((t): t is string => typeof t === "string") : [];
  return defined<FunctionSummary>({
    namespace: obj.metadata.namespace ?? "default",
    name: obj.metadata.name,
    title: str(spec["title"]) ?? obj.metadata.name,
    description: str(spec["description"]),
    tags,
    codeURL: str(spec["codeURL"]),
    runtime: str(spec["runtime"]) ?? "python",
    invocation: str(spec["invocation"]) ?? "warm",
    image: str(spec["image"]),
    handler: str(spec["handler"]),
    ready: conditionsOf(obj).find((c) => c.type === "Ready"),
    gpu: hasGpu
      ? defined<NonNullable<FunctionSummary["gpu"]>>({
          type: str(gpuSpec["type"]),
          count: num(gpuSpec["count"]),
          split: num(gpuSpec["split"]),
          fraction: str(gpuStatus["fraction"]),
          resource: str(gpuStatus["resource"]),
          strategy: str(gpuStatus["strategy"]),
        })
      : undefined,
    replicas: defined<FunctionSummary["replicas"]>({ desired: num(status["replicas"]) ?? 0, ready: num(status["readyReplicas"]) ?? 0, min: num(pool["minReplicas"]), max: num(pool["maxReplicas"]) }),
    warmWorkers: stats.warmWorkers,
    busyWorkers: stats.busyWorkers,
    queueDepth: stats.queueDepth,
    inFlight: stats.inFlight,
    signatureKnown: signature?.signature !== undefined,
    createdAt: timestamp(obj.metadata.creationTimestamp),
  });
}

/** Where the readme is; the route resolves a ConfigMap reference. */
export function readmeRef(obj: Unstructured): { inline: string } | { configMap: { name: string; key: string } } | undefined {
  const readme = rec(rec(obj["spec"])["readme"]);
  const inline = str(readme["inline"]);
  if (inline !== undefined) return { inline };
  const ref = rec(readme["configMapKeyRef"]);
  const name = str(ref["name"]);
  const key = str(ref["key"]);
  return name !== undefined && key !== undefined ? { configMap: { name, key } } : undefined;
}

export function functionDetail(
  obj: Unstructured,
  stats: FunctionStats,
  signature: SignatureEntry | undefined,
  readme: FunctionDetail["readme"],
): FunctionDetail {
  const spec = rec(obj["spec"]);
  const sig: FunctionDetail["signature"] = { known: signature?.signature !== undefined };
  if (signature !== undefined) {
    sig.reportedAt = new Date(signature.reportedAt).toISOString();
    if (signature.signature !== undefined) {
      sig.source = signature.signature.source;
      sig.inputSchema = signature.signature.inputSchema;
    }
    if (signature.rejected !== undefined) sig.rejected = signature.rejected;
  }
  return defined<FunctionDetail>({
    ...functionSummary(obj, stats, signature),
    conditions: conditionsOf(obj),
    readme,
    signature: sig,
    timeoutSeconds: num(spec["timeoutSeconds"]),
    concurrency: num(spec["concurrency"]),
    encoding: str(spec["encoding"]),
  });
}

export interface TaskSummary {
  id: string;
  status: string;
  attempts: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: { type: string; message: string };
  progress?: { value: number; message?: string };
}

export function taskSummary(t: Task): TaskSummary {
  const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());
  return defined<TaskSummary>({
    id: t.id,
    status: t.status,
    attempts: t.attempts,
    createdAt: new Date(t.createdAt).toISOString(),
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
    error: t.error === null ? undefined : { type: t.error.type, message: t.error.message.slice(0, 2000) },
    progress: t.progress === undefined ? undefined : defined<NonNullable<TaskSummary["progress"]>>({ value: t.progress.value, message: t.progress.message }),
  });
}

export interface JobView {
  namespace: string;
  name: string;
  function?: string;
  workflow?: string;
  invocation?: string;
  state: "Complete" | "Failed" | "Running" | "Pending";
  conditions: ConditionView[];
  taskId?: string;
  attempts?: number;
  createdAt?: string;
}

export function jobView(obj: Unstructured): JobView {
  const spec = rec(obj["spec"]);
  const status = rec(obj["status"]);
  const conditions = conditionsOf(obj);
  const isTrue = (type: string): boolean => conditions.some((c) => c.type === type && c.status === "True");
  const state: JobView["state"] = isTrue("Complete") ? "Complete" : isTrue("Failed") ? "Failed" : Object.keys(status).length > 0 ? "Running" : "Pending";
  return defined<JobView>({
    namespace: obj.metadata.namespace ?? "default",
    name: obj.metadata.name,
    function: str(rec(spec["functionRef"])["name"]),
    workflow: str(rec(spec["workflowRef"])["name"]),
    invocation: str(spec["invocation"]),
    state,
    conditions,
    taskId: str(status["taskId"]),
    attempts: num(status["attempt"]) ?? (Array.isArray(status["attempts"]) ? status["attempts"].length : undefined),
    createdAt: timestamp(obj.metadata.creationTimestamp),
  });
}

export interface WorkflowView {
  namespace: string;
  name: string;
  start?: string;
  steps: Record<string, unknown>[];
  conditions: ConditionView[];
}

export function workflowView(obj: Unstructured): WorkflowView {
  const spec = rec(obj["spec"]);
  const steps = Array.isArray(spec["steps"]) ? spec["steps"].map(rec) : [];
  return defined<WorkflowView>({ namespace: obj.metadata.namespace ?? "default", name: obj.metadata.name, start: str(spec["start"]), steps, conditions: conditionsOf(obj) });
}

/** Counts of a step's executions by status (the run document's `steps`). */
export type StepCounts = Partial<Record<TaskStatus, number>>;

/** One word for a step of a run, as the graph colours it: the most telling status among its executions. */
export function stepState(counts: StepCounts): TaskStatus | undefined {
  for (const s of ["failed", "running", "queued", "cancelled", "succeeded"] as const) if ((counts[s] ?? 0) > 0) return s;
  return undefined;
}

/** A workflow run in the console's list: its status, times, error, and each step's counts and state. */
export interface RunSummary {
  id: string;
  status: TaskStatus;
  createdAt: string;
  finishedAt?: string;
  error?: { type: string; message: string };
  steps: Record<string, { counts: StepCounts; state?: TaskStatus }>;
}

export function runSummary(run: { id: string; status: TaskStatus; createdAt: number; finishedAt: number | null; error: { type: string; message: string } | null }, counts: Record<string, StepCounts>): RunSummary {
  const steps: RunSummary["steps"] = {};
  for (const [step, c] of Object.entries(counts)) {
    const state = stepState(c);
    steps[step] = state === undefined ? { counts: c } : { counts: c, state };
  }
  return defined<RunSummary>({
    id: run.id,
    status: run.status,
    createdAt: new Date(run.createdAt).toISOString(),
    finishedAt: run.finishedAt === null ? undefined : new Date(run.finishedAt).toISOString(),
    error: run.error === null ? undefined : { type: run.error.type, message: run.error.message },
    steps,
  });
}
