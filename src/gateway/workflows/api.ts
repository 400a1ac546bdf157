// The workflow half of the caller API (docs/workflows.md): `…/workflows/{name}:run|:push`, and
// the run read, cancelled, paged and streamed like a task under `/v1/tasks/{run}`. server.ts
// routes here; errors are HttpErrors its guard answers.
import type { IncomingMessage, ServerResponse } from "node:http";
import { httpStatusOfTaskError, isTerminal, parseDuration, PICKLE_CONTENT_TYPE } from "../../protocol/index.ts";
import type { Authorizer } from "../authz.ts";
import { HttpError, queryOf, readBody, whileConnected } from "../http.ts";
import type { FunctionRegistry } from "../registry.ts";
import { decodeInput } from "../inputs.ts";
import type { TaskStore } from "../store.ts";
import { renderRun, type Run, type WorkflowExecutor } from "./executor.ts";
import type { WorkflowRegistry } from "./registry.ts";
import { every, SystemClock, type Clock } from "../../kube/clock.ts";

export interface WorkflowApiOptions {
  executor: WorkflowExecutor;
  workflows: WorkflowRegistry;
  functions: FunctionRegistry;
  store: TaskStore;
  /** The one caller check (seam 1): throws HttpError 401/403. */
  authz: Pick<Authorizer, "authorize" | "authenticate">;
  reply: (res: ServerResponse, status: number, body: string | Buffer, contentType?: string, headers?: Record<string, string>) => void;
  limits: { maxInputBytes: number; runWaitMs: number; maxWaitMs: number };
  /** The events stream's pings run on it. Default: the system clock. */
  clock?: Clock;
}

const SSE_PING_MS = 15_000;

export class WorkflowApi {
  private readonly o: WorkflowApiOptions;

  constructor(opts: WorkflowApiOptions) {
    this.o = opts;
  }

  async invoke(req: IncomingMessage, res: ServerResponse, ns: string, name: string, kind: "run" | "push", url: string): Promise<void> {
    await this.o.authz.authorize(req, { verb: "invoke", resource: "workflows", namespace: ns, name });
    const wf = this.o.workflows.get(ns, name);
    if (wf === undefined) throw new HttpError(404, "NotFound", `workflow ${ns}/${name} not found`);
    if (wf.graph === undefined || wf.issues.length > 0) {
      throw new HttpError(409, "NotReady", `workflow ${ns}/${name} cannot run: ${wf.issues.map((i) => i.message).join("; ")}`);
    }
    const startStep = wf.graph.steps.get(wf.graph.start)?.step;
    const startFn = startStep === undefined ? undefined : this.o.functions.get(ns, startStep.functionRef.name);
    if (startFn === undefined) throw new HttpError(409, "NotReady", `workflow ${ns}/${name}: the start step's function ${ns}/${startStep?.functionRef.name ?? "?"} not found`);
    const query = queryOf(url);
    let wait = this.o.limits.runWaitMs;
    if (kind === "run" && query.has("timeout")) wait = this.duration(query.get("timeout") ?? "", "timeout");
    const body = await readBody(req, this.o.limits.maxInputBytes);
    const { input, encoding } = decodeInput(body, req.headers["content-type"], startFn);
    const keyHeader = req.headers["idempotency-key"];
    const key = typeof keyHeader === "string" && keyHeader !== "" ? keyHeader.slice(0, 256) : undefined;
    const { run, repeat } = this.o.executor.start(wf, input, encoding, key);
    const idHeader = { "hearth-task-id": run.id };
    if (kind === "push") {
      try {
        await this.o.store.committed();
      } catch {
        throw new HttpError(503, "Unavailable", "the task store could not commit the run; it was not accepted");
      }
      this.o.reply(res, repeat ? 200 : 202, JSON.stringify({ id: run.id, status: run.status }), "application/json", idHeader);
      return;
    }
    const waited = await whileConnected(res, (signal) => this.o.executor.waitForTerminal(run.id, wait, signal));
    if (waited.closed) return;
    const done = waited.value;
    if (done === undefined) {
      throw new HttpError(504, "Timeout", `run ${run.id} did not finish within ${wait} ms; it is still running: poll GET /v1/tasks/${run.id}`, { taskId: run.id });
    }
    this.sendOutcome(res, done, idHeader);
  }

  private sendOutcome(res: ServerResponse, run: Run, headers: Record<string, string>): void {
    if (run.status === "succeeded") {
      if (run.outputEncoding === "pickle") this.o.reply(res, 200, Buffer.from(run.output ?? "", "base64"), PICKLE_CONTENT_TYPE, headers);
      else this.o.reply(res, 200, run.output ?? "null", "application/json", headers);
      return;
    }
    const error = run.error ?? { type: "UserError" as const, message: "the run failed" };
    this.o.reply(res, httpStatusOfTaskError(error.type), JSON.stringify({ error: { ...error, taskId: run.id } }), "application/json", headers);
  }

  private duration(text: string, what: string): number {
    const ms = parseDuration(text);
    if (ms === undefined) throw new HttpError(400, "BadRequest", `${what} must be a duration such as 30s or 1500ms, got ${JSON.stringify(text)}`);
    return Math.min(ms, this.o.limits.maxWaitMs);
  }

  private async runOf(req: IncomingMessage, id: string, verb: "get" | "cancel"): Promise<Run> {
    await this.o.authz.authenticate(req);
    const run = this.o.executor.get(id);
    if (run === undefined) throw new HttpError(404, "NotFound", `run ${id} not found`);
    await this.o.authz.authorize(req, { verb, resource: "workflows", namespace: run.namespace, name: run.name });
    return run;
  }

  private render(run: Run): string {
    return renderRun(run, this.o.executor.stepCounts(run));
  }

  /** `/v1/tasks/{run}[/steps/{step}|/events]`; false when the path is none of these. */
  async task(req: IncomingMessage, res: ServerResponse, id: string, rest: string[], method: string, url: string): Promise<boolean> {
    if (rest.length === 0 && method === "GET") {
      let run = await this.runOf(req, id, "get");
      const waitText = queryOf(url).get("wait");
      if (waitText !== undefined && !isTerminal(run.status)) {
        const wait = this.duration(waitText, "wait");
        const waited = await whileConnected(res, (signal) => this.o.executor.waitForTerminal(id, wait, signal));
        if (waited.closed) return true;
        run = waited.value ?? run;
      }
      this.o.reply(res, 200, this.render(run));
      return true;
    }
    if (rest.length === 0 && method === "DELETE") {
      await this.runOf(req, id, "cancel");
      const run = this.o.executor.cancel(id);
      if (run === undefined) throw new HttpError(404, "NotFound", `run ${id} not found`);
      await this.o.store.committed().catch(() => undefined);
      this.o.reply(res, 200, this.render(run));
      return true;
    }
    if (rest.length === 2 && rest[0] === "steps" && method === "GET") {
      const run = await this.runOf(req, id, "get");
      const step = rest[1] ?? "";
      if (!run.spec.steps.some((s) => s.name === step)) throw new HttpError(404, "NotFound", `workflow ${run.namespace}/${run.name} has no step ${JSON.stringify(step)}`);
      const q = queryOf(url);
      const limit = intParam(q.get("limit"), 100, 1, 1000, "limit");
      const after = intParam(q.get("after"), 0, 0, Number.MAX_SAFE_INTEGER, "after");
      const page = await this.o.executor.steps(id, step, after, limit);
      if (page === undefined) throw new HttpError(404, "NotFound", `run ${id} not found`);
      const items = page.items.map((it) => {
        const { output, ...restOf } = it;
        const text = JSON.stringify(restOf);
        return output === undefined ? text : `${text.slice(0, -1)},"output":${output}}`;
      });
      this.o.reply(res, 200, `{"step":${JSON.stringify(step)},"items":[${items.join(",")}]${page.next === undefined ? "" : `,"next":${JSON.stringify(page.next)}`}}`);
      return true;
    }
    if (rest.length === 1 && rest[0] === "events" && method === "GET") {
      const run = await this.runOf(req, id, "get");
      this.events(res, run);
      return true;
    }
    return false;
  }

  private events(res: ServerResponse, run: Run): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
    const write = (event: string, data: string): void => {
      if (!res.destroyed) res.write(`event: ${event}\ndata: ${data}\n\n`);
    };
    // A late subscriber first gets where every step execution stands.
    for (const ev of this.o.executor.replay(run)) write("step", JSON.stringify(ev));
    if (isTerminal(run.status)) {
      write("done", this.render(run));
      res.end();
      return;
    }
    write("status", this.render(run));
    const ping = every(this.o.clock ?? new SystemClock(), SSE_PING_MS, () => {
      if (!res.destroyed) res.write(": ping\n\n");
    });
    const unsubscribe = this.o.executor.subscribe(run.id, (ev) => {
      if (ev.type === "step") {
        write("step", JSON.stringify(ev.step));
        return;
      }
      write("done", this.render(ev.run));
      cleanup();
      res.end();
    });
    const cleanup = (): void => {
      ping.cancel();
      unsubscribe();
    };
    res.on("close", cleanup);
  }
}

function intParam(v: string | undefined, def: number, low: number, high: number, what: string): number {
  if (v === undefined || v === "") return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < low || n > high) throw new HttpError(400, "BadRequest", `${what} must be an integer between ${low} and ${high}, got ${JSON.stringify(v)}`);
  return n;
}
