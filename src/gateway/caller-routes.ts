// The caller side of the gateway's HTTP API (docs/protocol.md "Caller API"): run, push,
// pushMany, task documents, events, cancel, stats, setup summaries and the demand stream. Each
// method answers one route of server.ts's table; authorization comes before any body is read.
import type { IncomingMessage, ServerResponse } from "node:http";
import { httpStatusOfTaskError, isTerminal, parseDuration, PICKLE_CONTENT_TYPE, type AllStats } from "../protocol/index.ts";
import { every } from "../kube/clock.ts";
import type { AccessRequest, Caller } from "./authz.ts";
import { DEFAULT_MAX_CALL_DEPTH, parentOf } from "./calls.ts";
import type { DemandHub } from "./demand.ts";
import { HttpError, parseJsonObject, queryOf, readBody, whileConnected } from "./http.ts";
import { decodeInput } from "./inputs.ts";
import type { FunctionSettings } from "./registry.ts";
import { RoutesBase } from "./route-context.ts";
import { idempotencyKeyOf, taskOverridesOf } from "./task-options.ts";
import { renderTask, type Task } from "./tasks.ts";
import { pickleOutputB64 } from "./workflows/values.ts";
import { hop } from "../trace/hops.ts";

const SSE_PING_MS = 15_000;
/** Short: the operator holds its pools when the stream goes silent for 3 pings. */
export const DEMAND_PING_MS = 5_000;

export class CallerRoutes extends RoutesBase {
  private authorize(req: IncomingMessage, access: AccessRequest): Promise<Caller> {
    return this.o.authz.authorize(req, access);
  }

  /** The task a caller asks about, after checking they may `verb` it (401 before 404, 403 after). */
  private async callerTask(req: IncomingMessage, id: string, verb: "get" | "cancel"): Promise<Task> {
    await this.o.authz.authenticate(req);
    const task = this.o.engine.get(id);
    if (task === undefined) throw new HttpError(404, "NotFound", `task ${id} not found`);
    await this.authorize(req, { verb, resource: "tasks", namespace: task.namespace, name: task.name });
    return task;
  }

  /** The function a caller may queue work for: known, warm, not broken. */
  private servable(ns: string, name: string): FunctionSettings {
    const fn = this.functionOf(ns, name);
    if (fn.deleting === true) throw new HttpError(404, "NotFound", `function ${ns}/${name} is being deleted`);
    if (fn.invocation === "isolated") {
      if (this.o.isolated === undefined) {
        throw new HttpError(409, "NotReady", `function ${ns}/${name} has invocation: isolated, and this gateway does not watch a cluster (--functions), so it cannot run calls as Jobs (create a hearth.dev Job to invoke it)`);
      }
      return fn;
    }
    const degraded = this.o.engine.degraded(ns, name);
    if (degraded !== undefined) throw new HttpError(409, "NotReady", `function ${ns}/${name} cannot serve: its workers report ${degraded.type}: ${degraded.message}`);
    return fn;
  }

  /** Many JSON inputs in one request: `{"inputs":[…]}` → `202 {"ids":[…]}`, all durable. */
  async pushMany(req: IncomingMessage, res: ServerResponse, ns: string, name: string): Promise<void> {
    const caller = await this.authorize(req, { verb: "invoke", resource: "functions", namespace: ns, name });
    const fn = this.servable(ns, name);
    const parent = parentOf(caller, this.o.maxCallDepth ?? DEFAULT_MAX_CALL_DEPTH, `${ns}/${name}`);
    if (fn.encoding !== "json") throw new HttpError(400, "BadRequest", `:pushMany takes JSON inputs; function ${ns}/${name} uses encoding ${fn.encoding}`);
    const body = parseJsonObject(await readBody(req, this.limits.maxInputBytes * 4));
    const inputs = body["inputs"];
    if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > this.limits.maxLeaseBatch * 40) {
      throw new HttpError(400, "BadRequest", `"inputs" must be a non-empty array of at most ${this.limits.maxLeaseBatch * 40} inputs`);
    }
    const texts = inputs.map((v, i) => {
      const text = JSON.stringify(v === undefined ? null : v);
      if (Buffer.byteLength(text) > this.limits.maxInputBytes) throw new HttpError(413, "TooLarge", `input ${i} is over ${this.limits.maxInputBytes} bytes`);
      return text;
    });
    const cache = this.o.cache;
    const ids = fn.cache !== undefined && cache !== undefined ? await Promise.all(texts.map(async (t) => (await cache.submit(fn, t, "json", { parent })).task.id)) : await this.o.engine.submitMany(fn, texts, { parent });
    const isolated = this.o.isolated;
    if (isolated !== undefined && fn.invocation === "isolated") {
      const tasks = ids.flatMap((id) => this.o.engine.get(id) ?? []).filter((t) => t.cached !== true);
      await Promise.all(tasks.map((t) => isolated.dispatch(t)));
    }
    this.reply(res, "pushMany", 202, JSON.stringify({ ids }));
  }

  async invoke(req: IncomingMessage, res: ServerResponse, ns: string, name: string, kind: "run" | "push", url: string): Promise<void> {
    hop("g.req");
    const caller = await this.authorize(req, { verb: "invoke", resource: "functions", namespace: ns, name });
    const fn = this.servable(ns, name);
    const parent = parentOf(caller, this.o.maxCallDepth ?? DEFAULT_MAX_CALL_DEPTH, `${ns}/${name}`);
    const query = queryOf(url);
    let wait = this.limits.runWaitMs;
    if (kind === "run" && query.has("timeout")) wait = this.duration(query.get("timeout") ?? "", "timeout");
    const idempotencyKey = idempotencyKeyOf(req.headers["idempotency-key"]);
    const overrides = taskOverridesOf(query, fn);
    const body = await readBody(req, this.limits.maxInputBytes);
    const { input, encoding } = decodeInput(body, req.headers["content-type"], fn);
    // :push resolves once the task is durable (a failed commit is a 503 and the task never runs);
    // :run is dispatched at once and its row commits with its outcome (engine dispatchAtOnce).
    const opts = { idempotencyKey, parent, ...overrides, dispatchAtOnce: kind === "run" };
    const { task, repeat } = await (this.o.cache?.submit(fn, input, encoding, opts) ?? this.o.engine.submit(fn, input, encoding, opts));
    if (task.isolated === true && task.cached !== true && !repeat) await this.o.isolated?.dispatch(task);
    const idHeader = { "hearth-task-id": task.id };
    if (kind === "push") {
      this.reply(res, "push", repeat ? 200 : 202, JSON.stringify({ id: task.id, status: task.status }), "application/json", idHeader);
      return;
    }
    const waited = await whileConnected(res, (signal) => this.o.engine.waitForTerminal(task.id, wait, signal));
    if (waited.closed) return;
    const done = waited.value;
    if (done === undefined) {
      throw new HttpError(504, "Timeout", `task ${task.id} did not finish within ${wait} ms; it is still ${this.o.engine.get(task.id)?.status ?? "unknown"}: poll GET /v1/tasks/${task.id}`, { taskId: task.id });
    }
    this.sendOutcome(res, done, idHeader);
  }

  private sendOutcome(res: ServerResponse, task: Task, headers: Record<string, string>): void {
    hop("g.reply");
    if (task.status === "succeeded") {
      if (task.encoding === "pickle") this.reply(res, "run", 200, Buffer.from(pickleOutputB64(task.output ?? ""), "base64"), PICKLE_CONTENT_TYPE, headers);
      else this.reply(res, "run", 200, task.output ?? "null", "application/json", headers);
      return;
    }
    const error = task.error ?? { type: "UserError" as const, message: "the task failed" };
    this.reply(res, "run", httpStatusOfTaskError(error.type), JSON.stringify({ error: { ...error, taskId: task.id } }), "application/json", headers);
  }

  private duration(text: string, what: string): number {
    const ms = parseDuration(text);
    if (ms === undefined) throw new HttpError(400, "BadRequest", `${what} must be a duration such as 30s or 1500ms, got ${JSON.stringify(text)}`);
    return Math.min(ms, this.limits.maxWaitMs);
  }

  async getTask(req: IncomingMessage, res: ServerResponse, id: string, url: string): Promise<void> {
    let task = await this.callerTask(req, id, "get");
    const waitText = queryOf(url).get("wait");
    if (waitText !== undefined && !isTerminal(task.status)) {
      const wait = this.duration(waitText, "wait");
      const waited = await whileConnected(res, (signal) => this.o.engine.waitForTerminal(id, wait, signal));
      if (waited.closed) return;
      task = waited.value ?? this.o.engine.get(id) ?? task;
    }
    this.reply(res, "get", 200, renderTask(task));
  }

  async cancelTask(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    await this.callerTask(req, id, "cancel");
    const task = await this.o.engine.cancel(id);
    if (task === undefined) throw new HttpError(404, "NotFound", `task ${id} not found`);
    if (task.isolated === true) this.o.isolated?.taskEnded(task);
    this.reply(res, "cancel", 200, renderTask(task));
  }

  async events(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const task = await this.callerTask(req, id, "get");
    this.count("events", 200);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
    const write = (event: string, data: string): void => {
      if (!res.destroyed) res.write(`event: ${event}\ndata: ${data}\n\n`);
    };
    if (isTerminal(task.status)) {
      write("done", renderTask(task));
      res.end();
      return;
    }
    write("status", renderTask(task));
    const ping = every(this.timers, SSE_PING_MS, () => {
      if (!res.destroyed) res.write(": ping\n\n");
    });
    const unsubscribe = this.o.engine.subscribe(id, (ev) => {
      switch (ev.type) {
        case "progress":
          write("progress", JSON.stringify(ev.progress));
          return;
        case "status":
          write("status", renderTask(ev.task));
          return;
        case "done":
          write("done", renderTask(ev.task));
          cleanup();
          res.end();
          return;
      }
    });
    const cleanup = (): void => {
      ping.cancel();
      unsubscribe();
    };
    res.on("close", cleanup);
  }

  /**
   * The demand stream for the operator's autoscaler: a `snapshot` event with every Function the
   * gateway has a queue for, then a `demand` event with the Functions that changed, as they change.
   */
  async demandStream(req: IncomingMessage, res: ServerResponse, hub: DemandHub): Promise<void> {
    // Every namespace's demand: the operator's token (list functions in all namespaces).
    await this.authorize(req, { verb: "list", resource: "functions", namespace: "" });
    this.count("demand", 200);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
    res.socket?.setNoDelay(true);
    const write = (event: string, functions: unknown[]): void => {
      if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify({ functions })}\n\n`);
    };
    write("snapshot", hub.snapshot());
    const unsubscribe = hub.subscribe((changed) => write("demand", changed));
    // Pings keep proxies from closing an idle stream and let the operator tell a dead one.
    const ping = every(this.timers, DEMAND_PING_MS, () => {
      if (!res.destroyed) res.write(": ping\n\n");
    });
    res.on("close", () => {
      ping.cancel();
      unsubscribe();
    });
  }

  /** Every function's stats in one answer: the operator polls this for Function status. */
  async allStats(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Everyone authenticated may ask; each sees the namespaces they may list.
    const caller = await this.o.authz.authenticate(req);
    const visible = new Map<string, Promise<boolean>>();
    const may = (namespace: string): Promise<boolean> => {
      let p = visible.get(namespace);
      if (p === undefined) {
        p = this.o.authz.permits(caller, { verb: "list", resource: "functions", namespace });
        visible.set(namespace, p);
      }
      return p;
    };
    const all = this.o.engine.allStats();
    const shown = await Promise.all(all.map(({ namespace }) => may(namespace)));
    const answer: AllStats = { functions: all.filter((_, i) => shown[i] === true).map(({ namespace, name, stats }) => ({ namespace, name, ...stats })) };
    this.reply(res, "allStats", 200, JSON.stringify(answer));
  }

  /** Every function's setup summary: the operator's leader copies it into Function status. */
  async setupSummaries(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const caller = await this.o.authz.authenticate(req);
    // signatureKnown rides along (src/gateway/signatures.ts): status.setup.signatureKnown.
    const all = (this.o.setup?.summaries() ?? []).map((s) => ({ ...s, signatureKnown: this.o.signatures?.get(s.namespace, s.name)?.signature !== undefined }));
    const shown = await Promise.all(all.map(({ namespace }) => this.o.authz.permits(caller, { verb: "list", resource: "functions", namespace })));
    this.reply(res, "setup", 200, JSON.stringify({ functions: all.filter((_, i) => shown[i] === true) }));
  }

  async stats(req: IncomingMessage, res: ServerResponse, ns: string, name: string): Promise<void> {
    await this.authorize(req, { verb: "get", resource: "functions", namespace: ns, name });
    this.functionOf(ns, name);
    this.reply(res, "stats", 200, JSON.stringify(this.o.engine.stats(ns, name)));
  }

  async cancelFunction(req: IncomingMessage, res: ServerResponse, ns: string, name: string): Promise<void> {
    // The operator cleans a deleted Function's queue with that Function's worker token (it holds
    // the signing key) or with a caller token.
    if (this.o.auth.workersOpen || !this.o.auth.worker(req.headers.authorization, ns, name)) {
      await this.authorize(req, { verb: "cancel", resource: "functions", namespace: ns, name });
    }
    const cancelled = await this.o.engine.cancelFunction(ns, name);
    this.o.isolated?.functionCancelled(ns, name);
    this.reply(res, "cancelFunction", 200, JSON.stringify({ cancelled }));
  }
}
