// The runtime contract's exit codes (docs/protocol.md, DESIGN.md): one table saying, per class a
// worker process can end with, its code, what it means to a user, and whether another attempt
// can help. The gateway's retries, the Job controller's podFailurePolicy and the Function
// controller's messages all read it.
import type { TaskErrorType } from "./errors.ts";

/** Classes a worker process can end with; Disrupted and Cancelled are decided by others. */
export type ExitErrorType = Exclude<TaskErrorType, "Disrupted" | "Cancelled">;

export interface ExitClass {
  readonly code: number;
  /** Shown after the class name in messages about a crashed worker. */
  readonly meaning: string;
  /** false: the same input fails the same way (bad input, bad configuration); retrying cannot help. */
  readonly retryable: boolean;
}

export const EXIT_CLASSES: Readonly<Record<ExitErrorType, ExitClass>> = {
  UserError: { code: 1, meaning: "setup() or the handler raised", retryable: true },
  BadConfiguration: { code: 2, meaning: "the handler cannot be imported or has the wrong signature", retryable: false },
  InputRejected: { code: 65, meaning: "", retryable: false },
  Fatal: { code: 75, meaning: "FatalError or a CUDA error", retryable: true },
  Timeout: { code: 124, meaning: "a deadline passed (setup(): startupTimeoutSeconds, reason SetupTimeout; a call: timeoutSeconds)", retryable: true },
};

export const EXIT_ERROR_TYPES = Object.keys(EXIT_CLASSES) as readonly ExitErrorType[];

export const EXIT_CODES: Readonly<Record<ExitErrorType, number>> = {
  UserError: EXIT_CLASSES.UserError.code,
  BadConfiguration: EXIT_CLASSES.BadConfiguration.code,
  InputRejected: EXIT_CLASSES.InputRejected.code,
  Fatal: EXIT_CLASSES.Fatal.code,
  Timeout: EXIT_CLASSES.Timeout.code,
};

/** Codes a container gets from signals rather than from the runtime, for messages. */
export const SIGNAL_EXIT_MEANINGS: Readonly<Record<number, string>> = {
  137: "killed (out of memory or SIGKILL)",
  143: "terminated (SIGTERM)",
};

export function isExitErrorType(s: unknown): s is ExitErrorType {
  return typeof s === "string" && Object.hasOwn(EXIT_CLASSES, s);
}

export function exitCodeOf(type: TaskErrorType): number | undefined {
  return isExitErrorType(type) ? EXIT_CODES[type] : undefined;
}

export function errorTypeOfExitCode(code: number): ExitErrorType | undefined {
  return EXIT_ERROR_TYPES.find((t) => EXIT_CODES[t] === code);
}

/** "UserError: setup() or the handler raised", "killed (…)", or undefined for an unknown code. */
export function describeExitCode(code: number): string | undefined {
  const type = errorTypeOfExitCode(code);
  if (type === undefined) return SIGNAL_EXIT_MEANINGS[code];
  const meaning = EXIT_CLASSES[type].meaning;
  return meaning === "" ? type : `${type}: ${meaning}`;
}
