// The gateway's HTTP server (docs/protocol.md): one routing table (router.ts) maps method and
// path to the caller routes (caller-routes.ts), the worker routes (worker-routes.ts), workflows,
// /metrics, /healthz and /readyz; what it does not route goes to the console, then 404/405.
// Bare node:http: the hot path is a few microseconds of routing.
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import { CallerRoutes } from "./caller-routes.ts";
import { errorJson, HttpError, send, sendError, statusOf } from "./http.ts";
import { tokenMatches } from "./metrics-server.ts";
import { DEFAULT_LIMITS, type GatewayLimits, type GatewayServerOptions, type Route, type RouteContext } from "./route-context.ts";
import { Router, type Params } from "./router.ts";
import { EngineError } from "./tasks.ts";
import { CHANNEL_UPGRADE } from "./worker-channel.ts";
import { WorkerRoutes } from "./worker-routes.ts";
import { WorkflowApi } from "./workflows/api.ts";
import { RUN_PREFIX } from "./workflows/executor.ts";
import { SystemClock, type Clock } from "../kube/clock.ts";

export { DEFAULT_LIMITS, type GatewayLimits, type GatewayServerOptions, type MetricsAccess } from "./route-context.ts";

/** One route's handler: its metrics label and what serves it. */
interface Endpoint {
  route: Route;
  serve(req: IncomingMessage, res: ServerResponse, p: Params, rest: string[], url: string): Promise<void>;
}

export class GatewayServer {
  private readonly o: GatewayServerOptions;
  private readonly limits: GatewayLimits;
  /** Timers of long-lived streams (events, demand, worker channels). */
  private readonly timers: Clock;
  private readonly workflows: WorkflowApi | undefined;
  private readonly router: Router<Endpoint>;
  /** Worker channels on upgraded connections: the HTTP server no longer tracks them. */
  private readonly upgraded = new Set<Duplex>();
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
            clock: this.timers,
          });
    const ctx: RouteContext = {
      o: opts,
      limits: this.limits,
      timers: this.timers,
      count: (route, code) => this.count(route, code),
      reply: (res, route, status, body, contentType, headers) => this.reply(res, route, status, body, contentType, headers),
    };
    const workers = new WorkerRoutes(ctx);
    this.router = this.routes(new CallerRoutes(ctx), workers);
    // Node checks the header/request timeouts on this interval (default 30 s): check often
    // enough that the timeouts mean what they say.
    const checkMs = Math.max(100, Math.min(5000, Math.floor(Math.min(this.limits.headersTimeoutMs, this.limits.requestTimeoutMs || Infinity) / 4)));
    this.server = createServer({ connectionsCheckingInterval: checkMs, shouldUpgradeCallback: isChannelUpgrade }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, "other", err));
    });
    // The worker channel on its own connection (docs/protocol.md): other upgrade requests are
    // ordinary requests (shouldUpgradeCallback).
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgraded.add(socket);
      socket.once("close", () => this.upgraded.delete(socket));
      workers.channelUpgrade(req, socket, head, req.url ?? "/").catch((err: unknown) => this.failUpgrade(socket, err));
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

  /** The routing table, in the order routes are tried. */
  private routes(callers: CallerRoutes, workers: WorkerRoutes): Router<Endpoint> {
    const r = new Router<Endpoint>();
    const add = (method: string, pattern: string, route: Route, serve: Endpoint["serve"], when?: (raw: readonly string[]) => boolean): void => {
      r.add(method, pattern, { route, serve }, when);
    };
    add("GET", "/v1/stats", "allStats", (req, res) => callers.allStats(req, res));
    add("GET", "/v1/setup", "setup", (req, res) => callers.setupSummaries(req, res));
    const hub = this.o.demand;
    if (hub !== undefined) add("GET", "/v1/demand", "demand", (req, res) => callers.demandStream(req, res, hub));
    add("POST", "/v1/workers/lease", "lease", (req, res) => workers.lease(req, res));
    add("POST", "/v1/workers/channel", "channel", (req, res, _p, _r, url) => workers.channel(req, res, url));
    add("POST", "/v1/workers/heartbeat", "heartbeat", (req, res) => workers.heartbeat(req, res));
    add("POST", "/v1/workers/results", "results", (req, res) => workers.results(req, res));
    const wf = this.workflows;
    if (wf !== undefined) {
      // Workflow runs are tasks too (`/v1/tasks/run-…/…`): every method and sub-path is theirs.
      const isRun = (raw: readonly string[]): boolean => raw[2]?.startsWith(RUN_PREFIX) === true;
      add("*", "/v1/tasks/{id}/{*rest}", "workflow", async (req, res, p, rest, url) => {
        const method = req.method ?? "GET";
        if (!(await wf.task(req, res, p["id"] ?? "", rest, method, url))) this.reply(res, "other", 404, errorJson("NotFound", `no route for ${method} ${pathOf(url)}`));
      }, isRun);
      add("POST", "/v1/namespaces/{ns}/workflows/{name}:run", "workflow", (req, res, p, _r, url) => wf.invoke(req, res, p["ns"] ?? "", p["name"] ?? "", "run", url));
      add("POST", "/v1/namespaces/{ns}/workflows/{name}:push", "workflow", (req, res, p, _r, url) => wf.invoke(req, res, p["ns"] ?? "", p["name"] ?? "", "push", url));
    }
    add("GET", "/v1/tasks/{id}", "get", (req, res, p, _r, url) => callers.getTask(req, res, p["id"] ?? "", url));
    add("DELETE", "/v1/tasks/{id}", "cancel", (req, res, p) => callers.cancelTask(req, res, p["id"] ?? ""));
    add("GET", "/v1/tasks/{id}/events", "events", (req, res, p) => callers.events(req, res, p["id"] ?? ""));
    add("POST", "/v1/tasks/{id}/progress", "progress", (req, res, p) => workers.progress(req, res, p["id"] ?? ""));
    add("POST", "/v1/tasks/{id}/complete", "complete", (req, res, p) => workers.complete(req, res, p["id"] ?? ""));
    add("POST", "/v1/tasks/{id}/fail", "fail", (req, res, p) => workers.failTask(req, res, p["id"] ?? ""));
    add("POST", "/v1/tasks/{id}/claim", "claim", (req, res, p) => workers.claim(req, res, p["id"] ?? ""));
    add("POST", "/v1/namespaces/{ns}/functions/{name}:run", "run", (req, res, p, _r, url) => callers.invoke(req, res, p["ns"] ?? "", p["name"] ?? "", "run", url));
    add("POST", "/v1/namespaces/{ns}/functions/{name}:push", "push", (req, res, p, _r, url) => callers.invoke(req, res, p["ns"] ?? "", p["name"] ?? "", "push", url));
    add("POST", "/v1/namespaces/{ns}/functions/{name}:pushMany", "pushMany", (req, res, p) => callers.pushMany(req, res, p["ns"] ?? "", p["name"] ?? ""));
    add("GET", "/v1/namespaces/{ns}/functions/{name}/stats", "stats", (req, res, p) => callers.stats(req, res, p["ns"] ?? "", p["name"] ?? ""));
    add("DELETE", "/v1/namespaces/{ns}/functions/{name}/tasks", "cancelFunction", (req, res, p) => callers.cancelFunction(req, res, p["ns"] ?? "", p["name"] ?? ""));
    if (this.o.metricsAccess !== "off") add("GET", "/metrics", "metrics", (req, res) => this.metrics(req, res));
    add("*", "/healthz", "health", async (_req, res) => this.reply(res, "health", 200, "ok\n", "text/plain"));
    add("*", "/readyz", "health", async (_req, res) => {
      const ready = this.o.ready();
      this.reply(res, "health", ready ? 200 : 503, ready ? "ok\n" : "not ready\n", "text/plain");
    });
    return r;
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
      for (const socket of this.upgraded) socket.destroy();
    });
  }

  private count(route: Route, code: number): void {
    this.o.metrics.requests.inc({ route, code: String(code) });
  }

  private reply(res: ServerResponse, route: Route, status: number, body: string | Buffer, contentType?: string, headers?: Record<string, string>): void {
    // The answer first: counting it is not on the caller's path.
    send(res, status, body, contentType, headers);
    this.count(route, status);
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

  /** A refused channel upgrade: the error as an HTTP answer on the connection, which then closes. */
  private failUpgrade(socket: Duplex, err: unknown): void {
    let e: HttpError;
    if (err instanceof HttpError) e = err;
    else if (err instanceof EngineError) e = new HttpError(statusOf(err.type), err.type, err.message);
    else {
      this.o.log.error({ err, route: "channel" }, "request failed");
      e = new HttpError(500, "Internal", "internal error (see the gateway's log)");
    }
    this.count("channel", e.status);
    const body = errorJson(e.type, e.message);
    socket.on("error", () => {});
    socket.end(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? "Error"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const path = pathOf(url);
    const method = req.method ?? "GET";
    const m = this.router.match(method, path);
    if (m.type === "found") return this.guard(res, m.handler.route, () => m.handler.serve(req, res, m.params, m.rest, url));
    // The console's pages and read-only API answer what the table does not (some of its paths
    // are routes here for another method).
    if (this.o.console !== undefined) {
      try {
        const handled = await this.o.console.handle(req, res, path, url);
        if (handled !== undefined) return this.count("console", handled.status);
      } catch (err) {
        return this.fail(res, "console", err);
      }
    }
    if (m.type === "methodNotAllowed") {
      return this.reply(res, "other", 405, errorJson("MethodNotAllowed", `${method} is not allowed on ${path} (allowed: ${m.allow.join(", ")})`), "application/json", { allow: m.allow.join(", ") });
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
}

function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

/** `POST /v1/workers/channel` with `Upgrade: hearth-channel`: the worker channel on its own connection. */
function isChannelUpgrade(req: IncomingMessage): boolean {
  return req.method === "POST" && req.headers.upgrade?.toLowerCase() === CHANNEL_UPGRADE && pathOf(req.url ?? "/") === "/v1/workers/channel";
}
