// Polls the gateway's GET /v1/setup on the leader and applies status.setup to Functions under a
// field manager of its own (the Function controller owns the conditions and reads status.setup
// to name SetupTimeout / SetupFailing). Workers report setup progress in their heartbeats; the
// gateway is the only place that hears every worker, including dev mode's local processes.
import { setupStatus, type SetupStatus } from "../../api/v1alpha1/index.ts";
import { hearthFunctions } from "../../kube/resources.ts";
import type { ControllerDefinition } from "../../operator/controller.ts";
import { GatewayClient } from "../gateway-client.ts";
import { addGatewayPoller } from "../gateway-poller.ts";
import { functionsCache } from "../shared.ts";
import { gatewaySetupResponse, planSetupPatches, type SetupView } from "./plan.ts";

export const FIELD_MANAGER = "hearth-setup-status";

function currentSetup(status: unknown): SetupStatus | undefined {
  const raw = typeof status === "object" && status !== null ? (status as Record<string, unknown>)["setup"] : undefined;
  const parsed = setupStatus.safeParse(raw);
  return raw !== undefined && parsed.success ? parsed.data : undefined;
}

export function setupStatusController(): ControllerDefinition {
  return {
    name: "setup-status",
    setup({ manager, config }) {
      const settings = config.gatewayClient;
      if (settings.statsIntervalSeconds === 0) return;
      const functions = functionsCache(manager);
      const client = manager.client.as(FIELD_MANAGER);
      addGatewayPoller(manager, new GatewayClient({ url: config.gateway.url, callerTokenFile: settings.callerTokenFile, maxSockets: 2 }), {
        name: "setup-status",
        path: "/v1/setup",
        intervalMs: settings.statsIntervalSeconds * 1000,
        staleMessage: "cannot read the gateway's setup summaries; Function status.setup is stale",
        async apply(answer, signal) {
          const response = gatewaySetupResponse.parse(answer);
          const views: SetupView[] = functions
            .list()
            .filter((f) => f.metadata.deletionTimestamp === undefined && f.metadata.namespace !== undefined)
            .map((f) => ({ namespace: f.metadata.namespace ?? "", name: f.metadata.name, current: currentSetup(f["status"]) }));
          for (const p of planSetupPatches(views, response)) {
            await client.applyStatus(hearthFunctions, { name: p.name, namespace: p.namespace }, { setup: p.setup }, { signal });
          }
        },
      });
    },
  };
}
