// How a task ends: thrown values become exit-code classes, return values become JSON text.
import type { WireFailure } from "./ipc.ts";
import { BindError, HandlerConfigError, isFatalError, isInputRejected } from "./errors.ts";

export const MAX_MESSAGE = 8192;

/** Thrown when a return value cannot be sent as JSON. */
export class OutputError extends Error {}

/**
 * `Name: message` plus the innermost frame of user code: enough for a caller to act on without
 * the worker's logs (which hold the full stack).
 */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return truncate(`thrown value: ${safeString(err)}`);
  let text = err.message === "" ? err.name : `${err.name}: ${err.message}`;
  const frame = (err.stack ?? "")
    .split("\n")
    .slice(1)
    .map((l) => l.trim())
    .find((l) => l.startsWith("at ") && !l.includes("/src/runtime/") && !l.includes("node:internal") && !l.includes("(native)"));
  if (frame !== undefined) text += ` (${frame})`;
  return truncate(text);
}

function safeString(v: unknown): string {
  try {
    return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

function truncate(s: string): string {
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE - 1)}…` : s;
}

export function classify(err: unknown): WireFailure {
  if (isFatalError(err)) return { type: "Fatal", message: describe(err) };
  if (err instanceof BindError) return { type: "InputRejected", message: truncate(err.message) };
  if (isInputRejected(err)) return { type: "InputRejected", message: truncate(err instanceof Error && err.message !== "" ? err.message : "input rejected") };
  if (err instanceof HandlerConfigError) return { type: "BadConfiguration", message: truncate(err.message) };
  if (err instanceof OutputError) return { type: "UserError", message: truncate(err.message) };
  return { type: "UserError", message: describe(err) };
}

/** JSON text of a return value (`undefined` is `null`); throws OutputError. */
export function encodeOutput(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new OutputError(`output is not JSON-serializable: ${err instanceof Error ? err.message : String(err)}`);
  }
  return text ?? "null";
}
