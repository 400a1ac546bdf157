// Runs Workflows (docs/workflows.md) on the task engine: every step execution is a task on its
// Function's queue; fan-outs, reducer state, routes and terminal outputs are rows in the task
// store. A new step's row is staged with its task (one commit); a step's consequences are staged
// when the engine publishes its outcome, which it does once that outcome is durable. After a
// restart, recover() rebuilds each unfinished run from those rows and settles again any step
// whose task finished before the crash: nothing is lost, and a finished step never runs again.
import { randomUUID } from "node:crypto";
import { isTerminal, type Encoding, type TaskError, type TaskErrorType, type TaskStatus } from "../../protocol/index.ts";
import type { Clock } from "../../kube/clock.ts";
import type { WorkflowSpec } from "../../api/v1alpha1/workflow.ts";
import { analyze, outputStack, type Graph, type StepInfo } from "../../workflow/graph.ts";
import { OldestKey } from "../oldest-key.ts";
import type { FunctionRegistry, FunctionSettings } from "../registry.ts";
import type { TaskStore } from "../store.ts";
import type { SqlValue } from "../store-tables.ts";
import { EngineError, type Task, type TaskEngine } from "../tasks.ts";
import { Watchers } from "../watchers.ts";
import { comparePaths, isPrefix, parsePath, pathKey, prefixes, type ItemPath } from "./paths.ts";
import type { CompiledWorkflow } from "./registry.ts";
import { pickleDictOfLists } from "./pickle.ts";
import { accValue, chosenRoutesOf, pickleOutputB64, reducerInput, runOutput, splitItems } from "./values.ts";

export const RUN_PREFIX = "wf-";

interface Node {
  taskId: string;
  step: string;
  path: ItemPath;
  kind: "call" | "reduce";
  status: TaskStatus;
  seq: number;
  /** A router's input, which its chosen routes receive. */
  input: string | null;
}

interface Arrival {
  seq: number;
  value: string;
}

interface Group {
  key: string;
  step: string;
  path: ItemPath;
  count: number;
  next: number;
  acc: string;
  reducing: string | null;
  /** Items the reduction in flight folds at once (0: one arrival, the classic path). */
  folded: number;
  received: number;
  arrivals: number;
  done: boolean;
  values: Map<number, Arrival[]>;
}

interface OutputValue {
  step: string;
  path: ItemPath;
  seq: number;
  value: string;
}

export interface Run {
  id: string;
  namespace: string;
  name: string;
  status: TaskStatus;
  spec: WorkflowSpec;
  graph: Graph | undefined;
  encoding: Encoding;
  input: string | null;
  output: string | null;
  /** The output's encoding: pickle only when the single output value is pickle. */
  outputEncoding: Encoding;
  error: TaskError | null;
  idempotencyKey: string | null;
  createdAt: number;
  finishedAt: number | null;
  nodes: Map<string, Node>;
  groups: Map<string, Group>;
  pending: Map<string, number>;
  outputs: OutputValue[];
  seq: number;
  watches: Map<string, () => void>;
}

export type StepEventType = "queued" | "started" | "progress" | "finished" | "failed" | "cancelled";

export interface StepEvent {
  step: string;
  path: number[];
  taskId: string;
  event: StepEventType;
  cached?: boolean;
  progress?: { value: number; message?: string };
  error?: TaskError;
}

export type RunEvent = { type: "step"; step: StepEvent } | { type: "done"; run: Run };

export interface StepPage {
  items: { path: number[]; taskId: string; kind: "call" | "reduce"; status: TaskStatus; attempts: number; cached?: boolean; output?: string; outputB64?: string; error?: TaskError }[];
  next: string | undefined;
}

export interface ExecutorMetrics {
  runFinished(namespace: string, name: string, status: TaskStatus, ms: number): void;
}

export interface ExecutorOptions {
  engine: TaskEngine;
  store: TaskStore;
  registry: FunctionRegistry;
  clock: Clock;
  /** Submits one step task; the gateway's cache wraps it. Default engine.submit. */
  submit?: (fn: FunctionSettings, input: string, encoding: Encoding) => Task;
  metrics?: ExecutorMetrics;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Finished runs kept this long (as tasks are). Default 1 h. */
  resultTtlMs?: number;
  recentLimit?: number;
}

export class WorkflowError extends EngineError {}

export class WorkflowExecutor {
  private readonly o: ExecutorOptions;
  private readonly engine: TaskEngine;
  private readonly store: TaskStore;
  private readonly active = new Map<string, Run>();
  private readonly recent = new Map<string, Run>();
  private readonly oldestRecent = new OldestKey(this.recent);
  private readonly watchers: Watchers<Run, RunEvent>;
  private lastGc = 0;

  constructor(opts: ExecutorOptions) {
    this.o = opts;
    this.engine = opts.engine;
    this.store = opts.store;
    this.watchers = new Watchers(opts.clock);
  }

  // ---- callers -------------------------------------------------------------------------

  /** Starts a run (or returns the run of a repeated idempotency key). Durable once store.committed(). */
  start(wf: CompiledWorkflow, input: string, encoding: Encoding, idempotencyKey?: string): { run: Run; repeat: boolean } {
    if (idempotencyKey !== undefined) {
      const existing = this.findByKey(wf.namespace, wf.name, idempotencyKey);
      if (existing !== undefined) return { run: existing, repeat: true };
    }
    if (wf.graph === undefined || wf.issues.length > 0) {
      throw new WorkflowError("NotReady", `workflow ${wf.namespace}/${wf.name} cannot run: ${wf.issues.map((i) => i.message).join("; ")}`);
    }
    const run: Run = {
      id: `${RUN_PREFIX}${randomUUID()}`,
      namespace: wf.namespace,
      name: wf.name,
      status: "running",
      spec: wf.spec,
      graph: wf.graph,
      encoding,
      input,
      output: null,
      outputEncoding: "json",
      error: null,
      idempotencyKey: idempotencyKey ?? null,
      createdAt: this.o.clock.now(),
      finishedAt: null,
      nodes: new Map(),
      groups: new Map(),
      pending: new Map(),
      outputs: [],
      seq: 0,
      watches: new Map(),
    };
    this.active.set(run.id, run);
    this.saveRun(run);
    this.deliver(run, wf.graph.start, [], input, encoding);
    this.maybeFinish(run);
    return { run, repeat: false };
  }

  get(id: string): Run | undefined {
    return this.active.get(id) ?? this.recent.get(id) ?? this.loadFinished(id);
  }

  /** The latest runs of a Workflow, newest first (the console's run list): in memory and in the store. */
  recentRuns(namespace: string, name: string, limit: number): Run[] {
    const byId = new Map<string, Run>();
    for (const map of [this.active, this.recent]) for (const r of map.values()) if (r.namespace === namespace && r.name === name) byId.set(r.id, r);
    for (const row of this.store.query("SELECT id FROM wf_runs WHERE namespace = ? AND name = ? ORDER BY created_at DESC LIMIT ?", namespace, name, limit)) {
      const id = String(row["id"]);
      if (byId.has(id)) continue;
      const run = this.get(id);
      if (run !== undefined) byId.set(id, run);
    }
    return [...byId.values()].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).slice(0, limit);
  }

  cancel(id: string): Run | undefined {
    const run = this.active.get(id);
    if (run === undefined) return this.get(id);
    this.endRun(run, "cancelled", { type: "Cancelled", message: "cancelled by the caller", attempt: 0 });
    return run;
  }

  waitForTerminal(id: string, ms: number, signal?: AbortSignal): Promise<Run | undefined> {
    const run = this.get(id);
    if (run === undefined) return Promise.resolve(undefined);
    if (isTerminal(run.status)) return Promise.resolve(run);
    return this.watchers.wait(id, ms, signal);
  }

  subscribe(id: string, fn: (ev: RunEvent) => void): () => void {
    return this.watchers.subscribe(id, fn);
  }

  /** Executions of one step in item order, `limit` at a time; `after` is the previous page's `next`. */
  async steps(id: string, step: string, after: number, limit: number): Promise<StepPage | undefined> {
    const run = this.get(id);
    if (run === undefined) return undefined;
    await this.store.committed().catch(() => undefined);
    const rows = this.store.query("SELECT task_id, path, kind, status, seq FROM wf_nodes WHERE run = ? AND step = ?", id, step);
    const nodes = rows
      .map((r) => ({ taskId: String(r["task_id"]), path: parsePath(String(r["path"])), kind: r["kind"] === "reduce" ? ("reduce" as const) : ("call" as const), status: String(r["status"]) as TaskStatus, seq: Number(r["seq"]) }))
      .sort((a, b) => comparePaths(a.path, b.path) || a.seq - b.seq);
    const page = nodes.slice(after, after + limit);
    const items = page.map((n) => {
      const t = this.engine.get(n.taskId);
      const status = t?.status ?? n.status;
      const item: StepPage["items"][number] = { path: [...n.path], taskId: n.taskId, kind: n.kind, status, attempts: t?.attempts ?? 0 };
      if (t?.cached === true) item.cached = true;
      if (t !== undefined && t.status === "succeeded" && t.output !== null) {
        if (t.encoding === "pickle") item.outputB64 = pickleOutputB64(t.output);
        else item.output = t.output;
      }
      if (t?.error !== null && t?.error !== undefined) item.error = t.error;
      return item;
    });
    return { items, next: after + limit < nodes.length ? String(after + limit) : undefined };
  }

  /** The current state of every step execution known in memory, as step events (SSE replay). */
  replay(run: Run): StepEvent[] {
    const nodes = [...run.nodes.values()].sort((a, b) => a.seq - b.seq);
    return nodes.map((n) => {
      const ev: StepEvent = { step: n.step, path: [...n.path], taskId: n.taskId, event: eventOf(n.status) };
      const t = isTerminal(n.status) ? this.engine.get(n.taskId) : undefined;
      if (t?.cached === true) ev.cached = true;
      if (t?.error !== null && t?.error !== undefined) ev.error = t.error;
      return ev;
    });
  }

  /** Counts of step executions by status, for the run document. */
  stepCounts(run: Run): Record<string, Partial<Record<TaskStatus, number>>> {
    const counts: Record<string, Partial<Record<TaskStatus, number>>> = {};
    const add = (step: string, status: TaskStatus, n: number): void => {
      const c = (counts[step] ??= {});
      c[status] = (c[status] ?? 0) + n;
    };
    if (run.nodes.size > 0 || this.active.has(run.id)) {
      for (const n of run.nodes.values()) add(n.step, n.status, 1);
      return counts;
    }
    for (const r of this.store.query("SELECT step, status, COUNT(*) AS n FROM wf_nodes WHERE run = ? GROUP BY step, status", run.id)) {
      add(String(r["step"]), String(r["status"]) as TaskStatus, Number(r["n"]));
    }
    return counts;
  }

  // ---- restart ---------------------------------------------------------------------------

  /** Rebuilds unfinished runs from the store; call after engine.recover(), before serving. */
  recover(): number {
    const rows = this.store.query("SELECT * FROM wf_runs WHERE status IN ('queued', 'running') ORDER BY created_at");
    const resume: (() => void)[] = [];
    for (const r of rows) {
      const run = runFromRow(r);
      run.graph = analyze(run.spec).graph;
      this.active.set(run.id, run);
      for (const n of this.store.query("SELECT * FROM wf_nodes WHERE run = ?", run.id)) {
        const node: Node = {
          taskId: String(n["task_id"]),
          step: String(n["step"]),
          path: parsePath(String(n["path"])),
          kind: n["kind"] === "reduce" ? "reduce" : "call",
          status: String(n["status"]) as TaskStatus,
          seq: Number(n["seq"]),
          input: typeof n["input"] === "string" ? n["input"] : null,
        };
        run.nodes.set(node.taskId, node);
        run.seq = Math.max(run.seq, node.seq + 1);
        if (node.kind === "call" && !isTerminal(node.status)) this.addPending(run, node.path, 1);
      }
      for (const g of this.store.query("SELECT * FROM wf_groups WHERE run = ?", run.id)) {
        const group: Group = {
          key: String(g["key"]).slice(run.id.length + 1),
          step: String(g["step"]),
          path: parsePath(String(g["path"])),
          count: Number(g["count"]),
          next: Number(g["next"]),
          acc: String(g["acc"]),
          ...reducingOf(g["reducing"]),
          received: Number(g["received"]),
          arrivals: Number(g["arrivals"]),
          done: Number(g["done"]) === 1,
          values: new Map(),
        };
        run.groups.set(group.key, group);
        if (!group.done) this.addPending(run, group.path, 1);
      }
      for (const v of this.store.query("SELECT * FROM wf_values WHERE run = ? ORDER BY seq", run.id)) {
        const seq = Number(v["seq"]);
        run.seq = Math.max(run.seq, seq + 1);
        if (v["kind"] === "out") {
          run.outputs.push({ step: String(v["owner"]), path: parsePath(String(v["path"])), seq, value: String(v["value"]) });
          continue;
        }
        const g = run.groups.get(String(v["owner"]));
        if (g === undefined) continue;
        const item = Number(v["item"]);
        let list = g.values.get(item);
        if (list === undefined) g.values.set(item, (list = []));
        list.push({ seq, value: String(v["value"]) });
      }
      resume.push(() => this.resume(run));
    }
    for (const fn of resume) fn();
    return rows.length;
  }

  private resume(run: Run): void {
    if (run.graph === undefined) {
      this.endRun(run, "failed", { type: "BadConfiguration", message: "the run's workflow graph is invalid", attempt: 0 });
      return;
    }
    for (const node of [...run.nodes.values()]) {
      if (isTerminal(node.status)) continue;
      const task = this.engine.get(node.taskId);
      if (task === undefined) {
        this.endRun(run, "failed", { type: "Disrupted", message: `step "${node.step}" lost its task ${node.taskId}`, attempt: 0 });
        return;
      }
      if (isTerminal(task.status)) this.onTaskDone(run, node, task);
      else {
        task.policy = this.policyOf(run, node.step);
        if (this.info(run, node.step)?.step.map === true && task.encoding === "pickle") task.outputItems = true;
        if (node.kind === "reduce" && [...run.groups.values()].some((g) => g.reducing === node.taskId && g.folded > 0)) task.fold = true;
        this.watch(run, node);
      }
      if (isTerminal(run.status)) return;
    }
    for (const g of run.groups.values()) if (!g.done) this.advance(run, g);
    this.maybeFinish(run);
  }

  // ---- periodic work -------------------------------------------------------------------

  tick(): void {
    const now = this.o.clock.now();
    if (now - this.lastGc < 30_000) return;
    this.lastGc = now;
    const cutoff = now - (this.o.resultTtlMs ?? 3_600_000);
    for (const r of this.store.query("SELECT id FROM wf_runs WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT 1000", cutoff)) {
      const id = String(r["id"]);
      this.recent.delete(id);
      this.store.saveExtra("wf_runs", id, () => null);
      for (const table of ["wf_nodes", "wf_groups", "wf_values"]) this.store.deleteExtraBy(table, "run", id);
    }
  }

  // ---- the graph -------------------------------------------------------------------------

  private info(run: Run, step: string): StepInfo | undefined {
    return run.graph?.steps.get(step);
  }

  /** A value reaching a step: a reducer's arrival, or a new step task. */
  private deliver(run: Run, step: string, path: ItemPath, value: string, encoding: Encoding): void {
    if (isTerminal(run.status)) return;
    const info = this.info(run, step);
    if (info === undefined) return this.endRun(run, "failed", { type: "BadConfiguration", message: `step "${step}" is not in the workflow`, attempt: 0 });
    if (info.step.accumulate !== undefined) {
      const g = run.groups.get(groupKey(step, path.slice(0, -1)));
      if (g === undefined) return this.endRun(run, "failed", { type: "BadConfiguration", message: `reducer "${step}" received item ${pathKey(path)} outside any fan-out`, attempt: 0 });
      const item = path[path.length - 1] ?? 0;
      const arrival = { seq: run.seq++, value };
      let list = g.values.get(item);
      if (list === undefined) g.values.set(item, (list = []));
      list.push(arrival);
      g.received++;
      g.arrivals++;
      this.saveGroup(run, g);
      this.store.saveExtra("wf_values", valueKey(run, "arr", arrival.seq), () => [valueKey(run, "arr", arrival.seq), run.id, "arr", g.key, item, arrival.seq, pathKey(path), value]);
      this.advance(run, g);
      return;
    }
    this.spawn(run, step, path, "call", value, encoding);
  }

  private spawn(run: Run, step: string, path: ItemPath, kind: "call" | "reduce", input: string, encoding: Encoding, opts: { fold?: boolean } = {}): Node | undefined {
    const info = this.info(run, step);
    if (info === undefined) return undefined;
    const ref = info.step.functionRef.name;
    const fn = this.o.registry.get(run.namespace, ref);
    const fail = (type: TaskErrorType, message: string): undefined => {
      this.endRun(run, "failed", { type, message: `step "${step}"${itemText(path)}: ${message}`, attempt: 0 });
      return undefined;
    };
    if (fn === undefined) return fail("BadConfiguration", `function ${run.namespace}/${ref} not found`);
    if (fn.invocation === "isolated") return fail("BadConfiguration", `function ${run.namespace}/${ref} has invocation: isolated; workflow steps run on warm pools`);
    if (fn.encoding !== encoding) return fail("BadConfiguration", `function ${run.namespace}/${ref} uses encoding ${fn.encoding} but receives ${encoding}`);
    let task: Task;
    try {
      task = this.o.submit?.(fn, input, encoding) ?? this.engine.submitStep(fn, input, encoding);
    } catch (err) {
      if (err instanceof EngineError) return fail(err.type === "QueueFull" ? "Disrupted" : "BadConfiguration", err.message);
      throw err;
    }
    task.policy = this.policyOf(run, step);
    // A pickle map step's worker sends its items as separate pickles: the gateway cannot split one.
    if (info.step.map === true && encoding === "pickle") task.outputItems = true;
    if (opts.fold === true) task.fold = true;
    // A task done already (a cache hit) is settled below, so its node starts as queued.
    const node: Node = { taskId: task.id, step, path, kind, status: isTerminal(task.status) ? "queued" : task.status, seq: run.seq++, input: run.graph?.steps.get(step)?.step.routes !== undefined ? input : null };
    run.nodes.set(node.taskId, node);
    if (kind === "call") this.addPending(run, path, 1);
    this.saveNode(run, node);
    this.emit(run.id, { type: "step", step: { step, path: [...path], taskId: node.taskId, event: "queued" } });
    if (isTerminal(task.status)) {
      // A cache hit: done before anyone could watch it. Settle it in this same turn (same commit).
      queueMicrotask(() => this.onTaskDone(run, node, task));
    } else this.watch(run, node);
    return node;
  }

  /** The encoding of a step's Function (json when it is unknown: spawning reports that). */
  private encodingOf(run: Run, step: string): Encoding {
    const ref = this.info(run, step)?.step.functionRef.name;
    return (ref === undefined ? undefined : this.o.registry.get(run.namespace, ref)?.encoding) ?? "json";
  }

  private policyOf(run: Run, step: string): { timeoutSeconds?: number; retries?: FunctionSettings["retries"] } {
    const s = this.info(run, step)?.step;
    const policy: { timeoutSeconds?: number; retries?: FunctionSettings["retries"] } = {};
    const timeout = s?.timeoutSeconds ?? run.spec.timeoutSeconds;
    const retries = s?.retries ?? run.spec.retries;
    if (timeout !== undefined) policy.timeoutSeconds = timeout;
    if (retries !== undefined) policy.retries = retries;
    return policy;
  }

  private watch(run: Run, node: Node): void {
    const unsubscribe = this.engine.subscribe(node.taskId, (ev) => {
      switch (ev.type) {
        case "progress":
          this.emit(run.id, { type: "step", step: { step: node.step, path: [...node.path], taskId: node.taskId, event: "progress", progress: ev.progress } });
          return;
        case "status":
          if (!isTerminal(ev.task.status)) node.status = ev.task.status;
          if (ev.task.status === "running" && ev.task.attempts === 1) this.emit(run.id, { type: "step", step: { step: node.step, path: [...node.path], taskId: node.taskId, event: "started" } });
          return;
        case "done":
          this.onTaskDone(run, node, ev.task);
          return;
      }
    });
    run.watches.set(node.taskId, unsubscribe);
  }

  private onTaskDone(run: Run, node: Node, task: Task): void {
    if (isTerminal(node.status)) return;
    run.watches.get(node.taskId)?.();
    run.watches.delete(node.taskId);
    node.status = task.status;
    const routerInput = node.input;
    node.input = null;
    this.saveNode(run, node);
    const event: StepEvent = { step: node.step, path: [...node.path], taskId: node.taskId, event: task.status === "succeeded" ? "finished" : task.status === "cancelled" ? "cancelled" : "failed" };
    if (task.cached === true) event.cached = true;
    if (task.error !== null) event.error = task.error;
    this.emit(run.id, { type: "step", step: event });
    if (isTerminal(run.status)) return;
    if (task.status !== "succeeded") {
      const e = task.error ?? { type: "UserError" as const, message: `task ${task.status}`, attempt: task.attempts };
      const what = node.kind === "reduce" ? `reducer "${node.step}" on item ${pathKey(node.path)}` : `step "${node.step}"${itemText(node.path)}`;
      this.endRun(run, "failed", { type: e.type, message: `${what} failed on attempt ${e.attempt ?? task.attempts}: ${e.type}: ${e.message}`, attempt: e.attempt ?? task.attempts });
      return;
    }
    const output = task.output ?? "null";
    if (node.kind === "reduce") {
      this.reduced(run, node, task.encoding === "pickle" ? `pickle:${output}` : output);
    } else {
      this.stepSucceeded(run, node, output, task.encoding, routerInput);
      this.addPending(run, node.path, -1);
      this.advanceAround(run, node.path);
    }
    this.maybeFinish(run);
  }

  private stepSucceeded(run: Run, node: Node, output: string, encoding: Encoding, routerInput: string | null): void {
    const info = this.info(run, node.step);
    if (info === undefined) return;
    const s = info.step;
    if (s.map === true) {
      const split = splitItems(s.name, output, encoding);
      if ("error" in split) return this.endRun(run, "failed", { type: "UserError", message: `${split.error}${itemText(node.path)}`, attempt: 0 });
      // The reducers of this fan-out: their groups exist before any item can arrive.
      const stack = outputStack(s, info.fanOut).join("/");
      for (const other of run.graph?.steps.values() ?? []) {
        if (other.step.accumulate !== undefined && other.fanOut.join("/") === stack) this.openGroup(run, other, node.path, split.items.length);
      }
      for (const next of info.successors) split.items.forEach((item, k) => this.deliver(run, next, [...node.path, k], item, encoding));
      if (info.terminal && encoding === "pickle") return this.addOutput(run, node.step, node.path, pickleOutputB64(output), encoding);
    } else if (s.routes !== undefined) {
      const chosen = chosenRoutesOf(s.name, s.routes, output, encoding);
      if ("error" in chosen) return this.endRun(run, "failed", { type: "UserError", message: `${chosen.error}${itemText(node.path)}`, attempt: 0 });
      const input = routerInput ?? "null";
      for (const r of chosen.routes) this.deliver(run, r, node.path, input, encoding);
      return;
    } else {
      for (const next of s.next ?? []) this.deliver(run, next, node.path, output, encoding);
    }
    if (info.terminal) this.addOutput(run, node.step, node.path, output, encoding);
  }

  private addOutput(run: Run, step: string, path: ItemPath, value: string, encoding: Encoding): void {
    const out = { step, path, seq: run.seq++, value: encoding === "pickle" ? `pickle:${value}` : value };
    run.outputs.push(out);
    this.store.saveExtra("wf_values", valueKey(run, "out", out.seq), () => [valueKey(run, "out", out.seq), run.id, "out", step, 0, out.seq, pathKey(path), out.value]);
  }

  // ---- reducers --------------------------------------------------------------------------

  private openGroup(run: Run, info: StepInfo, path: ItemPath, count: number): void {
    const key = groupKey(info.step.name, path);
    if (run.groups.has(key)) return;
    const initial = info.step.accumulate?.initial;
    const g: Group = { key, step: info.step.name, path, count, next: 0, acc: JSON.stringify(initial ?? null), reducing: null, folded: 0, received: 0, arrivals: 0, done: false, values: new Map() };
    run.groups.set(key, g);
    this.addPending(run, path, 1);
    this.saveGroup(run, g);
  }

  /** Reduces what can be reduced in item order; emits the final value once every item settled. */
  private advance(run: Run, g: Group): void {
    while (!g.done && g.reducing === null && !isTerminal(run.status)) {
      if (g.next >= g.count) return this.finalize(run, g);
      const first = g.values.get(g.next)?.[0];
      if (first !== undefined) {
        const encoding = this.encodingOf(run, g.step);
        const batch = encoding === "json" ? this.foldBatch(run, g) : undefined;
        if (batch !== undefined) {
          // Several settled items at once: one task folds them in item order on the worker.
          const node = this.spawn(run, g.step, [...g.path, g.next + batch.items - 1], "reduce", `[${g.acc},[${batch.values.join(",")}]]`, "json", { fold: true });
          if (node === undefined) return;
          g.reducing = node.taskId;
          g.folded = batch.items;
          this.saveGroup(run, g);
          return;
        }
        const node = this.spawn(run, g.step, [...g.path, g.next], "reduce", reducerInput(g.acc, first.value, encoding), encoding);
        if (node === undefined) return;
        g.reducing = node.taskId;
        this.saveGroup(run, g);
        return;
      }
      // Nothing of this item is waiting here: it may still arrive, unless its subtree is done.
      if (this.pendingUnder(run, [...g.path, g.next]) > 0) return;
      g.next++;
      this.saveGroup(run, g);
    }
  }

  /**
   * Items from `g.next` on that have settled (every value they will bring is here), while the
   * reducer's workers can fold: worth one task when there are two values or more.
   */
  private foldBatch(run: Run, g: Group): { items: number; values: string[] } | undefined {
    const info = this.info(run, g.step);
    const fn = info === undefined ? undefined : this.o.registry.get(run.namespace, info.step.functionRef.name);
    if (fn === undefined || !this.engine.canFold(fn.namespace, fn.name)) return undefined;
    const values: string[] = [];
    let items = 0;
    for (let k = g.next; k < g.count && items < MAX_FOLD; k++) {
      if (this.pendingUnder(run, [...g.path, k]) > 0) break;
      for (const a of g.values.get(k) ?? []) values.push(a.value);
      items++;
    }
    return values.length >= 2 ? { items, values } : undefined;
  }

  private reduced(run: Run, node: Node, output: string): void {
    const g = [...run.groups.values()].find((x) => x.reducing === node.taskId);
    if (g === undefined) return;
    if (g.folded > 0) {
      for (let k = g.next; k < g.next + g.folded; k++) {
        for (const a of g.values.get(k) ?? []) this.store.saveExtra("wf_values", valueKey(run, "arr", a.seq), () => null);
        g.values.delete(k);
      }
      g.next += g.folded;
      g.folded = 0;
      g.acc = output;
      g.reducing = null;
      this.saveGroup(run, g);
      this.advance(run, g);
      return;
    }
    const item = node.path[node.path.length - 1] ?? 0;
    const list = g.values.get(item) ?? [];
    const first = list.shift();
    if (list.length === 0) g.values.delete(item);
    if (first !== undefined) this.store.saveExtra("wf_values", valueKey(run, "arr", first.seq), () => null);
    g.acc = output;
    g.reducing = null;
    this.saveGroup(run, g);
    this.advance(run, g);
  }

  private finalize(run: Run, g: Group): void {
    g.done = true;
    this.saveGroup(run, g);
    const info = this.info(run, g.step);
    if (info !== undefined && (g.received > 0 || g.count === 0)) {
      const encoding = this.encodingOf(run, g.step);
      const value = accValue(g.acc, encoding);
      for (const next of info.successors) this.deliver(run, next, g.path, value, encoding);
      if (info.terminal) this.addOutput(run, g.step, g.path, value, encoding);
    }
    this.addPending(run, g.path, -1);
    this.advanceAround(run, g.path);
  }

  /** Something under `path` settled: the open reducers above it may move on. */
  private advanceAround(run: Run, path: ItemPath): void {
    for (const g of [...run.groups.values()]) if (!g.done && isPrefix(g.path, path)) this.advance(run, g);
  }

  private addPending(run: Run, path: ItemPath, d: number): void {
    for (const p of prefixes(path)) {
      const k = pathKey(p);
      const n = (run.pending.get(k) ?? 0) + d;
      if (n === 0) run.pending.delete(k);
      else run.pending.set(k, n);
    }
  }

  private pendingUnder(run: Run, path: ItemPath): number {
    return run.pending.get(pathKey(path)) ?? 0;
  }

  // ---- the end of a run ------------------------------------------------------------------

  private maybeFinish(run: Run): void {
    if (isTerminal(run.status) || this.pendingUnder(run, []) > 0) return;
    const outputs = [...run.outputs].sort((a, b) => comparePaths(a.path, b.path) || a.seq - b.seq);
    const single = outputs.length === 1 ? outputs[0] : undefined;
    if (single !== undefined && single.value.startsWith("pickle:")) {
      run.output = single.value.slice(7);
      run.outputEncoding = "pickle";
    } else if (outputs.length > 1 && outputs.every((o) => o.value.startsWith("pickle:"))) {
      // Several pickled outputs: one pickle of {step: [values…]}, as the JSON shape would be.
      const by = new Map<string, Buffer[]>();
      for (const o of outputs) {
        let list = by.get(o.step);
        if (list === undefined) by.set(o.step, (list = []));
        list.push(Buffer.from(o.value.slice(7), "base64"));
      }
      run.output = pickleDictOfLists([...by]).toString("base64");
      run.outputEncoding = "pickle";
    } else {
      run.output = runOutput(outputs.map((o) => ({ step: o.step, value: o.value.startsWith("pickle:") ? JSON.stringify(o.value.slice(7)) : o.value })));
    }
    this.endRun(run, "succeeded", null);
  }

  private endRun(run: Run, status: "succeeded" | "failed" | "cancelled", error: TaskError | null): void {
    if (isTerminal(run.status)) return;
    run.status = status;
    run.error = error;
    run.finishedAt = this.o.clock.now();
    run.input = null;
    this.saveRun(run);
    // Whatever is still in flight has no run to report to.
    for (const node of run.nodes.values()) if (!isTerminal(node.status)) void this.engine.cancel(node.taskId);
    this.active.delete(run.id);
    this.recent.set(run.id, run);
    const limit = this.o.recentLimit ?? 1000;
    while (this.recent.size > limit) {
      const oldest = this.oldestRecent.next();
      if (oldest === undefined) break;
      this.recent.delete(oldest);
    }
    this.o.metrics?.runFinished(run.namespace, run.name, status, run.finishedAt - run.createdAt);
    this.o.log?.("workflow run finished", { run: run.id, workflow: `${run.namespace}/${run.name}`, status, error: error?.message });
    this.watchers.settle(run.id, run);
    this.emit(run.id, { type: "done", run });
  }

  private emit(id: string, ev: RunEvent): void {
    this.watchers.emit(id, ev);
  }

  // ---- rows ------------------------------------------------------------------------------

  private findByKey(namespace: string, name: string, key: string): Run | undefined {
    for (const r of this.active.values()) if (r.idempotencyKey === key && r.namespace === namespace && r.name === name) return r;
    for (const r of this.recent.values()) if (r.idempotencyKey === key && r.namespace === namespace && r.name === name) return r;
    const row = this.store.query("SELECT id FROM wf_runs WHERE namespace = ? AND name = ? AND idempotency_key = ?", namespace, name, key)[0];
    return row === undefined ? undefined : this.get(String(row["id"]));
  }

  private loadFinished(id: string): Run | undefined {
    if (!id.startsWith(RUN_PREFIX)) return undefined;
    const row = this.store.query("SELECT * FROM wf_runs WHERE id = ?", id)[0];
    return row === undefined ? undefined : runFromRow(row);
  }

  private saveRun(run: Run): void {
    this.store.saveExtra("wf_runs", run.id, () => [
      run.id,
      run.namespace,
      run.name,
      run.status,
      JSON.stringify(run.spec),
      run.input,
      run.encoding,
      run.output,
      run.error === null ? null : JSON.stringify(run.error),
      run.idempotencyKey,
      run.createdAt,
      run.finishedAt,
      JSON.stringify({ outputEncoding: run.outputEncoding }),
    ]);
  }

  private saveNode(run: Run, n: Node): void {
    this.store.saveExtra("wf_nodes", n.taskId, () => [n.taskId, run.id, n.step, pathKey(n.path), n.kind, n.status, n.seq, n.input]);
  }

  private saveGroup(run: Run, g: Group): void {
    const key = `${run.id}|${g.key}`;
    // A folding reduction is remembered with how many items it folds: `<task>|fold:<n>`.
    const reducing = g.reducing === null ? null : g.folded > 0 ? `${g.reducing}|fold:${g.folded}` : g.reducing;
    this.store.saveExtra("wf_groups", key, (): SqlValue[] => [key, run.id, g.step, pathKey(g.path), g.count, g.next, g.acc, reducing, g.received, g.arrivals, g.done ? 1 : 0]);
  }
}

function eventOf(status: TaskStatus): StepEventType {
  switch (status) {
    case "queued":
      return "queued";
    case "running":
      return "started";
    case "succeeded":
      return "finished";
    case "failed":
      return "failed";
    case "cancelled":
      return "cancelled";
  }
}

function groupKey(step: string, path: ItemPath): string {
  return `${step}@${pathKey(path)}`;
}

function valueKey(run: Run, kind: "arr" | "out", seq: number): string {
  return `${run.id}|${kind}|${seq}`;
}

/** Most items one folding reduction takes. */
const MAX_FOLD = 512;

function reducingOf(v: unknown): { reducing: string | null; folded: number } {
  if (typeof v !== "string") return { reducing: null, folded: 0 };
  const at = v.indexOf("|fold:");
  return at < 0 ? { reducing: v, folded: 0 } : { reducing: v.slice(0, at), folded: Number(v.slice(at + 6)) || 0 };
}

function itemText(path: ItemPath): string {
  return path.length === 0 ? "" : ` item [${path.join(", ")}]`;
}

function runFromRow(r: Record<string, SqlValue>): Run {
  const doc = typeof r["doc"] === "string" ? (JSON.parse(r["doc"]) as { outputEncoding?: Encoding }) : {};
  return {
    id: String(r["id"]),
    namespace: String(r["namespace"]),
    name: String(r["name"]),
    status: String(r["status"]) as TaskStatus,
    spec: JSON.parse(String(r["spec"])) as WorkflowSpec,
    graph: undefined,
    encoding: r["encoding"] === "pickle" ? "pickle" : "json",
    input: typeof r["input"] === "string" ? r["input"] : null,
    output: typeof r["output"] === "string" ? r["output"] : null,
    outputEncoding: doc.outputEncoding ?? "json",
    error: typeof r["error"] === "string" ? (JSON.parse(r["error"]) as TaskError) : null,
    idempotencyKey: typeof r["idempotency_key"] === "string" ? r["idempotency_key"] : null,
    createdAt: Number(r["created_at"]),
    finishedAt: typeof r["finished_at"] === "number" ? r["finished_at"] : null,
    nodes: new Map(),
    groups: new Map(),
    pending: new Map(),
    outputs: [],
    seq: 0,
    watches: new Map(),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The run document of `GET /v1/tasks/{run}`: a task document with `kind: "workflow"`. */
export function renderRun(run: Run, steps: Record<string, Partial<Record<TaskStatus, number>>>): string {
  const doc: Record<string, unknown> = {
    id: run.id,
    kind: "workflow",
    workflow: { namespace: run.namespace, name: run.name },
    status: run.status,
    attempts: 1,
    createdAt: iso(run.createdAt),
    startedAt: iso(run.createdAt),
  };
  if (run.finishedAt !== null) doc["finishedAt"] = iso(run.finishedAt);
  if (run.error !== null) doc["error"] = run.error;
  doc["steps"] = steps;
  if (run.status === "succeeded" && run.output !== null && run.outputEncoding === "pickle") doc["outputB64"] = run.output;
  const text = JSON.stringify(doc);
  if (run.status === "succeeded" && run.output !== null && run.outputEncoding === "json") return `${text.slice(0, -1)},"output":${run.output}}`;
  return text;
}
