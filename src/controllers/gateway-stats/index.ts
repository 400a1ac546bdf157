// Polls the gateway's GET /v1/stats on the leader and applies warmWorkers, busyWorkers and
// queueDepth to Function status under a field manager of its own, so that the Function
// controller's status (conditions, replicas) and these numbers never overwrite each other.
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { hearthFunctions } from "../../kube/resources.ts";
import type { KubeClient } from "../../kube/client.ts";
import type { ControllerFactory } from "../../operator/operator.ts";
import { gatewayStatsResponse, planStatsPatches, type FunctionView } from "./stats.ts";

export const FIELD_MANAGER = "hearth-gateway-stats";

function numbers(status: unknown): FunctionView["current"] {
  const s = (typeof status === "object" && status !== null ? status : {}) as Record<string, unknown>;
  const out: FunctionView["current"] = {};
  for (const k of ["warmWorkers", "busyWorkers", "queueDepth"] as const) if (typeof s[k] === "number") out[k] = s[k];
  return out;
}

export function gatewayStatsController(): ControllerFactory {
  return (manager, { config, functions }) => {
    const settings = config.gatewayClient;
    if (settings.statsIntervalSeconds === 0) return;
    const client: KubeClient = manager.client.as(FIELD_MANAGER);
    const log: Logger = manager.logger.child({ controller: "gateway-stats" });
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let lastError = "";

    const poll = async (signal: AbortSignal): Promise<void> => {
      const headers: Record<string, string> = {};
      if (settings.callerTokenFile !== undefined) {
        const token = (await readFile(settings.callerTokenFile, "utf8")).split("\n")[0]?.trim();
        if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
      }
      const res = await fetch(new URL("/v1/stats", config.gateway.url), { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
      if (!res.ok) throw new Error(`GET /v1/stats answered ${res.status}`);
      const stats = gatewayStatsResponse.parse(await res.json());
      const views: FunctionView[] = functions.functions
        .list()
        .filter((f) => f.metadata.deletionTimestamp === undefined && f.metadata.namespace !== undefined)
        .map((f) => ({ namespace: f.metadata.namespace ?? "", name: f.metadata.name, current: numbers(f["status"]) }));
      for (const p of planStatsPatches(views, stats)) {
        await client.applyStatus(hearthFunctions, { name: p.name, namespace: p.namespace }, p.status, { signal });
      }
    };

    manager.add({
      name: "gateway-stats",
      leaderOnly: true,
      start(signal) {
        const tick = (): void => {
          poll(signal)
            .then(() => {
              if (lastError !== "") log.info("gateway stats available again");
              lastError = "";
            })
            .catch((err: unknown) => {
              const message = err instanceof Error ? err.message : String(err);
              // Log a gateway outage once, not every interval.
              if (message !== lastError && !signal.aborted) log.warn({ err: message }, "cannot read gateway stats; Function worker counts are stale");
              lastError = message;
            })
            .finally(() => {
              if (!stopped && !signal.aborted) timer = setTimeout(tick, settings.statsIntervalSeconds * 1000);
            });
        };
        tick();
      },
      async stop() {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
      },
    });
  };
}
