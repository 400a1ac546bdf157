// The Workflow controller's policy, pure: from a Workflow and what is known of the Functions
// its steps name, the status to store (Valid, Ready, endpoint) and the Events of the
// transitions. Graph checks come from src/workflow/graph.ts, shared with the gateway.
import type { Condition, Workflow, WorkflowStatus } from "../../api/v1alpha1/index.ts";
import type { Encoding } from "../../protocol/index.ts";
import { analyze, encodingIssues } from "../../workflow/graph.ts";
import { reconcileConditions, type DesiredCondition } from "../job/conditions.ts";

export interface FunctionFacts {
  encoding: Encoding;
  ready: boolean;
  /** Why it is not Ready (its Ready condition's reason), for the message. */
  reason?: string | undefined;
}

export interface WorkflowPlanInput {
  workflow: Workflow;
  /** Each referenced Function by name; undefined = not found. */
  functions: ReadonlyMap<string, FunctionFacts | undefined>;
  /** The gateway's base URL, for status.endpoint; undefined = no endpoint. */
  gatewayUrl: string | undefined;
  now: Date;
}

export interface PlannedEvent {
  /** The condition whose transition this tells. */
  condition: "Valid" | "Ready";
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface WorkflowPlan {
  status: WorkflowStatus;
  statusChanged: boolean;
  events: PlannedEvent[];
}

const MAX_MESSAGE = 1024;

export function planWorkflow(input: WorkflowPlanInput): WorkflowPlan {
  const wf = input.workflow;
  const ns = wf.metadata.namespace ?? "default";
  const { issues } = analyze(wf.spec);
  const missing = [...new Set(wf.spec.steps.map((s) => s.functionRef.name))].filter((n) => input.functions.get(n) === undefined);
  const encIssues = encodingIssues(wf.spec, (fn) => input.functions.get(fn)?.encoding);
  const all = [...issues, ...encIssues];
  const valid: DesiredCondition =
    all.length > 0
      ? { type: "Valid", status: "False", reason: all[0]?.reason ?? "Invalid", message: clip(all.map((i) => i.message).join("; ")) }
      : { type: "Valid", status: "True", reason: "GraphValid", message: `${wf.spec.steps.length} steps from ${wf.spec.start}` };
  let ready: DesiredCondition;
  if (missing.length > 0) {
    ready = { type: "Ready", status: "False", reason: "FunctionNotFound", message: clip(`Function${missing.length > 1 ? "s" : ""} not found in ${ns}: ${missing.join(", ")}`) };
  } else if (valid.status === "False") {
    ready = { type: "Ready", status: "False", reason: "Invalid", message: "the graph is not valid (see Valid)" };
  } else {
    const notReady = [...input.functions].filter(([, f]) => f !== undefined && !f.ready);
    ready =
      notReady.length > 0
        ? {
            type: "Ready",
            status: "False",
            reason: "FunctionNotReady",
            message: clip(`not Ready: ${notReady.map(([n, f]) => (f?.reason === undefined ? n : `${n} (${f.reason})`)).join(", ")}`),
          }
        : { type: "Ready", status: "True", reason: "FunctionsReady", message: `every step's Function is Ready` };
  }
  const previous = wf.status?.conditions;
  const conditions = reconcileConditions(previous, [valid, ready], wf.metadata.generation, input.now.toISOString());
  const status: WorkflowStatus = { conditions };
  if (wf.metadata.generation !== undefined) status.observedGeneration = wf.metadata.generation;
  if (input.gatewayUrl !== undefined) status.endpoint = `${input.gatewayUrl.replace(/\/$/, "")}/v1/namespaces/${ns}/workflows/${wf.metadata.name}:run`;
  const events: PlannedEvent[] = [];
  const flipped = (c: DesiredCondition): boolean => previous?.find((p) => p.type === c.type)?.status !== c.status || previous.find((p) => p.type === c.type)?.reason !== c.reason;
  if (flipped(valid)) events.push({ condition: "Valid", ...(valid.status === "True" ? { type: "Normal", reason: "Valid" } : { type: "Warning", reason: valid.reason }), message: valid.message });
  if (flipped(ready)) events.push({ condition: "Ready", ...(ready.status === "True" ? { type: "Normal", reason: "Ready" } : { type: "Warning", reason: ready.reason }), message: ready.message });
  return { status, statusChanged: !sameStatus(wf.status, status), events };
}

function clip(s: string): string {
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE - 1)}…` : s;
}

function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  if ((a?.length ?? 0) !== (b?.length ?? 0)) return false;
  return (a ?? []).every((c, i) => {
    const d = b?.[i];
    return d !== undefined && c.type === d.type && c.status === d.status && c.reason === d.reason && c.message === d.message && c.observedGeneration === d.observedGeneration;
  });
}

function sameStatus(a: WorkflowStatus | undefined, b: WorkflowStatus): boolean {
  return a !== undefined && a.observedGeneration === b.observedGeneration && a.endpoint === b.endpoint && sameConditions(a.conditions, b.conditions);
}
