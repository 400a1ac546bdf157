// One shape for every failure that crosses the Kubernetes boundary: the apiserver's
// metav1.Status, our own HTTP client's errors, client-node's ApiException, network errors and
// aborts all end up as a KubeStatus, so callers branch on `code`/`reason` and never parse bodies.
import { z } from "zod";

export interface KubeStatus {
  /** HTTP status code; 0 when no response arrived (network error, abort). */
  code: number;
  /** metav1.StatusReason such as NotFound, Conflict, AlreadyExists, Expired, Gone; or Network, Timeout, Aborted, Unknown. */
  reason: string;
  message: string;
  /** Field causes from an Invalid response, `field: message`. */
  causes?: string[];
  /** Seconds the server asked us to wait (429/503), when given. */
  retryAfterSeconds?: number;
}

const statusBody = z.looseObject({
  kind: z.literal("Status").optional(),
  code: z.number().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  details: z
    .looseObject({
      retryAfterSeconds: z.number().optional(),
      causes: z.array(z.looseObject({ field: z.string().optional(), message: z.string().optional() })).optional(),
    })
    .optional(),
});

/** A failed Kubernetes request. */
export class KubeError extends Error {
  readonly status: KubeStatus;

  constructor(status: KubeStatus, options?: { cause?: unknown }) {
    super(`${status.reason} (${status.code}): ${status.message}`, options);
    this.name = "KubeError";
    this.status = status;
  }
}

const REASON_BY_CODE: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Gone",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Builds a KubeStatus from an HTTP response (code and raw body text, which may not be a Status). */
export function statusFromResponse(code: number, body: string): KubeStatus {
  let parsed: z.infer<typeof statusBody> | undefined;
  try {
    const r = statusBody.safeParse(JSON.parse(body));
    if (r.success) parsed = r.data;
  } catch {
    parsed = undefined;
  }
  const status: KubeStatus = {
    code,
    reason: parsed?.reason !== undefined && parsed.reason !== "" ? parsed.reason : (REASON_BY_CODE[code] ?? "Unknown"),
    message: parsed?.message ?? (body.trim().slice(0, 500) || `HTTP ${code}`),
  };
  const causes = parsed?.details?.causes?.map((c) => [c.field, c.message].filter((x) => x !== undefined && x !== "").join(": "));
  if (causes !== undefined && causes.length > 0) status.causes = causes;
  const retry = parsed?.details?.retryAfterSeconds;
  if (retry !== undefined) status.retryAfterSeconds = retry;
  return status;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return undefined;
}

/**
 * The one place that understands errors from any Kubernetes call. Never throws.
 * Handles KubeError, client-node's ApiException (`code` number + `body` string), aborts and
 * timeouts (DOMException names), Node network errors (`ECONNREFUSED`, …) and anything else.
 */
export function toStatus(err: unknown): KubeStatus {
  if (err instanceof KubeError) return err.status;
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number" && "body" in err) {
    const body = typeof err.body === "string" ? err.body : JSON.stringify(err.body);
    return statusFromResponse(err.code, body);
  }
  if (err instanceof Error) {
    if (err.name === "TimeoutError") return { code: 0, reason: "Timeout", message: err.message };
    if (err.name === "AbortError") return { code: 0, reason: "Aborted", message: err.message };
    const code = errorCode(err);
    if (code !== undefined && /^(E[A-Z]+|ERR_TLS|UND_ERR|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(code)) {
      return { code: 0, reason: "Network", message: `${code}: ${err.message}` };
    }
    return { code: 0, reason: "Unknown", message: err.message };
  }
  return { code: 0, reason: "Unknown", message: String(err) };
}

export function isNotFound(err: unknown): boolean {
  return toStatus(err).code === 404;
}

export function isConflict(err: unknown): boolean {
  return toStatus(err).code === 409;
}

export function isAlreadyExists(err: unknown): boolean {
  const s = toStatus(err);
  return s.code === 409 && s.reason === "AlreadyExists";
}

/** 410 Gone / Expired: a watch or list continue token is too old; relist. */
export function isGone(err: unknown): boolean {
  const s = toStatus(err);
  return s.code === 410 || s.reason === "Expired" || s.reason === "Gone";
}

/** Errors worth retrying as they are (the next attempt may succeed without any change). */
export function isTransient(err: unknown): boolean {
  const s = toStatus(err);
  return s.code === 0 || s.code === 409 || s.code === 429 || s.code >= 500;
}

/** One line for logs and condition messages. */
export function describeStatus(s: KubeStatus): string {
  const causes = s.causes !== undefined ? ` (${s.causes.join("; ")})` : "";
  return `${s.reason}${s.code !== 0 ? ` ${s.code}` : ""}: ${s.message}${causes}`;
}
