// The operator process, minus the process: connection, client, manager, the controllers it is
// given (src/operator/controller.ts), the health/metrics server and leader election, wired from
// a validated config. Framework only: which controllers run is the caller's list — the CLI
// command (src/cli/commands/operator.ts) and the test helper (test/support/operator.ts).
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import { SystemClock, type Clock } from "../kube/clock.ts";
import { KubeClient, Transport } from "../kube/client.ts";
import { loadConnection, type Connection } from "../kube/kubeconfig.ts";
import type { OperatorConfig } from "./config.ts";
import type { ControllerDefinition } from "./controller.ts";
import { Manager } from "./manager.ts";
import { loadMallocTrim } from "./malloc-trim.ts";
import { startMemoryReclaimer } from "./memory.ts";
import { startHealthServer, type HealthServer } from "./server.ts";

export interface OperatorOptions {
  config: OperatorConfig;
  signingKey: string;
  logger: Logger;
  /** Default: loadConnection({kubeconfig}) (KUBECONFIG, in-cluster, ~/.kube/config). */
  connection?: Connection;
  kubeconfig?: string;
  clock?: Clock;
  registry?: Registry;
  /** Lease holder identity; default hostname + random suffix. */
  identity?: string;
  /** The controllers to run, set up in this order on one manager. */
  controllers: readonly ControllerDefinition[];
  /** Called when leadership is lost (the CLI exits). */
  onLostLeadership?: () => void;
}

export interface RunningOperator {
  manager: Manager;
  transport: Transport;
  server: HealthServer;
  registry: Registry;
  identity: string;
  /** Graceful stop: drains reconciles, releases the lease, closes the server. Idempotent. */
  stop(): Promise<void>;
  done: Promise<"stopped" | "lost-leadership">;
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const { config } = opts;
  const clock = opts.clock ?? new SystemClock();
  const registry = opts.registry ?? new Registry();
  if (opts.registry === undefined) collectDefaultMetrics({ register: registry, prefix: "hearth_operator_" });
  const identity = opts.identity ?? `${hostname()}-${randomBytes(3).toString("hex")}`;
  const log = opts.logger.child({ identity });
  const connection = opts.connection ?? (await loadConnection(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}));
  const transport = new Transport({
    connection,
    registry,
    clock,
    qps: config.kube.qps,
    burst: config.kube.burst,
    maxSockets: config.kube.maxSockets,
    userAgent: `hearth-operator/${identity}`,
  });
  const le = config.leaderElection;
  const manager = new Manager({
    client: new KubeClient(transport, "hearth-operator"),
    clock,
    logger: log,
    registry,
    identity,
    namespaces: config.namespaces,
    watchdogMs: config.kube.watchdogSeconds * 1000,
    leaderElection: le.enabled
      ? {
          namespace: le.namespace,
          name: le.name,
          identity,
          leaseDurationMs: le.leaseDurationSeconds * 1000,
          renewDeadlineMs: le.renewDeadlineSeconds * 1000,
          retryPeriodMs: le.retryPeriodSeconds * 1000,
        }
      : undefined,
    ...(opts.onLostLeadership !== undefined ? { onLostLeadership: opts.onLostLeadership } : {}),
    // Renewals on their own sockets and rate limit: never behind the controllers' writes.
    leaseClient: new KubeClient(transport.lane({ maxSockets: 2, qps: 5, burst: 10, userAgent: `hearth-operator/${identity}/leader-election` }), "hearth-operator"),
  });
  for (const c of opts.controllers) c.setup({ manager, config, signingKey: opts.signingKey });

  const server = await startHealthServer({
    host: config.server.host,
    port: config.server.port,
    registry,
    healthz: () => {
      const lost = manager.state === "lost";
      return { ok: !lost, detail: lost ? "leadership lost; exiting" : `ok (${manager.state})` };
    },
    readyz: () => {
      const synced = manager.synced();
      return { ok: synced && manager.state !== "lost", detail: synced ? `ready (${manager.state})` : "caches not synced yet" };
    },
  });
  log.info({ url: server.url, namespaces: config.namespaces.length > 0 ? config.namespaces : "all", gpuStrategy: config.gpu.strategy }, "operator serving /healthz /readyz /metrics");
  manager.start();
  const mallocTrim = loadMallocTrim();
  if ("why" in mallocTrim) log.info({ why: mallocTrim.why }, "malloc_trim addon not loaded: malloc's free pages stay resident until reused");
  else log.info({ path: mallocTrim.path, trimSeconds: config.memory.trimSeconds }, "malloc_trim addon loaded");
  const reclaimer = startMemoryReclaimer({
    clock,
    logger: log,
    registry,
    idle: () => manager.idle(),
    settings: { idleSeconds: config.memory.reclaimIdleSeconds, minGrowthBytes: config.memory.reclaimMinGrowthMiB * 1048576 },
    ...("trim" in mallocTrim ? { trim: mallocTrim.trim, trimSeconds: config.memory.trimSeconds } : {}),
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      reclaimer.cancel();
      await manager.stop();
      await server.close();
      transport.close();
    })());
  void manager.done.then(async (why) => {
    if (why === "lost-leadership") {
      reclaimer.cancel();
      await server.close();
      transport.close();
    }
  });
  return { manager, transport, server, registry, identity, stop, done: manager.done };
}
