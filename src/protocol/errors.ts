// Failure classes of the wire contract (docs/protocol.md): what a task can end with, what a
// request can be refused with, and the HTTP status a caller sees for each.

/** Failure classes a task can end with (`error.type`). */
export const TASK_ERROR_TYPES = ["UserError", "BadConfiguration", "InputRejected", "Fatal", "Timeout", "Disrupted", "Cancelled"] as const;
export type TaskErrorType = (typeof TASK_ERROR_TYPES)[number];

/** Request-level error types of the caller API (not produced by a task). */
export const REQUEST_ERROR_TYPES = ["BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotReady", "Conflict", "TooLarge", "QueueFull", "Timeout", "Unavailable", "Internal", "MethodNotAllowed"] as const;
export type RequestErrorType = (typeof REQUEST_ERROR_TYPES)[number];

export type ErrorType = TaskErrorType | RequestErrorType;

const ERROR_TYPES: ReadonlySet<string> = new Set<string>([...REQUEST_ERROR_TYPES, ...TASK_ERROR_TYPES]);

export function isTaskErrorType(s: unknown): s is TaskErrorType {
  return typeof s === "string" && (TASK_ERROR_TYPES as readonly string[]).includes(s);
}

export function isErrorType(s: unknown): s is ErrorType {
  return typeof s === "string" && ERROR_TYPES.has(s);
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

/** Body of every non-2xx answer. */
export interface ErrorBody {
  error: { type: ErrorType; message: string; attempt?: number; taskId?: string };
}
