// A leader-only loop that reads one JSON route of the gateway every interval and hands the
// answer to `apply` (status patches). Timers come from the manager's clock; a gateway outage is
// logged once when it starts and once when it ends, not every interval.
import type { TimerHandle } from "../kube/clock.ts";
import type { Manager } from "../operator/manager.ts";
import type { GatewayClient } from "./gateway-client.ts";

const REQUEST_TIMEOUT_MS = 5000;

export interface GatewayPoll {
  /** Runnable and log name. */
  name: string;
  /** Caller route, e.g. `/v1/stats`. */
  path: string;
  intervalMs: number;
  /** Parses and applies one answer; throwing counts as an outage. */
  apply(answer: unknown, signal: AbortSignal): Promise<void>;
  /** Logged once when reads start failing. */
  staleMessage: string;
}

export function addGatewayPoller(manager: Manager, gateway: GatewayClient, poll: GatewayPoll): void {
  const log = manager.logger.child({ controller: poll.name });
  let timer: TimerHandle | undefined;
  let stopped = false;
  let lastError = "";

  const once = async (signal: AbortSignal): Promise<void> => {
    const client = await gateway.client();
    const answer = await client.getJson(poll.path, { signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) });
    await poll.apply(answer, signal);
  };

  manager.add({
    name: poll.name,
    leaderOnly: true,
    start(signal) {
      const tick = (): void => {
        once(signal)
          .then(() => {
            if (lastError !== "") log.info(`GET ${poll.path} answers again`);
            lastError = "";
          })
          .catch((err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            if (message !== lastError && !signal.aborted) log.warn({ err: message }, poll.staleMessage);
            lastError = message;
          })
          .finally(() => {
            if (!stopped && !signal.aborted) timer = manager.clock.setTimer(poll.intervalMs, tick);
          });
      };
      tick();
    },
    async stop() {
      stopped = true;
      timer?.cancel();
      gateway.close();
    },
  });
}
