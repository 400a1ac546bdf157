// Polls the gateway's GET /v1/setup on the leader and applies status.setup to Functions under a
// field manager of its own (the Function controller owns the conditions and reads status.setup
// to name SetupTimeout / SetupFailing). Workers report setup progress in their heartbeats; the
// gateway is the only place that hears every worker, including dev mode's local processes.
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { setupStatus, type SetupStatus } from "../../api/v1alpha1/index.ts";
import type { KubeClient } from "../../kube/client.ts";
import { hearthFunctions } from "../../kube/resources.ts";
import type { ControllerFactory } from "../../operator/operator.ts";
import { gatewaySetupResponse, planSetupPatches, type SetupView } from "./plan.ts";

export const FIELD_MANAGER = "hearth-setup-status";

function currentSetup(status: unknown): SetupStatus | undefined {
  const raw = typeof status === "object" && status !== null ? (status as Record<string, unknown>)["setup"] : undefined;
  const parsed = setupStatus.safeParse(raw);
  return raw !== undefined && parsed.success ? parsed.data : undefined;
}

export function setupStatusController(): ControllerFactory {
  return (manager, { config, functions }) => {
    const settings = config.gatewayClient;
    if (settings.statsIntervalSeconds === 0) return;
    const client: KubeClient = manager.client.as(FIELD_MANAGER);
    const log: Logger = manager.logger.child({ controller: "setup-status" });
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let lastError = "";

    const poll = async (signal: AbortSignal): Promise<void> => {
      const headers: Record<string, string> = {};
      if (settings.callerTokenFile !== undefined) {
        const token = (await readFile(settings.callerTokenFile, "utf8")).split("\n")[0]?.trim();
        if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
      }
      const res = await fetch(new URL("/v1/setup", config.gateway.url), { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
      if (!res.ok) throw new Error(`GET /v1/setup answered ${res.status}`);
      const response = gatewaySetupResponse.parse(await res.json());
      const views: SetupView[] = functions.functions
        .list()
        .filter((f) => f.metadata.deletionTimestamp === undefined && f.metadata.namespace !== undefined)
        .map((f) => ({ namespace: f.metadata.namespace ?? "", name: f.metadata.name, current: currentSetup(f["status"]) }));
      for (const p of planSetupPatches(views, response)) {
        await client.applyStatus(hearthFunctions, { name: p.name, namespace: p.namespace }, { setup: p.setup }, { signal });
      }
    };

    manager.add({
      name: "setup-status",
      leaderOnly: true,
      start(signal) {
        const tick = (): void => {
          poll(signal)
            .then(() => {
              if (lastError !== "") log.info("gateway setup summaries available again");
              lastError = "";
            })
            .catch((err: unknown) => {
              const message = err instanceof Error ? err.message : String(err);
              if (message !== lastError && !signal.aborted) log.warn({ err: message }, "cannot read the gateway's setup summaries; Function status.setup is stale");
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
