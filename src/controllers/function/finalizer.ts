// The Function finalizer: a deleted Function's unfinished calls are ended by the gateway
// (`DELETE /v1/namespaces/{ns}/functions/{name}/tasks`, each answered "cancelled: the function
// was deleted") before the object goes, instead of staying queued for workers that will never
// come. Plan (pure) here; the controller applies it.
import { HttpClient } from "../../client/http.ts";
import { workerToken } from "../../auth/worker-token.ts";

export const FUNCTION_FINALIZER = "hearth.dev/gateway-tasks";
/** A gateway unreachable this long after the deletion began no longer holds the Function. */
export const FINALIZER_GIVE_UP_MS = 60_000;
export const FINALIZER_RETRY_MS = 2_000;

/** Ends a Function's unfinished gateway tasks; resolves with how many. */
export interface TaskDropper {
  dropTasks(namespace: string, name: string, signal?: AbortSignal): Promise<number>;
}

export type FinalizerPlan =
  | { action: "none" }
  | { action: "add" }
  /** Deleting: ask the gateway, then remove ours. */
  | { action: "drop" }
  /** Deleting, and the gateway has failed for too long: remove ours anyway (with a Warning). */
  | { action: "giveUp" };

export function planFinalizer(input: { enabled: boolean; finalizers: readonly string[] | undefined; deletionTimestamp: string | undefined; now: number }): FinalizerPlan {
  const ours = input.finalizers?.includes(FUNCTION_FINALIZER) === true;
  if (input.deletionTimestamp === undefined) return input.enabled && !ours ? { action: "add" } : { action: "none" };
  if (!ours) return { action: "none" };
  const since = Date.parse(input.deletionTimestamp);
  return Number.isFinite(since) && input.now - since > FINALIZER_GIVE_UP_MS ? { action: "giveUp" } : { action: "drop" };
}

/**
 * The gateway's cancel route, authenticated with the Function's own worker token (the operator
 * holds the signing key), so it works whichever caller auth the gateway uses.
 */
export class GatewayTaskDropper implements TaskDropper {
  private readonly http: HttpClient;
  private readonly signingKey: string;

  constructor(url: string, signingKey: string) {
    this.http = new HttpClient(url, { maxSockets: 4 });
    this.signingKey = signingKey;
  }

  async dropTasks(namespace: string, name: string, signal?: AbortSignal): Promise<number> {
    const res = await this.http.request({
      method: "DELETE",
      path: `/v1/namespaces/${encodeURIComponent(namespace)}/functions/${encodeURIComponent(name)}/tasks`,
      headers: { authorization: `Bearer ${workerToken(this.signingKey, namespace, name)}` },
      signal,
      timeoutMs: 10_000,
    });
    const text = res.body.toString("utf8");
    if (res.status !== 200) throw new Error(`gateway answered HTTP ${res.status}: ${text.slice(0, 300)}`);
    const parsed: unknown = JSON.parse(text);
    const n = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)["cancelled"] : undefined;
    return typeof n === "number" ? n : 0;
  }

  close(): void {
    this.http.close();
  }
}
