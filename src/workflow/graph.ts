// What a Workflow's graph means, computed once from its spec: each step's successors, the map
// steps whose fan-outs it sits inside (its "fan-out stack"), and the checks CEL cannot express
// (cycles, unreachable steps, reducers without a fan-out, inconsistent fan-out depths, routers
// without routes, json/pickle edges). Pure: the Workflow controller and the gateway share it.
import type { Encoding } from "../protocol/index.ts";
import type { WorkflowSpec, WorkflowStep } from "../api/v1alpha1/workflow.ts";

export type GraphIssueReason = "Cycle" | "Unreachable" | "AccumulateWithoutMap" | "InconsistentFanOut" | "EmptyRoutes" | "EncodingMismatch";

export interface GraphIssue {
  reason: GraphIssueReason;
  step: string;
  message: string;
}

export interface StepInfo {
  step: WorkflowStep;
  /** Steps that receive this step's output (next) or may receive its input (routes). */
  successors: readonly string[];
  /** Map steps whose fan-outs this step runs inside, outermost first. */
  fanOut: readonly string[];
  terminal: boolean;
}

export interface Graph {
  start: string;
  steps: ReadonlyMap<string, StepInfo>;
  /** Steps in a topological order (start first). */
  order: readonly string[];
}

/** The graph, or the first issues found (cycles make the rest meaningless). */
export function analyze(spec: WorkflowSpec): { graph: Graph | undefined; issues: GraphIssue[] } {
  const byName = new Map(spec.steps.map((s) => [s.name, s]));
  const succ = (s: WorkflowStep): string[] => [...(s.next ?? []), ...(s.routes ?? [])].filter((n) => byName.has(n));
  const issues: GraphIssue[] = [];
  for (const s of spec.steps) {
    if (s.routes !== undefined && s.routes.length === 0) issues.push({ reason: "EmptyRoutes", step: s.name, message: `step "${s.name}" is a router with no routes` });
  }
  const cycle = findCycle(spec.start, spec.steps, byName, succ);
  if (cycle !== undefined) {
    issues.push({ reason: "Cycle", step: cycle[0] ?? spec.start, message: `steps form a cycle: ${cycle.join(" → ")}` });
    return { graph: undefined, issues };
  }
  const order = topoOrder(spec.start, byName, succ);
  const reached = new Set(order);
  for (const s of spec.steps) {
    if (!reached.has(s.name)) issues.push({ reason: "Unreachable", step: s.name, message: `step "${s.name}" cannot be reached from start "${spec.start}"` });
  }
  // Fan-out stacks along the topological order: what a step's input sits inside.
  const stacks = new Map<string, string[]>([[spec.start, []]]);
  const bad = new Set<string>();
  for (const name of order) {
    const s = byName.get(name);
    const stack = stacks.get(name);
    if (s === undefined || stack === undefined) continue;
    if (s.accumulate !== undefined && stack.length === 0) {
      issues.push({ reason: "AccumulateWithoutMap", step: name, message: `step "${name}" accumulates but no map step fans out above it` });
    }
    const out = outputStack(s, stack);
    for (const n of succ(s)) {
      const prev = stacks.get(n);
      if (prev === undefined) stacks.set(n, out);
      else if (prev.join("/") !== out.join("/") && !bad.has(n)) {
        bad.add(n);
        issues.push({
          reason: "InconsistentFanOut",
          step: n,
          message: `step "${n}" is reached inside fan-outs [${prev.join(", ")}] and [${out.join(", ")}]: every path to a step must cross the same map steps`,
        });
      }
    }
  }
  const steps = new Map<string, StepInfo>();
  for (const s of spec.steps) {
    steps.set(s.name, { step: s, successors: succ(s), fanOut: stacks.get(s.name) ?? [], terminal: (s.next ?? []).length === 0 && s.routes === undefined });
  }
  return { graph: { start: spec.start, steps, order }, issues };
}

/** The fan-out stack of a step's output, given its input's. */
export function outputStack(s: WorkflowStep, input: readonly string[]): string[] {
  let out = [...input];
  if (s.accumulate !== undefined) out = out.slice(0, -1);
  if (s.map === true) out = [...out, s.name];
  return out;
}

/** Edges joining json and pickle Functions (pickle map steps, routers and reducers are fine: docs/workflows.md, "Encodings"). */
export function encodingIssues(spec: WorkflowSpec, encodingOf: (fn: string) => Encoding | undefined): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const byName = new Map(spec.steps.map((s) => [s.name, s]));
  for (const s of spec.steps) {
    const enc = encodingOf(s.functionRef.name);
    if (enc === undefined) continue;
    // A router passes its input on: its successors must read what its predecessor wrote, which
    // is the router's own encoding by the edge into the router.
    for (const n of [...(s.next ?? []), ...(s.routes ?? [])]) {
      const t = byName.get(n);
      if (t === undefined) continue;
      const other = encodingOf(t.functionRef.name);
      if (other !== undefined && other !== enc) {
        issues.push({
          reason: "EncodingMismatch",
          step: n,
          message: `edge ${s.name} → ${n} joins Function ${s.functionRef.name} (encoding ${enc}) and ${t.functionRef.name} (encoding ${other}): both ends of an edge must use the same encoding`,
        });
      }
    }
  }
  return issues;
}

function findCycle(start: string, all: readonly WorkflowStep[], byName: Map<string, WorkflowStep>, succ: (s: WorkflowStep) => string[]): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const st = state.get(name);
    if (st === "done") return undefined;
    if (st === "open") return [...path.slice(path.indexOf(name)), name];
    state.set(name, "open");
    path.push(name);
    const s = byName.get(name);
    for (const n of s === undefined ? [] : succ(s)) {
      const c = visit(n);
      if (c !== undefined) return c;
    }
    path.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const name of [start, ...all.map((s) => s.name)]) {
    const c = visit(name);
    if (c !== undefined) return c;
  }
  return undefined;
}

function topoOrder(start: string, byName: Map<string, WorkflowStep>, succ: (s: WorkflowStep) => string[]): string[] {
  const reached = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const n = stack.pop();
    if (n === undefined || reached.has(n)) continue;
    reached.add(n);
    const s = byName.get(n);
    if (s !== undefined) stack.push(...succ(s));
  }
  const indegree = new Map<string, number>([...reached].map((n) => [n, 0]));
  for (const n of reached) {
    const s = byName.get(n);
    for (const m of s === undefined ? [] : succ(s)) indegree.set(m, (indegree.get(m) ?? 0) + 1);
  }
  const ready = [...reached].filter((n) => (indegree.get(n) ?? 0) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const n = ready.shift();
    if (n === undefined) break;
    order.push(n);
    const s = byName.get(n);
    for (const m of s === undefined ? [] : succ(s)) {
      const d = (indegree.get(m) ?? 0) - 1;
      indegree.set(m, d);
      if (d === 0) ready.push(m);
    }
  }
  return order;
}
