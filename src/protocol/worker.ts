// The worker side of the gateway API (docs/protocol.md, "Worker API"): what a worker says in its
// heartbeats and what it gets back from a lease.

export const WORKER_STATES = ["ready", "setup", "draining", "failed"] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

export function isWorkerState(s: unknown): s is WorkerState {
  return typeof s === "string" && (WORKER_STATES as readonly string[]).includes(s);
}

/** One task as the worker receives it from `POST /v1/workers/lease`. */
export interface LeasedTask {
  id: string;
  attempt: number;
  leaseId: string;
  input: unknown;
  timeoutSeconds: number;
  deadline: number;
  /** Task-scoped bearer token for calls from inside the handler (`ctx.function(…)`); optional. */
  token?: string;
  /** A reducer batch: the input is `[acc, [items…]]`; fold them with the handler, return the last acc. */
  fold?: boolean;
}

/** `POST /v1/workers/heartbeat` (minus function and workerId, which every worker call carries). */
export interface Heartbeat {
  busy: number;
  ready: boolean;
  state: WorkerState;
  error?: { type: string; message: string; reason?: string } | undefined;
  /** Tasks this worker holds: lets the gateway re-queue leases whose response never arrived. */
  tasks: string[];
  /** The handler's signature, sent until the gateway answers that it knows it. */
  signature?: unknown;
}

/** The gateway's answer to one item of a results call (200, or 404/409/413 for that item). */
export interface ResultAck {
  id: string;
  status: number;
  message?: string;
}
