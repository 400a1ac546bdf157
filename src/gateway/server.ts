// The gateway's HTTP API (docs/protocol.md): the caller side (run, push, task documents, events,
// cancel, stats) and the worker side (lease, heartbeat, progress, complete, fail), plus
// /metrics, /healthz and /readyz. Bare node:http: the hot path is a few microseconds of routing.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { httpStatusOfTaskError, isExitErrorType, isTerminal, isWorkerState, parseDuration, PICKLE_CONTENT_TYPE, type AllStats, type Encoding, type ExitErrorType } from "../protocol/index.ts";
import type { Authenticator } from "./auth.ts";
import type { AccessRequest, Authorizer, Caller } from "./authz.ts";
import type { ConsoleApi } from "./console-api.ts";
import type { DemandHub } from "./demand.ts";
import { errorJson, HttpError, int, parseJsonObject, queryOf, readBody, send, sendError, statusOf, str } from "./http.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { tokenMatches } from "./metrics-server.ts";
import { parseSetupReport, type SetupTracker } from "./setup.ts";
import type { IsolatedCallsPort } from "./isolated/calls.ts";
import type { FunctionRegistry, FunctionSettings } from "./registry.ts";
import type { SignatureBook } from "./signatures.ts";
import type { TaskStore } from "./store.ts";
import { idempotencyKeyOf, taskOverridesOf } from "./task-options.ts";
import { EngineError, renderTask, type LeaseGrant, type Task, type TaskEngine } from "./tasks.ts";
import type { ResultCache } from "./cache.ts";
import { DEFAULT_MAX_CALL_DEPTH, parentOf } from "./calls.ts";
import { WorkflowApi, type WorkflowApiOptions } from "./workflows/api.ts";
import { RUN_PREFIX } from "./workflows/executor.ts";
import { pickleOutputB64 } from "./workflows/values.ts";
import { serveChannel } from "./worker-channel.ts";
import { every, SystemClock, type Clock } from "../kube/clock.ts";

export interface GatewayLimits {
  /** Largest task input accepted. Default 10 MiB. */
  maxInputBytes: number;
  /** Largest task output accepted from a worker. Default 10 MiB. */
  maxOutputBytes: number;
  /** `:run` waits this long by default before 504 (`?timeout=` may ask for less or more, up to maxWaitMs). Default 60 s. */
  runWaitMs: number;
  /** Cap of `?timeout=`, `?wait=` and lease `waitMs`. Default 5 min (leases 60 s). */
  maxWaitMs: number;
  maxLeaseWaitMs: number;
  /** Most tasks one lease call may take. Default 256. */
  maxLeaseBatch: number;
  /** A client must send its request headers within this. Default 20 s. */
  headersTimeoutMs: number;
  /** A client must send its whole request (headers and body) within this. Default 2 min. */
  requestTimeoutMs: number;
  /** Open connections at most; more are refused. Default 10,000. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxInputBytes: 10 * 1024 * 1024,
  maxOutputBytes: 10 * 1024 * 1024,
  runWaitMs: 60_000,
  maxWaitMs: 300_000,
  maxLeaseWaitMs: 60_000,
  maxLeaseBatch: 256,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  maxConnections: 10_000,
};

export interface GatewayServerOptions {
  engine: TaskEngine;
  /** The demand stream (GET /v1/demand); absent: 404. */
  demand?: DemandHub;
  registry: FunctionRegistry;
  store: TaskStore;
  auth: Authenticator;
  /** Caller authorization (seam 1): every caller route asks it before reading a body. */
  authz: Authorizer;
  metrics: GatewayMetrics;
  promRegistry: Registry;
  log: Logger;
  limits?: Partial<GatewayLimits>;
  /** /readyz: false until the registry has synced; until then Function routes answer 503. */
  ready: () => boolean;
  /** Workers' setup reports (GET /v1/setup); absent: heartbeats' `setup` is ignored. */
  setup?: SetupTracker;
  /** The result cache of cacheable Functions; absent = every call runs. */
  cache?: ResultCache | undefined;
  /** Workflow runs (src/gateway/workflows/); absent = no workflow routes. */
  workflows?: Pick<WorkflowApiOptions, "executor" | "workflows"> | undefined;
  /** Handler signatures reported in heartbeats (src/gateway/signatures.ts). */
  signatures?: SignatureBook;
  /** The console and its read-only API: asked for every request no route above answered. */
  console?: ConsoleApi;
  /** Runs calls to `invocation: isolated` Functions as Jobs; absent: such calls answer 409. */
  isolated?: IsolatedCallsPort | undefined;
  /** /metrics names every Function: "open", "off" (served on another port), or bearer tokens it requires. */
  metricsAccess?: MetricsAccess;
  clock?: Clock;
  /** Most handler calls deep a task may be (src/gateway/calls.ts). Default 8. */
  maxCallDepth?: number | undefined;
}

export type MetricsAccess = "open" | "off" | { tokens: readonly string[] };

type Route = "demand" | "workflow" | "setup" | "run" | "push" | "pushMany" | "get" | "events" | "cancel" | "stats" | "allStats" | "cancelFunction" | "lease" | "channel" | "heartbeat" | "results" | "progress" | "complete" | "fail" | "claim" | "metrics" | "health" | "console" | "other";

const MAX_MESSAGE = 64 * 1024;
const SSE_PING_MS = 15_000;
/** Short: the operator holds its pools when the stream goes silent for 3 pings. */
export const DEMAND_PING_MS = 5_000;

export class GatewayServer {
  private readonly o: GatewayServerOptions;
  private readonly limits: GatewayLimits;
  /** Timers of long-lived streams (worker channels). */
  private readonly timers: Clock;
  private readonly workflows: WorkflowApi | undefined;
  readonly server: Server;

  constructor(opts: GatewayServerOptions) {
    this.o = opts;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.timers = opts.clock ?? new SystemClock();
    this.workflows =
      opts.workflows === undefined
        ? undefined
        : new WorkflowApi({
            ...opts.workflows,
            functions: opts.registry,
            store: opts.store,
            authz: opts.authz,
            reply: (res, status, body, contentType, headers) => this.reply(res, "workflow", status, body, contentType, headers),
            limits: this.limits,
          });
    // Node checks the header/request timeouts on this interval (default 30 s): check often
    // enough that the timeouts mean what they say.
    const checkMs = Math.max(100, Math.min(5000, Math.floor(Math.min(this.limits.headersTimeoutMs, this.limits.requestTimeoutMs || Infinity) / 4)));
    this.server = createServer({ connectionsCheckingInterval: checkMs }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, "other", err));
    });
    // Callers and workers keep connections open between calls; long polls hold them for minutes
    // (requestTimeout bounds receiving the request only, not the wait for its answer). Slow or
    // endless unauthenticated uploads are cut off by the header/request timeouts and the
    // connection limit.
    this.server.keepAliveTimeout = 75_000;
    this.server.headersTimeout = this.limits.headersTimeoutMs;
    this.server.requestTimeout = this.limits.requestTimeoutMs;
    this.server.maxConnections = this.limits.maxConnections;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        const addr = this.server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private count(route: Route, code: number): void {
    this.o.metrics.requests.inc({ route, code: String(code) });
  }

  private reply(res: ServerResponse, route: Route, status: number, body: string | Buffer, contentType?: string, headers?: Record<string, string>): void {
    this.count(route, status);
    send(res, status, body, contentType, headers);
  }

  private fail(res: ServerResponse, route: Route, err: unknown, headers: Record<string, string> = {}): void {
    let e: HttpError;
    if (err instanceof HttpError) e = err;
    else if (err instanceof EngineError) e = new HttpError(statusOf(err.type), err.type, err.message);
    else {
      this.o.log.error({ err, route }, "request failed");
      e = new HttpError(500, "Internal", "internal error (see the gateway's log)");
    }
    this.count(route, e.status);
    if (e.status === 503) headers = { "retry-after": "1", ...headers };
    // A body we stopped reading must not be parsed as the next request.
    sendError(res, e, e.status === 413 ? { ...headers, connection: "close" } : headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    const segs = path.split("/");
    // segs[0] is "" (leading slash).
    if (segs[1] === "v1") {
      if (segs[2] === "stats" && segs.length === 3 && method === "GET") return this.guard(res, "allStats", () => this.allStats(req, res));
      if (segs[2] === "setup" && segs.length === 3 && method === "GET") return this.guard(res, "setup", () => this.setupSummaries(req, res));
      if (segs[2] === "demand" && segs.length === 3 && method === "GET" && this.o.demand !== undefined) {
        const hub = this.o.demand;
        return this.guard(res, "demand", () => this.demandStream(req, res, hub));
      }
      if (segs[2] === "workers" && segs.length === 4 && method === "POST") {
        if (segs[3] === "lease") return this.guard(res, "lease", () => this.lease(req, res));
        if (segs[3] === "channel") return this.guard(res, "channel", () => this.channel(req, res, url));
        if (segs[3] === "heartbeat") return this.guard(res, "heartbeat", () => this.heartbeat(req, res));
        if (segs[3] === "results") return this.guard(res, "results", () => this.results(req, res));
      }
      const wf = this.workflows;
      if (wf !== undefined && segs[2] === "tasks" && segs[3]?.startsWith(RUN_PREFIX) === true) {
        const id = segment(segs[3]);
        return this.guard(res, "workflow", async () => {
          if (!(await wf.task(req, res, id, segs.slice(4).map(segment), method, url))) this.reply(res, "other", 404, errorJson("NotFound", `no route for ${method} ${path}`));
        });
      }
      if (wf !== undefined && segs[2] === "namespaces" && segs[4] === "workflows" && segs[3] !== undefined && segs[5] !== undefined && segs.length === 6 && method === "POST") {
        const ns = segment(segs[3]);
        const last = segment(segs[5]);
        if (last.endsWith(":run")) return this.guard(res, "workflow", () => wf.invoke(req, res, ns, last.slice(0, -4), "run", url));
        if (last.endsWith(":push")) return this.guard(res, "workflow", () => wf.invoke(req, res, ns, last.slice(0, -5), "push", url));
      }
      if (segs[2] === "tasks" && segs[3] !== undefined && segs[3] !== "") {
        const id = segment(segs[3]);
        if (segs.length === 4) {
          if (method === "GET") return this.guard(res, "get", () => this.getTask(req, res, id, url));
          if (method === "DELETE") return this.guard(res, "cancel", () => this.cancelTask(req, res, id));
        }
        if (segs.length === 5) {
          const action = segs[4];
          if (method === "GET" && action === "events") return this.guard(res, "events", () => this.events(req, res, id));
          if (method === "POST" && action === "progress") return this.guard(res, "progress", () => this.progress(req, res, id));
          if (method === "POST" && action === "complete") return this.guard(res, "complete", () => this.complete(req, res, id));
          if (method === "POST" && action === "fail") return this.guard(res, "fail", () => this.failTask(req, res, id));
          if (method === "POST" && action === "claim") return this.guard(res, "claim", () => this.claim(req, res, id));
        }
      }
      if (segs[2] === "namespaces" && segs[4] === "functions" && segs[3] !== undefined && segs[5] !== undefined) {
        const ns = segment(segs[3]);
        const last = segment(segs[5]);
        if (segs.length === 6 && method === "POST") {
          if (last.endsWith(":run")) return this.guard(res, "run", () => this.invoke(req, res, ns, last.slice(0, -4), "run", url));
          if (last.endsWith(":push")) return this.guard(res, "push", () => this.invoke(req, res, ns, last.slice(0, -5), "push", url));
          if (last.endsWith(":pushMany")) return this.guard(res, "pushMany", () => this.pushMany(req, res, ns, last.slice(0, -9)));
        }
        if (segs.length === 7 && segs[6] === "stats" && method === "GET") return this.guard(res, "stats", () => this.stats(req, res, ns, last));
        if (segs.length === 7 && segs[6] === "tasks" && method === "DELETE") return this.guard(res, "cancelFunction", () => this.cancelFunction(req, res, ns, last));
      }
    } else if (path === "/metrics" && method === "GET" && this.o.metricsAccess !== "off") {
      return this.guard(res, "metrics", () => this.metrics(req, res));
    } else if (path === "/healthz") {
      return this.reply(res, "health", 200, "ok\n", "text/plain");
    } else if (path === "/readyz") {
      const ready = this.o.ready();
      return this.reply(res, "health", ready ? 200 : 503, ready ? "ok\n" : "not ready\n", "text/plain");
    }
    if (this.o.console !== undefined) {
      try {
        const handled = await this.o.console.handle(req, res, path, url);
        if (handled !== undefined) return this.count("console", handled.status);
      } catch (err) {
        return this.fail(res, "console", err);
      }
    }
    this.reply(res, "other", 404, errorJson("NotFound", `no route for ${method} ${path}`));
  }

  private async guard(res: ServerResponse, route: Route, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.fail(res, route, err);
    }
  }

  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const access = this.o.metricsAccess ?? "open";
    if (typeof access === "object" && !tokenMatches(access.tokens, req.headers.authorization)) throw new HttpError(401, "Unauthorized", "/metrics needs the metrics bearer token");
    const text = await this.o.promRegistry.metrics();
    this.reply(res, "metrics", 200, text, this.o.promRegistry.contentType);
  }

  // ---- callers -------------------------------------------------------------------------

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

  private functionOf(ns: string, name: string): FunctionSettings {
    // Before the first list of Functions, "not found" would be a lie: ask to retry.
    if (!this.o.ready()) throw new HttpError(503, "Unavailable", "the gateway is starting: its Function registry is not loaded yet (retry)");
    const fn = this.o.registry.get(ns, name);
    if (fn === undefined) throw new HttpError(404, "NotFound", `function ${ns}/${name} not found`);
    return fn;
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
  private async pushMany(req: IncomingMessage, res: ServerResponse, ns: string, name: string): Promise<void> {
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

  private async invoke(req: IncomingMessage, res: ServerResponse, ns: string, name: string, kind: "run" | "push", url: string): Promise<void> {
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
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    res.on("close", onClose);
    const done = await this.o.engine.waitForTerminal(task.id, wait, abort.signal);
    res.off("close", onClose);
    if (abort.signal.aborted) return;
    if (done === undefined) {
      throw new HttpError(504, "Timeout", `task ${task.id} did not finish within ${wait} ms; it is still ${this.o.engine.get(task.id)?.status ?? "unknown"}: poll GET /v1/tasks/${task.id}`, { taskId: task.id });
    }
    this.sendOutcome(res, done, idHeader);
  }

  private sendOutcome(res: ServerResponse, task: Task, headers: Record<string, string>): void {
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

  private async getTask(req: IncomingMessage, res: ServerResponse, id: string, url: string): Promise<void> {
    let task = await this.callerTask(req, id, "get");
    const waitText = queryOf(url).get("wait");
    if (waitText !== undefined && !isTerminal(task.status)) {
      const wait = this.duration(waitText, "wait");
      const abort = new AbortController();
      const onClose = (): void => abort.abort();
      res.on("close", onClose);
      task = (await this.o.engine.waitForTerminal(id, wait, abort.signal)) ?? this.o.engine.get(id) ?? task;
      res.off("close", onClose);
      if (abort.signal.aborted) return;
    }
    this.reply(res, "get", 200, renderTask(task));
  }

  private async cancelTask(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    await this.callerTask(req, id, "cancel");
    const task = await this.o.engine.cancel(id);
    if (task === undefined) throw new HttpError(404, "NotFound", `task ${id} not found`);
    if (task.isolated === true) this.o.isolated?.taskEnded(task);
    this.reply(res, "cancel", 200, renderTask(task));
  }

  private async events(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
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
  private async demandStream(req: IncomingMessage, res: ServerResponse, hub: DemandHub): Promise<void> {
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
  private async allStats(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
  private async setupSummaries(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const caller = await this.o.authz.authenticate(req);
    // signatureKnown rides along (src/gateway/signatures.ts): status.setup.signatureKnown.
    const all = (this.o.setup?.summaries() ?? []).map((s) => ({ ...s, signatureKnown: this.o.signatures?.get(s.namespace, s.name)?.signature !== undefined }));
    const shown = await Promise.all(all.map(({ namespace }) => this.o.authz.permits(caller, { verb: "list", resource: "functions", namespace })));
    this.reply(res, "setup", 200, JSON.stringify({ functions: all.filter((_, i) => shown[i] === true) }));
  }

  private async stats(req: IncomingMessage, res: ServerResponse, ns: string, name: string): Promise<void> {
    await this.authorize(req, { verb: "get", resource: "functions", namespace: ns, name });
    this.functionOf(ns, name);
    this.reply(res, "stats", 200, JSON.stringify(this.o.engine.stats(ns, name)));
  }

  private async cancelFunction(req: IncomingMessage, res: ServerResponse, ns: string, name: string): Promise<void> {
    // The operator cleans a deleted Function's queue with that Function's worker token (it holds
    // the signing key) or with a caller token.
    if (this.o.auth.workersOpen || !this.o.auth.worker(req.headers.authorization, ns, name)) {
      await this.authorize(req, { verb: "cancel", resource: "functions", namespace: ns, name });
    }
    const cancelled = await this.o.engine.cancelFunction(ns, name);
    this.o.isolated?.functionCancelled(ns, name);
    this.reply(res, "cancelFunction", 200, JSON.stringify({ cancelled }));
  }

  // ---- workers -----------------------------------------------------------------------------

  /**
   * Before any body is read: the Function whose worker token the request carries ("*" when the
   * worker API is open), or 401.
   */
  private workerIdentity(req: IncomingMessage): string {
    if (this.o.auth.workersOpen) return "*";
    const fn = this.o.auth.workerFunction(req.headers.authorization, () => this.o.registry.keys(), this.o.clock?.now() ?? Date.now());
    if (fn === undefined) throw new HttpError(401, "Unauthorized", "missing or unknown worker token");
    return fn;
  }

  private workerFunction(req: IncomingMessage, ref: string, identity: string): FunctionSettings {
    const slash = ref.indexOf("/");
    if (slash <= 0 || slash === ref.length - 1) throw new HttpError(400, "BadRequest", `"function" must be <namespace>/<name>, got ${JSON.stringify(ref)}`);
    const ns = ref.slice(0, slash);
    const name = ref.slice(slash + 1);
    if ((identity !== "*" && identity !== ref) || !this.o.auth.worker(req.headers.authorization, ns, name)) throw new HttpError(401, "Unauthorized", `missing or wrong worker token for ${ref}`);
    return this.functionOf(ns, name);
  }

  private async lease(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = this.workerIdentity(req);
    const body = parseJsonObject(await readBody(req, this.limits.maxOutputBytes + 1024 * 1024));
    const fn = this.workerFunction(req, str(body, "function", { max: 512 }), identity);
    const workerId = str(body, "workerId", { max: 253 });
    const max = Math.min(int(body, "max", 1, 1, 100_000), this.limits.maxLeaseBatch);
    const waitMs = Math.min(int(body, "waitMs", 0, 0, 3_600_000), this.limits.maxLeaseWaitMs);
    // Outcomes may ride on the lease that asks for the next tasks: one request instead of two.
    // Their acknowledgements wait for the commit, while the lease looks for work meanwhile.
    const acksDone = Array.isArray(body["results"]) ? this.applyResults(fn, body["results"]) : undefined;
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    res.on("close", onClose);
    const [acks, grants] = await Promise.all([acksDone, this.o.engine.lease(fn, workerId, max, waitMs, abort.signal, { fold: body["fold"] === true })]);
    res.off("close", onClose);
    if (res.destroyed || abort.signal.aborted) {
      // The worker hung up (draining, crashed): nobody will run these.
      this.o.engine.unlease(grants);
      return;
    }
    this.reply(res, "lease", 200, renderGrants(grants, acks === undefined ? undefined : JSON.stringify(acks)));
  }

  /**
   * The worker channel (worker-channel.ts): `?function=ns/name&workerId=…`, checked before any
   * body is read; then credits and results up, leases and acknowledgements down, until it closes.
   */
  private async channel(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const identity = this.workerIdentity(req);
    const query = queryOf(url);
    const fn = this.workerFunction(req, query.get("function") ?? "", identity);
    const workerId = query.get("workerId") ?? "";
    if (workerId === "" || workerId.length > 253) throw new HttpError(400, "BadRequest", `"workerId" must be 1 to 253 characters`);
    this.count("channel", 200);
    await serveChannel(req, res, {
      clock: this.timers,
      // `fold=1`: the worker folds workflow reducer batches (docs/protocol.md).
      lease: (max, waitMs, signal) => this.o.engine.lease(fn, workerId, max, waitMs, signal, { fold: query.get("fold") === "1" }),
      unlease: (grants) => this.o.engine.unlease(grants),
      applyResults: (items) => this.applyResults(fn, items),
      renderGrants: (grants) => renderGrants(grants),
      maxLineBytes: this.limits.maxOutputBytes + 1024 * 1024,
      maxBatch: this.limits.maxLeaseBatch,
      lifetimeMs: this.limits.requestTimeoutMs > 0 ? Math.max(1000, Math.floor(this.limits.requestTimeoutMs / 2)) : 300_000,
      leaseWaitMs: Math.min(20_000, this.limits.maxLeaseWaitMs),
    });
  }

  private async heartbeat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = this.workerIdentity(req);
    const body = parseJsonObject(await readBody(req, 1024 * 1024));
    const fn = this.workerFunction(req, str(body, "function", { max: 512 }), identity);
    const workerId = str(body, "workerId", { max: 253 });
    const stateRaw = str(body, "state", { optional: true }) ?? (body["ready"] === true ? "ready" : "setup");
    if (!isWorkerState(stateRaw)) throw new HttpError(400, "BadRequest", `"state" must be ready, setup, draining or failed`);
    const errorRaw = body["error"];
    let error: { type: string; message: string; reason?: string } | undefined;
    if (typeof errorRaw === "object" && errorRaw !== null) {
      const e = errorRaw as Record<string, unknown>;
      error = {
        type: typeof e["type"] === "string" ? e["type"].slice(0, 64) : "UserError",
        message: typeof e["message"] === "string" ? e["message"].slice(0, MAX_MESSAGE) : "",
      };
      if (typeof e["reason"] === "string") error.reason = e["reason"].slice(0, 64);
    }
    this.o.setup?.report(fn.namespace, fn.name, workerId, { state: stateRaw, error, setup: parseSetupReport(body["setup"]) });
    const tasksRaw = body["tasks"];
    const tasks = Array.isArray(tasksRaw) ? tasksRaw.filter((t): t is string => typeof t === "string") : undefined;
    const answer = this.o.engine.heartbeat(fn, workerId, { state: stateRaw, error, tasks });
    const signatureKnown = this.o.signatures?.observe(fn.namespace, fn.name, workerId, body["signature"]);
    this.reply(res, "heartbeat", 200, JSON.stringify(signatureKnown === undefined ? answer : { ...answer, signatureKnown }));
  }

  /** The task's function, after checking the worker's token for it (or, for an isolated call, the task's own token). */
  private workerTask(req: IncomingMessage, id: string): Task {
    const task = this.o.engine.get(id);
    if (task === undefined) throw new HttpError(404, "NotFound", `task ${id} not found`);
    const byTaskToken = (): boolean => this.o.auth.task(req.headers.authorization, task.namespace, task.name, id);
    if (task.isolated === true ? byTaskToken() : this.o.auth.worker(req.headers.authorization, task.namespace, task.name)) return task;
    // The pod of an isolated call while this gateway restarts: it does not know yet that the
    // recovered task is isolated (that comes once the registry synced); the pod retries a 503.
    if (task.isolated !== true && !this.o.ready() && byTaskToken()) throw new HttpError(503, "Unavailable", "the gateway is starting; retry");
    throw new HttpError(401, "Unauthorized", `missing or wrong worker token for ${task.namespace}/${task.name}`);
  }

  /** The pod of an isolated call's Job starts its attempt: `{"workerId"}` → a lease grant with the input. */
  private async claim(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.workerTask(req, id);
    const body = parseJsonObject(await readBody(req, 64 * 1024));
    const workerId = str(body, "workerId", { max: 253 });
    const grant = this.o.engine.claim(id, workerId);
    this.reply(res, "claim", 200, renderGrant(grant));
  }

  private async progress(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.workerTask(req, id);
    const body = parseJsonObject(await readBody(req, 64 * 1024));
    const leaseId = str(body, "leaseId", { max: 256 });
    const value = body["value"];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) throw new HttpError(400, "BadRequest", `"value" must be a number between 0 and 1`);
    const message = str(body, "message", { optional: true, max: MAX_MESSAGE });
    const answer = this.o.engine.progress(id, leaseId, value, message);
    this.reply(res, "progress", 200, JSON.stringify(answer));
  }

  private async complete(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const task = this.workerTask(req, id);
    let raw: Buffer;
    try {
      raw = await readBody(req, this.limits.maxOutputBytes + 4096);
    } catch (err) {
      if (err instanceof HttpError && err.status === 413) {
        // Retrying cannot make the output smaller: the attempt fails for good, worker kept.
        const leaseId = task.lease?.leaseId;
        if (leaseId !== undefined) {
          await this.o.engine.fail(id, leaseId, "BadConfiguration", `output is over ${this.limits.maxOutputBytes} bytes, the gateway's limit: write large results to storage and return a reference`);
        }
      }
      throw err;
    }
    const body = parseJsonObject(raw);
    const leaseId = str(body, "leaseId", { max: 256 });
    let output: string;
    if (task.encoding === "pickle") {
      output = pickleOutput(body);
    } else {
      if (!("output" in body)) throw new HttpError(400, "BadRequest", `"output" is required`);
      output = JSON.stringify(body["output"]);
    }
    // Answered only once the result is durable: a worker told "done" never sees it re-run.
    await this.o.engine.complete(id, leaseId, output);
    this.reply(res, "complete", 200, "{}");
  }

  /**
   * Several outcomes in one request (`{"function","workerId","results":[…]}`): what lets one
   * gateway keep up with thousands of tasks a second. Each item is answered on its own.
   */
  private async results(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = this.workerIdentity(req);
    const body = parseJsonObject(await readBody(req, this.limits.maxOutputBytes + 1024 * 1024));
    const fn = this.workerFunction(req, str(body, "function", { max: 512 }), identity);
    const items = body["results"];
    if (!Array.isArray(items)) throw new HttpError(400, "BadRequest", `"results" must be an array`);
    this.reply(res, "results", 200, JSON.stringify({ results: await this.applyResults(fn, items) }));
  }

  /** Each outcome's answer, once the outcomes are durable. */
  private applyResults(fn: FunctionSettings, items: readonly unknown[]): Promise<{ id: string; status: number; message?: string }[]> {
    return Promise.all(items.map(async (item: unknown) => {
      const r = typeof item === "object" && item !== null ? (item as Record<string, unknown>) : {};
      const id = typeof r["id"] === "string" ? r["id"] : "";
      try {
        const leaseId = str(r, "leaseId", { max: 256 });
        const task = this.o.engine.get(id);
        if (task === undefined || task.namespace !== fn.namespace || task.name !== fn.name) throw new HttpError(404, "NotFound", `task ${id} not found`);
        const error = r["error"];
        if (typeof error === "object" && error !== null) {
          const e = error as Record<string, unknown>;
          const message = typeof e["message"] === "string" ? e["message"].slice(0, MAX_MESSAGE) : "";
          await this.o.engine.fail(id, leaseId, failureType(e["type"], e["exitCode"]), message);
        } else {
          await this.o.engine.complete(id, leaseId, this.outputOf(task, r, leaseId));
        }
        return { id, status: 200 };
      } catch (err) {
        if (err instanceof HttpError) return { id, status: err.status, message: err.message };
        if (err instanceof EngineError) return { id, status: statusOf(err.type), message: err.message };
        throw err;
      }
    }));
  }

  /** A result's output as stored; an output over the limit fails the task (413 to the worker). */
  private outputOf(task: Task, r: Record<string, unknown>, leaseId: string): string {
    const output = task.encoding === "pickle" ? pickleOutput(r) : "output" in r ? JSON.stringify(r["output"]) : undefined;
    if (output === undefined) throw new HttpError(400, "BadRequest", `"output" is required`);
    if (output.length > this.limits.maxOutputBytes) {
      void this.o.engine.fail(task.id, leaseId, "BadConfiguration", `output is ${output.length} bytes, over the gateway's limit of ${this.limits.maxOutputBytes}: write large results to storage and return a reference`);
      throw new HttpError(413, "TooLarge", `output is over ${this.limits.maxOutputBytes} bytes`);
    }
    return output;
  }

  private async failTask(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.workerTask(req, id);
    const body = parseJsonObject(await readBody(req, 256 * 1024));
    const leaseId = str(body, "leaseId", { max: 256 });
    const type = failureType(body["type"], body["exitCode"]);
    const message = (str(body, "message", { optional: true }) ?? "").slice(0, MAX_MESSAGE);
    await this.o.engine.fail(id, leaseId, type, message);
    this.reply(res, "fail", 200, "{}");
  }
}

/**
 * A pickle task's output as stored: `outputB64`, or the items of a pickle map step
 * (`outputItemsB64`, a list of base64 pickles) as JSON text (src/gateway/workflows/values.ts).
 */
function pickleOutput(body: Record<string, unknown>): string {
  const items = body["outputItemsB64"];
  if (items === undefined) return str(body, "outputB64", {});
  if (!Array.isArray(items) || !items.every((i) => typeof i === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(i))) {
    throw new HttpError(400, "BadRequest", `"outputItemsB64" must be a list of base64 strings`);
  }
  return JSON.stringify(items);
}

function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, "BadRequest", `malformed path segment ${JSON.stringify(s.slice(0, 100))}`);
  }
}

function failureType(type: unknown, exitCode: unknown): ExitErrorType | "Disrupted" {
  if (type === "Disrupted" || isExitErrorType(type)) return type;
  if (type !== undefined && type !== null) throw new HttpError(400, "BadRequest", `"type" must be UserError, BadConfiguration, InputRejected, Fatal, Timeout or Disrupted`);
  switch (exitCode) {
    case 2:
      return "BadConfiguration";
    case 65:
      return "InputRejected";
    case 75:
      return "Fatal";
    case 124:
      return "Timeout";
    default:
      return "UserError";
  }
}

/** The request body as the task's stored input: JSON text, or base64 of pickle bytes. */
export function decodeInput(body: Buffer, contentType: string | undefined, fn: FunctionSettings): { input: string; encoding: Encoding } {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === PICKLE_CONTENT_TYPE) {
    if (fn.encoding !== "pickle") throw new HttpError(400, "BadRequest", `function ${fn.namespace}/${fn.name} uses encoding json: send JSON, not ${PICKLE_CONTENT_TYPE}`);
    return { input: body.toString("base64"), encoding: "pickle" };
  }
  if (fn.encoding === "pickle") throw new HttpError(400, "BadRequest", `function ${fn.namespace}/${fn.name} uses encoding pickle: send Content-Type: ${PICKLE_CONTENT_TYPE}`);
  const text = body.toString("utf8").trim();
  if (text === "") return { input: "null", encoding: "json" };
  try {
    JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "BadRequest", `input is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { input: text, encoding: "json" };
}

/** One grant, its input spliced in as stored (JSON text or base64). */
export function renderGrant(g: LeaseGrant): string {
  const token = g.token === undefined ? "" : `"token":${JSON.stringify(g.token)},`;
  const head = `{"id":${JSON.stringify(g.id)},"attempt":${g.attempt},"leaseId":${JSON.stringify(g.leaseId)},"encoding":"${g.encoding}","deadline":${g.deadline},"timeoutSeconds":${g.timeoutSeconds},${token}`;
  const items = `${g.outputItems === true ? `"outputItems":true,` : ""}${g.fold === true ? `"fold":true,` : ""}`;
  return g.encoding === "pickle" ? `${head}${items}"inputB64":${JSON.stringify(g.input)}}` : `${head}${items}"input":${g.input}}`;
}

/** `{"tasks":[…]}` with each input spliced in as stored (JSON text or base64). */
export function renderGrants(grants: readonly LeaseGrant[], acksJson?: string): string {
  const parts = grants.map(renderGrant);
  return acksJson === undefined ? `{"tasks":[${parts.join(",")}]}` : `{"tasks":[${parts.join(",")}],"results":${acksJson}}`;
}
