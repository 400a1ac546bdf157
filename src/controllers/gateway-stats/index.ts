// Polls the gateway's GET /v1/stats on the leader and applies warmWorkers, busyWorkers and
// queueDepth to Function status under a field manager of its own, so that the Function
// controller's status (conditions, replicas) and these numbers never overwrite each other.
import { hearthFunctions } from "../../kube/resources.ts";
import type { ControllerDefinition } from "../../operator/controller.ts";
import { GatewayClient } from "../gateway-client.ts";
import { addGatewayPoller } from "../gateway-poller.ts";
import { functionsCache } from "../shared.ts";
import { gatewayStatsResponse, planStatsPatches, type FunctionView } from "./stats.ts";

export const FIELD_MANAGER = "hearth-gateway-stats";

function numbers(status: unknown): FunctionView["current"] {
  const s = (typeof status === "object" && status !== null ? status : {}) as Record<string, unknown>;
  const out: FunctionView["current"] = {};
  for (const k of ["warmWorkers", "busyWorkers", "queueDepth"] as const) if (typeof s[k] === "number") out[k] = s[k];
  return out;
}

export function gatewayStatsController(): ControllerDefinition {
  return {
    name: "gateway-stats",
    setup({ manager, config }) {
      const settings = config.gatewayClient;
      if (settings.statsIntervalSeconds === 0) return;
      const functions = functionsCache(manager);
      const client = manager.client.as(FIELD_MANAGER);
      addGatewayPoller(manager, new GatewayClient({ url: config.gateway.url, callerTokenFile: settings.callerTokenFile, maxSockets: 2 }), {
        name: "gateway-stats",
        path: "/v1/stats",
        intervalMs: settings.statsIntervalSeconds * 1000,
        staleMessage: "cannot read gateway stats; Function worker counts are stale",
        async apply(answer, signal) {
          const stats = gatewayStatsResponse.parse(answer);
          const views: FunctionView[] = functions
            .list()
            .filter((f) => f.metadata.deletionTimestamp === undefined && f.metadata.namespace !== undefined)
            .map((f) => ({ namespace: f.metadata.namespace ?? "", name: f.metadata.name, current: numbers(f["status"]) }));
          for (const p of planStatsPatches(views, stats)) {
            await client.applyStatus(hearthFunctions, { name: p.name, namespace: p.namespace }, p.status, { signal });
          }
        },
      });
    },
  };
}
