// What a caller may say about one task beside its input (docs/protocol.md, "Per-task options"):
// the Idempotency-Key header and per-task overrides of the Function's timeoutSeconds and retry
// policy as query parameters. Pure parsing; bad values are a 400 with a message, never clamped.
import { HttpError } from "./http.ts";
import type { FunctionSettings } from "./registry.ts";
import type { RetryPolicy } from "../protocol/index.ts";
import type { SubmitOptions } from "./tasks.ts";

export const MAX_IDEMPOTENCY_KEY = 256;
const KEY_CHARS = /^[\x20-\x7e]+$/;

/** The Idempotency-Key header: 1–256 printable ASCII characters, or absent. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new HttpError(400, "BadRequest", "send one Idempotency-Key header");
  if (header === "") throw new HttpError(400, "BadRequest", "Idempotency-Key is empty");
  if (header.length > MAX_IDEMPOTENCY_KEY) throw new HttpError(400, "BadRequest", `Idempotency-Key is ${header.length} characters; the limit is ${MAX_IDEMPOTENCY_KEY}`);
  if (!KEY_CHARS.test(header)) throw new HttpError(400, "BadRequest", "Idempotency-Key must be printable ASCII");
  return header;
}

interface Bound {
  min: number;
  max: number;
  integer: boolean;
}

// The same bounds as the Function and Job schemas (src/api/v1alpha1/common.ts).
const TIMEOUT: Bound = { min: 1, max: 86_400, integer: true };
const RETRY_FIELDS: Record<keyof RetryPolicy, Bound> = {
  maxRetries: { min: 0, max: 100, integer: true },
  initialBackoffSeconds: { min: 0, max: 3600, integer: false },
  maxBackoffSeconds: { min: 0, max: 86_400, integer: false },
  multiplier: { min: 1, max: 10, integer: false },
};

function numberParam(query: ReadonlyMap<string, string>, name: string, b: Bound): number | undefined {
  const text = query.get(name);
  if (text === undefined) return undefined;
  const v = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(v) || v < b.min || v > b.max || (b.integer && !Number.isInteger(v))) {
    throw new HttpError(400, "BadRequest", `${name} must be ${b.integer ? "an integer" : "a number"} from ${b.min} to ${b.max}, got ${JSON.stringify(text.slice(0, 64))}`);
  }
  return v;
}

/**
 * Per-task overrides from `?timeoutSeconds=&maxRetries=&initialBackoffSeconds=&maxBackoffSeconds=&multiplier=`.
 * Retry fields not given keep the Function's values.
 */
export function taskOverridesOf(query: ReadonlyMap<string, string>, fn: FunctionSettings): Pick<SubmitOptions, "timeoutSeconds" | "retries"> {
  const out: Pick<SubmitOptions, "timeoutSeconds" | "retries"> = {};
  const timeout = numberParam(query, "timeoutSeconds", TIMEOUT);
  if (timeout !== undefined) out.timeoutSeconds = timeout;
  let retries: RetryPolicy | undefined;
  for (const field of Object.keys(RETRY_FIELDS) as (keyof RetryPolicy)[]) {
    const v = numberParam(query, field, RETRY_FIELDS[field]);
    if (v !== undefined) retries = { ...(retries ?? fn.retries), [field]: v };
  }
  if (retries !== undefined) {
    if (retries.maxBackoffSeconds < retries.initialBackoffSeconds) throw new HttpError(400, "BadRequest", "maxBackoffSeconds must be at least initialBackoffSeconds");
    out.retries = retries;
  }
  return out;
}
