// Warm Jobs run on the Function's warm pool through the gateway: the controller pushes the
// input with the Job's UID as idempotency key (a retried reconcile gets the same task back) and
// reads the task's state. The plan (plan.ts) turns that state into status.
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { jsonValue } from "../../api/v1alpha1/common.ts";

export const gatewayTask = z.looseObject({
  id: z.string(),
  status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
  attempts: z.int().min(0).default(0),
  output: jsonValue.optional(),
  outputB64: z.string().optional(),
  error: z.looseObject({ type: z.string(), message: z.string(), attempt: z.int().optional() }).optional(),
  createdAt: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type GatewayTask = z.infer<typeof gatewayTask>;

/** What the controller learned from the gateway for one warm Job. */
export type GatewayTaskView = { readonly state: "unavailable"; readonly message: string } | { readonly state: "task"; readonly task: GatewayTask };

export interface WarmEnqueue {
  readonly namespace: string;
  readonly function: string;
  readonly idempotencyKey: string;
  readonly input: unknown;
}

export interface WarmInvoker {
  enqueue(req: WarmEnqueue, signal: AbortSignal): Promise<GatewayTaskView>;
}

/** The gateway over HTTP. Never throws: an unreachable or failing gateway is a state to report. */
export function httpWarmInvoker(o: { url: string; callerTokenFile?: string | undefined }): WarmInvoker {
  const headers = async (): Promise<Record<string, string>> => {
    if (o.callerTokenFile === undefined) return {};
    const token = (await readFile(o.callerTokenFile, "utf8")).split("\n")[0]?.trim() ?? "";
    return token === "" ? {} : { authorization: `Bearer ${token}` };
  };
  return {
    async enqueue(req, signal) {
      try {
        const auth = await headers();
        const timeout = AbortSignal.any([signal, AbortSignal.timeout(10_000)]);
        const path = `/v1/namespaces/${encodeURIComponent(req.namespace)}/functions/${encodeURIComponent(req.function)}:push`;
        const pushed = await fetch(new URL(path, o.url), {
          method: "POST",
          headers: { ...auth, "content-type": "application/json", "idempotency-key": req.idempotencyKey },
          body: JSON.stringify(req.input ?? null),
          signal: timeout,
        });
        const body: unknown = await pushed.json().catch(() => undefined);
        if (!pushed.ok) {
          const message = (body as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${pushed.status}`;
          return { state: "unavailable", message: `the gateway refused the task: ${message}` };
        }
        const id = z.object({ id: z.string() }).parse(body).id;
        const got = await fetch(new URL(`/v1/tasks/${encodeURIComponent(id)}`, o.url), { headers: auth, signal: timeout });
        if (!got.ok) return { state: "unavailable", message: `GET /v1/tasks/${id} answered ${got.status}` };
        return { state: "task", task: gatewayTask.parse(await got.json()) };
      } catch (err) {
        if (signal.aborted) throw err;
        return { state: "unavailable", message: `cannot reach the gateway at ${o.url}: ${err instanceof Error ? err.message : String(err)}` };
      }
    },
  };
}
