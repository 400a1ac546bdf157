// Tasks on the wire (docs/protocol.md, "Caller API"): their states, the document `GET
// /v1/tasks/{id}` answers, and how inputs and outputs are encoded.
import type { TaskErrorType } from "./errors.ts";

export const TASK_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export function isTerminal(status: TaskStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

export interface TaskError {
  type: TaskErrorType;
  message: string;
  attempt?: number;
}

export interface TaskProgress {
  value: number;
  message?: string;
}

/** `GET /v1/tasks/{id}`. */
export interface TaskDocument {
  id: string;
  function: { namespace: string; name: string };
  status: TaskStatus;
  attempts: number;
  output?: unknown;
  outputB64?: string;
  error?: TaskError;
  progress?: TaskProgress;
  /** The output came from the result cache: nothing ran (docs/workflows.md, Caching). */
  cached?: boolean;
  /** Why a queued isolated call waits (e.g. `{reason: "Unschedulable", message}`). */
  waiting?: { reason: string; message: string };
  /** The task whose handler started this one (`ctx.function(…)`), and how many calls deep it is. */
  parent?: string;
  depth?: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export const PICKLE_CONTENT_TYPE = "application/x-python-pickle";

/** Pure content of a task's input on the wire: JSON value, or pickle bytes in base64. */
export type Encoding = "json" | "pickle";
