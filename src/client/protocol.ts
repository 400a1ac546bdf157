// The wire contract of docs/protocol.md as types and tables, shared by the gateway, the Node
// runtime and the client SDK so that a class name or a status code is written down once.

/** Failure classes a task can end with (`error.type`). */
export const TASK_ERROR_TYPES = ["UserError", "BadConfiguration", "InputRejected", "Fatal", "Timeout", "Disrupted", "Cancelled"] as const;
export type TaskErrorType = (typeof TASK_ERROR_TYPES)[number];

/** Classes a worker process can end with; Disrupted and Cancelled are decided by others. */
export type ExitErrorType = Exclude<TaskErrorType, "Disrupted" | "Cancelled">;

export const EXIT_CODES: Readonly<Record<ExitErrorType, number>> = {
  UserError: 1,
  BadConfiguration: 2,
  InputRejected: 65,
  Fatal: 75,
  Timeout: 124,
};

/** Request-level error types of the caller API (not produced by a task). */
export const REQUEST_ERROR_TYPES = ["BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotReady", "Conflict", "TooLarge", "QueueFull", "Timeout", "Unavailable", "Internal"] as const;
export type RequestErrorType = (typeof REQUEST_ERROR_TYPES)[number];

export type ErrorType = TaskErrorType | RequestErrorType;

export function isTaskErrorType(s: unknown): s is TaskErrorType {
  return typeof s === "string" && (TASK_ERROR_TYPES as readonly string[]).includes(s);
}

export function isExitErrorType(s: unknown): s is ExitErrorType {
  return typeof s === "string" && Object.hasOwn(EXIT_CODES, s);
}

export function exitCodeOf(type: TaskErrorType): number | undefined {
  return isExitErrorType(type) ? EXIT_CODES[type] : undefined;
}

export function errorTypeOfExitCode(code: number): ExitErrorType | undefined {
  for (const [type, c] of Object.entries(EXIT_CODES)) if (c === code && isExitErrorType(type)) return type;
  return undefined;
}

/** HTTP status a caller sees for a task that failed with `type`. */
export function httpStatusOfTaskError(type: TaskErrorType): number {
  switch (type) {
    case "InputRejected":
      return 400;
    case "Timeout":
      return 504;
    case "Cancelled":
      return 409;
    case "UserError":
    case "BadConfiguration":
    case "Fatal":
    case "Disrupted":
      return 500;
  }
}

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
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** Body of every non-2xx answer. */
export interface ErrorBody {
  error: { type: ErrorType; message: string; attempt?: number; taskId?: string };
}

export const PICKLE_CONTENT_TYPE = "application/x-python-pickle";

/** Pure content of a task's input on the wire: JSON value, or pickle bytes in base64. */
export type Encoding = "json" | "pickle";

/**
 * Parses a duration as the API writes it: `30s`, `1500ms`, `2m`, `1h`, or a bare number of
 * seconds. Returns milliseconds, or undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000;
  const ms = n * factor;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** `ns/name` → parts, or undefined when malformed. */
export function parseFunctionRef(ref: string): { namespace: string; name: string } | undefined {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(ref);
  if (m === null || m[1] === undefined || m[3] === undefined) return undefined;
  return { namespace: m[1], name: m[3] };
}
