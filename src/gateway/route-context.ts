// What the caller and worker routes share: the server's options and limits, the answer helpers
// that count every request by route, and the Function lookup both sides make.
import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Authenticator } from "./auth.ts";
import type { Authorizer } from "./authz.ts";
import type { ResultCache } from "./cache.ts";
import type { ConsoleApi } from "./console-api.ts";
import type { DemandHub } from "./demand.ts";
import { HttpError } from "./http.ts";
import type { IsolatedCallsPort } from "./isolated/calls.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { FunctionRegistry, FunctionSettings } from "./registry.ts";
import type { SetupTracker } from "./setup.ts";
import type { SignatureBook } from "./signatures.ts";
import type { TaskStore } from "./store.ts";
import type { TaskEngine } from "./tasks.ts";
import type { WorkerIdentities } from "./worker-identities.ts";
import type { WorkflowApiOptions } from "./workflows/api.ts";
import type { Clock } from "../kube/clock.ts";

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
  /** Warm workers' projected ServiceAccount tokens; absent: HMAC worker tokens only. */
  workerIdentities?: WorkerIdentities | undefined;
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

/** The `route` label of gateway_requests_total. */
export type Route = "demand" | "workflow" | "setup" | "run" | "push" | "pushMany" | "get" | "events" | "cancel" | "stats" | "allStats" | "cancelFunction" | "lease" | "channel" | "heartbeat" | "results" | "progress" | "complete" | "fail" | "claim" | "metrics" | "health" | "console" | "other";

/** The longest error message a worker may report. */
export const MAX_MESSAGE = 64 * 1024;

export interface RouteContext {
  readonly o: GatewayServerOptions;
  readonly limits: GatewayLimits;
  /** Timers of long-lived streams (events, demand, worker channels). */
  readonly timers: Clock;
  count(route: Route, code: number): void;
  reply(res: ServerResponse, route: Route, status: number, body: string | Buffer, contentType?: string, headers?: Record<string, string>): void;
}

/** A Function the registry knows (503 before its first sync: "not found" would be a lie then). */
export function functionOf(o: GatewayServerOptions, ns: string, name: string): FunctionSettings {
  if (!o.ready()) throw new HttpError(503, "Unavailable", "the gateway is starting: its Function registry is not loaded yet (retry)");
  const fn = o.registry.get(ns, name);
  if (fn === undefined) throw new HttpError(404, "NotFound", `function ${ns}/${name} not found`);
  return fn;
}

/** What the caller and worker route classes share: the context and its helpers. */
export abstract class RoutesBase {
  protected readonly ctx: RouteContext;

  constructor(ctx: RouteContext) {
    this.ctx = ctx;
  }

  protected get o(): GatewayServerOptions {
    return this.ctx.o;
  }

  protected get limits(): GatewayLimits {
    return this.ctx.limits;
  }

  protected get timers(): Clock {
    return this.ctx.timers;
  }

  protected count(route: Route, code: number): void {
    this.ctx.count(route, code);
  }

  protected reply(res: ServerResponse, route: Route, status: number, body: string | Buffer, contentType?: string, headers?: Record<string, string>): void {
    this.ctx.reply(res, route, status, body, contentType, headers);
  }

  protected functionOf(ns: string, name: string): FunctionSettings {
    return functionOf(this.o, ns, name);
  }
}
