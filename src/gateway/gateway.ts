// Assembles a gateway: store → engine → HTTP server, with the periodic tick. Used by
// `hearth gateway`, the e2e tests and the benchmark alike.
import pino, { type Logger } from "pino";
import { Registry } from "prom-client";
import { every, SystemClock, type Clock, type TimerHandle } from "../kube/clock.ts";
import { Authenticator, type AuthConfig } from "./auth.ts";
import { Authorizer, type ReviewCacheOptions, type TaskTokenVerifier } from "./authz.ts";
import type { KubeReviewer } from "./kube-reviews.ts";
import { StaticCatalog, type Catalog } from "./catalog.ts";
import { ConsoleApi } from "./console-api.ts";
import type { KubeClient } from "../kube/client.ts";
import { IsolatedCalls } from "./isolated/calls.ts";
import { DemandHub } from "./demand.ts";
import { GatewayMetrics } from "./metrics.ts";
import { MetricsServer } from "./metrics-server.ts";
import type { FunctionRegistry } from "./registry.ts";
import { GatewayServer, type GatewayLimits } from "./server.ts";
import { SetupTracker } from "./setup.ts";
import { SignatureBook } from "./signatures.ts";
import { TaskStore, type StoreSync } from "./store.ts";
import { TaskEngine, type EngineOptions } from "./tasks.ts";
import { ResultCache, type CacheConfig } from "./cache.ts";
import { CallTokens } from "./calls.ts";
import { WorkflowExecutor } from "./workflows/executor.ts";
import { StaticWorkflowRegistry, type WorkflowRegistry } from "./workflows/registry.ts";
import type { PodDeletions } from "./worker-pods.ts";
import { WorkerIdentities, type WorkerIdentityOptions } from "./worker-identities.ts";

export interface GatewayOptions {
  /** SQLite file (on a volume); ":memory:" for throwaway gateways. */
  storePath: string;
  storeSync?: StoreSync;
  registry: FunctionRegistry;
  /** Result cache bounds (cacheable Functions). */
  cache?: Partial<CacheConfig>;
  /** Workflows the gateway runs. Default: none. */
  workflows?: WorkflowRegistry;
  /** Objects the console shows (default: none but the tasks). */
  catalog?: Catalog;
  /** Required: fail closed. `{ insecureOpen: true }` is the explicit opt-out for tests. */
  auth: AuthConfig;
  /** Kubernetes identities (TokenReview + SubjectAccessReview), task-scoped tokens, review cache. */
  authz?: { kubernetes?: KubeReviewer | undefined; taskTokens?: TaskTokenVerifier | undefined; cache?: Partial<ReviewCacheOptions> | undefined };
  /**
   * Warm workers' projected ServiceAccount tokens (src/gateway/worker-identities.ts): TokenReview
   * with the worker audience and a read of the bound pod. Absent: only HMAC worker tokens.
   */
  workerIdentities?: Omit<WorkerIdentityOptions, "clock" | "log" | "countReview"> | undefined;
  port?: number;
  host?: string;
  log?: Logger;
  clock?: Clock;
  promRegistry?: Registry;
  limits?: Partial<GatewayLimits>;
  engine?: Pick<EngineOptions, "maxQueue" | "deadlineGraceMs" | "workerTimeoutMs" | "leaseReceiptMs" | "maxDisruptions" | "resultTtlMs" | "recentLimit" | "idempotencyWindowMs">;
  /** Serve /metrics on this port only (0 = any free port), not on the API port. */
  metricsPort?: number | undefined;
  /** Bearer tokens /metrics requires (on whichever port serves it); undefined = none. */
  metricsTokens?: readonly string[] | undefined;
  /** Period of deadline/worker/retry checks. Default 100 ms. */
  tickMs?: number;
  /** Called once listening, before the Function registry is loaded (Function routes answer 503 until then). */
  onListen?: (url: string) => void;
  /** Most handler calls deep a task may be (`ctx.function(…)` chains). Default 8. */
  maxCallDepth?: number | undefined;
  /** Runs calls to `invocation: isolated` Functions as hearth.dev Jobs in this cluster; absent: they answer 409. */
  isolated?: { client: KubeClient; namespaces?: readonly string[]; jobTtlSeconds?: number } | undefined;
}

export class Gateway {
  readonly store: TaskStore;
  readonly engine: TaskEngine;
  readonly executor: WorkflowExecutor;
  readonly cache: ResultCache;
  readonly server: GatewayServer;
  readonly metrics: GatewayMetrics;
  readonly promRegistry: Registry;
  readonly port: number;
  readonly url: string;
  readonly auth: Authenticator;
  readonly authz: Authorizer;
  readonly signatures: SignatureBook;
  /** The separate /metrics listener, when `metricsPort` was given. */
  readonly metricsServer: MetricsServer | undefined;
  private readonly registry: FunctionRegistry;
  private readonly workflows: WorkflowRegistry;
  private readonly catalog: Catalog;
  private readonly isolated: IsolatedCalls | undefined;
  private readonly podDeletions: PodDeletions | undefined;
  private readonly ticker: TimerHandle;
  private stopped = false;

  private constructor(parts: {
    store: TaskStore;
    engine: TaskEngine;
    executor: WorkflowExecutor;
    workflows: WorkflowRegistry;
    cache: ResultCache;
    server: GatewayServer;
    metrics: GatewayMetrics;
    promRegistry: Registry;
    registry: FunctionRegistry;
    catalog: Catalog;
    signatures: SignatureBook;
    isolated: IsolatedCalls | undefined;
    auth: Authenticator;
    authz: Authorizer;
    metricsServer: MetricsServer | undefined;
    podDeletions: PodDeletions | undefined;
    port: number;
    host: string;
    tickMs: number;
    clock: Clock;
  }) {
    this.auth = parts.auth;
    this.authz = parts.authz;
    this.metricsServer = parts.metricsServer;
    this.podDeletions = parts.podDeletions;
    this.store = parts.store;
    this.engine = parts.engine;
    this.executor = parts.executor;
    this.cache = parts.cache;
    this.workflows = parts.workflows;
    this.server = parts.server;
    this.metrics = parts.metrics;
    this.promRegistry = parts.promRegistry;
    this.registry = parts.registry;
    this.catalog = parts.catalog;
    this.signatures = parts.signatures;
    this.isolated = parts.isolated;
    this.port = parts.port;
    this.url = `http://${parts.host.includes(":") ? `[${parts.host}]` : parts.host}:${parts.port}`;
    // On the injected clock, like every other timer of the gateway (a FakeClock drives it in tests).
    this.ticker = every(parts.clock, parts.tickMs, () => {
      this.engine.tick();
      this.executor.tick();
      this.cache.expire();
    });
  }

  static async start(opts: GatewayOptions): Promise<Gateway> {
    const log = opts.log ?? pino({ level: "warn" });
    const clock = opts.clock ?? new SystemClock();
    const promRegistry = opts.promRegistry ?? new Registry();
    // The metrics read queue sizes from the engine, which needs the metrics: tie the knot late.
    const late: { engine?: TaskEngine; demand?: DemandHub; isolated?: IsolatedCalls | undefined } = {};
    // Task-scoped tokens for calls from inside a handler: minted at lease time, verified by the authorizer.
    const calls = new CallTokens({ signingKey: opts.auth.workerSigningKey, now: () => clock.now(), task: (id) => late.engine?.get(id), maxDepth: opts.maxCallDepth });
    const metrics = new GatewayMetrics(promRegistry, () => late.engine?.allStats() ?? []);
    const store = new TaskStore(opts.storePath, {
      synchronous: opts.storeSync ?? "full",
      onCommit: (rows, ms) => metrics.committed(rows, ms),
      onError: (err) => log.error({ err }, "task store commit failed"),
    });
    const engine = new TaskEngine({
      store,
      registry: opts.registry,
      clock,
      metrics,
      log: (msg, fields) => log.debug(fields ?? {}, msg),
      onChange: (key, what) => late.demand?.changed(key, what),
      mintToken: calls.mint,
      leaseToken: calls.leaseToken,
      onChildCancelled: (task) => {
        if (task.isolated === true) late.isolated?.taskEnded(task);
      },
      ...opts.engine,
    });
    late.engine = engine;
    const demand = new DemandHub({ source: engine, clock, onColdStart: (namespace, name, seconds) => metrics.coldStart(namespace, name, seconds) });
    late.demand = demand;
    const recovered = engine.recover();
    if (recovered > 0) log.info({ recovered }, "re-queued unfinished tasks from the store");
    const cache = new ResultCache({ store, clock, engine, registry: promRegistry, ...(opts.cache === undefined ? {} : { config: opts.cache }) });
    const cached = cache.load();
    if (cached > 0) log.info({ cached }, "loaded result cache entries from the store");
    const workflows = opts.workflows ?? new StaticWorkflowRegistry();
    const executor = new WorkflowExecutor({
      engine,
      store,
      submit: (fn, input, encoding) => cache.submitStep(fn, input, encoding),
      registry: opts.registry,
      clock,
      log: (msg, fields) => log.debug(fields ?? {}, msg),
      ...(opts.engine?.resultTtlMs === undefined ? {} : { resultTtlMs: opts.engine.resultTtlMs }),
    });
    const runs = executor.recover();
    if (runs > 0) log.info({ runs }, "resumed unfinished workflow runs from the store");
    let registryReady = false;
    const auth = new Authenticator(opts.auth);
    const authz = new Authorizer({ auth, clock, registry: promRegistry, log, taskTokens: calls.verify, ...opts.authz });
    if (auth.insecureOpen) log.warn("INSECURE: the caller and worker APIs accept anyone (insecureOpen); never do this outside tests and a throwaway dev gateway");
    else if (!authz.configured) log.error("no caller credentials are configured (no static tokens, no Kubernetes reviews): every caller request will be refused");
    const workerIdentities =
      opts.workerIdentities === undefined
        ? undefined
        : new WorkerIdentities({ ...opts.workerIdentities, clock, log: log.child({ component: "worker-identities" }), countReview: (review, result) => authz.countReview(review, result) });
    const setup = new SetupTracker(clock, promRegistry, opts.engine?.workerTimeoutMs);
    const catalog = opts.catalog ?? new StaticCatalog([]);
    const signatures = new SignatureBook(() => clock.now());
    const isolated =
      opts.isolated === undefined
        ? undefined
        : new IsolatedCalls({
            client: opts.isolated.client,
            clock,
            log: log.child({ component: "isolated-calls" }),
            engine,
            ...(opts.isolated.namespaces !== undefined ? { namespaces: opts.isolated.namespaces } : {}),
            ...(opts.isolated.jobTtlSeconds !== undefined ? { jobTtlSeconds: opts.isolated.jobTtlSeconds } : {}),
          });
    late.isolated = isolated;
    const server = new GatewayServer({
      setup,
      signatures,
      console: new ConsoleApi({ engine, catalog, signatures, authz, runs: executor }),
      engine,
      demand,
      registry: opts.registry,
      store,
      auth,
      authz,
      workerIdentities,
      metrics,
      promRegistry,
      log,
      ready: () => registryReady,
      workflows: { executor, workflows },
      isolated,
      cache,
      clock,
      maxCallDepth: calls.maxDepth,
      metricsAccess: opts.metricsPort !== undefined ? "off" : opts.metricsTokens !== undefined ? { tokens: opts.metricsTokens } : "open",
      ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    });
    const host = opts.host ?? "127.0.0.1";
    const port = await server.listen(opts.port ?? 0, host);
    let metricsServer: MetricsServer | undefined;
    if (opts.metricsPort !== undefined) {
      metricsServer = new MetricsServer(promRegistry, opts.metricsTokens);
      await metricsServer.listen(opts.metricsPort, host);
    }
    const podDeletions = opts.workerIdentities?.podDeletions;
    const gateway = new Gateway({ store, engine, executor, workflows, cache, server, metrics, promRegistry, registry: opts.registry, isolated, catalog, signatures, auth, authz, metricsServer, podDeletions, port, host, tickMs: opts.tickMs ?? 100, clock });
    opts.onListen?.(gateway.url);
    await Promise.all([opts.registry.start(), workflows.start()]);
    await catalog.start();
    // Not waited for: until it has listed, deleted pods' tokens last their cached answer's TTL, as they did before it.
    podDeletions?.start();
    // After the registry: recovered tasks learn they are isolated from their Function's settings.
    await isolated?.start();
    registryReady = true;
    return gateway;
  }

  /** Stops serving, ends long polls, flushes the store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ticker.cancel();
    this.engine.close();
    await this.server.close();
    this.isolated?.stop();
    await this.metricsServer?.close();
    this.registry.stop();
    this.workflows.stop();
    this.catalog.stop();
    this.podDeletions?.stop();
    await this.store.close();
  }
}
