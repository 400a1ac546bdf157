// Warm Jobs run on the Function's warm pool through the gateway: the controller pushes the
// input with the Job's UID as idempotency key (a retried reconcile gets the same task back) and
// reads the task's state. The plan (plan.ts) turns that state into status.
import { HearthError } from "../../client/client.ts";
import type { JsonValue } from "../../api/v1alpha1/index.ts";
import type { RetryPolicy, TaskDocument, TaskStatus } from "../../protocol/index.ts";
import type { GatewayClient } from "../gateway-client.ts";

/** The task document; its output came out of JSON.parse, so it is a JSON value. A workflow run's adds `steps`. */
export type GatewayTask = Omit<TaskDocument, "output"> & { output?: JsonValue; steps?: RunStepCounts };

/** A workflow run's executions per step and state (`steps` of the run document, docs/workflows.md). */
export type RunStepCounts = Record<string, Partial<Record<TaskStatus, number>>>;

/**
 * What the controller learned from the gateway for one warm Job: the task; or the gateway cannot
 * be reached or answered a retryable error (try again); or it refused the task for good (a 4xx
 * that retrying cannot change: the Job fails with the gateway's message).
 */
export type GatewayTaskView =
  | { readonly state: "unavailable"; readonly message: string }
  | { readonly state: "refused"; readonly message: string }
  | { readonly state: "task"; readonly task: GatewayTask };

export interface WarmEnqueue {
  /** What `function` names: a Function (default) or, for a workflowRef Job, a Workflow. */
  readonly kind?: "function" | "workflow";
  readonly namespace: string;
  readonly function: string;
  readonly idempotencyKey: string;
  readonly input: unknown;
  /** The Job's own timeoutSeconds and retries, sent as per-task overrides of the Function's. */
  readonly timeoutSeconds?: number | undefined;
  readonly retries?: RetryPolicy | undefined;
}

/**
 * 4xx answers to a push that retrying cannot change. 401/403 (credentials may be fixed), 404 (the
 * gateway's registry may lag the operator's), 408 and 429 (load) are retried.
 */
export function isFinalRefusal(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 408, 429].includes(status);
}

export interface WarmInvoker {
  enqueue(req: WarmEnqueue, signal: AbortSignal): Promise<GatewayTaskView>;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** The gateway through the TypeScript client. Never throws: an unreachable or failing gateway is a state to report. */
export function clientWarmInvoker(gateway: GatewayClient): WarmInvoker {
  const unreachable = (err: unknown): GatewayTaskView => {
    const message = err instanceof Error ? err.message : String(err);
    return { state: "unavailable", message: message.startsWith("cannot reach the gateway") ? message : `cannot reach the gateway at ${gateway.url}: ${message}` };
  };
  return {
    async enqueue(req, signal) {
      const timeout = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
      let id: string | undefined;
      try {
        const client = await gateway.client();
        const opts = { idempotencyKey: req.idempotencyKey, signal: timeout, ...(req.timeoutSeconds === undefined ? {} : { timeoutSeconds: req.timeoutSeconds }), ...(req.retries === undefined ? {} : { retries: req.retries }) };
        const ref = { namespace: req.namespace, name: req.function };
        const handle = await (req.kind === "workflow" ? client.workflow(ref) : client.function(ref)).push(req.input ?? null, opts);
        id = handle.id;
        const { output, ...task } = (await handle.status({ signal: timeout })) as TaskDocument & { steps?: RunStepCounts };
        return { state: "task", task: output === undefined ? task : { ...task, output: output as JsonValue } };
      } catch (err) {
        if (signal.aborted) throw err;
        if (err instanceof HearthError && id === undefined && isFinalRefusal(err.status)) {
          return { state: "refused", message: `the gateway refused the task (HTTP ${err.status} ${err.type}): ${err.message}` };
        }
        if (err instanceof HearthError && err.status !== 0) {
          return { state: "unavailable", message: id === undefined ? `the gateway refused the task: ${err.message}` : `GET /v1/tasks/${id} answered ${err.status}` };
        }
        return unreachable(err);
      }
    },
  };
}
