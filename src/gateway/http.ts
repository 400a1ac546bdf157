// Request/response helpers on bare node:http: bounded bodies and JSON errors with honest status
// codes (docs/protocol.md, "Caller API").
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorType } from "../protocol/index.ts";

export class HttpError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly extra: Record<string, unknown>;

  constructor(status: number, type: ErrorType, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.extra = extra;
  }
}

export function statusOf(type: ErrorType): number {
  switch (type) {
    case "BadRequest":
    case "InputRejected":
      return 400;
    case "Unauthorized":
      return 401;
    case "Forbidden":
      return 403;
    case "NotFound":
      return 404;
    case "NotReady":
    case "Conflict":
    case "Cancelled":
      return 409;
    case "TooLarge":
      return 413;
    case "MethodNotAllowed":
      return 405;
    case "QueueFull":
      return 429;
    case "Timeout":
      return 504;
    case "Unavailable":
      return 503;
    case "Internal":
    case "UserError":
    case "BadConfiguration":
    case "Fatal":
    case "Disrupted":
      return 500;
  }
}

export function errorJson(type: ErrorType, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error: { type, message, ...extra } });
}

/** Reads the whole body, at most `limit` bytes (413 beyond). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "-1");
  if (declared > limit) {
    return Promise.reject(new HttpError(413, "TooLarge", `request body is ${declared} bytes; the limit is ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, "TooLarge", `request body is over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks));
    });
    // A client that hangs up or is cut off by the request timeout is a bad request, not our error.
    req.on("error", (err) => {
      if (!failed) reject(new HttpError(400, "BadRequest", `the request body was not received whole: ${err.message}`));
    });
  });
}

/** A JSON object body, or 400. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new HttpError(400, "BadRequest", `body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new HttpError(400, "BadRequest", "body must be a JSON object");
  return value as Record<string, unknown>;
}

/**
 * Runs `wait` while the caller's connection stays open: its signal aborts when the connection
 * closes, and then the answer is `closed` (nobody is left to answer).
 */
export async function whileConnected<T>(res: ServerResponse, wait: (signal: AbortSignal) => Promise<T>): Promise<{ closed: true } | { closed: false; value: T }> {
  const abort = new AbortController();
  const onClose = (): void => abort.abort();
  res.on("close", onClose);
  try {
    const value = await wait(abort.signal);
    return abort.signal.aborted ? { closed: true } : { closed: false, value };
  } finally {
    res.off("close", onClose);
  }
}

export function send(res: ServerResponse, status: number, body: string | Buffer, contentType = "application/json", headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendError(res: ServerResponse, err: HttpError, headers: Record<string, string> = {}): void {
  send(res, err.status, errorJson(err.type, err.message, err.extra), "application/json", headers);
}

/** `?a=1&b=2` → map; the last value wins. */
export function queryOf(url: string): Map<string, string> {
  const q = new Map<string, string>();
  const i = url.indexOf("?");
  if (i < 0) return q;
  for (const [k, v] of new URLSearchParams(url.slice(i + 1))) q.set(k, v);
  return q;
}

export function str(obj: Record<string, unknown>, key: string, opts: { max?: number; optional?: false }): string;
export function str(obj: Record<string, unknown>, key: string, opts: { max?: number; optional: true }): string | undefined;
export function str(obj: Record<string, unknown>, key: string, opts: { max?: number; optional?: boolean }): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (opts.optional === true) return undefined;
    throw new HttpError(400, "BadRequest", `"${key}" is required`);
  }
  if (typeof v !== "string" || v === "") throw new HttpError(400, "BadRequest", `"${key}" must be a non-empty string`);
  if (opts.max !== undefined && v.length > opts.max) throw new HttpError(400, "BadRequest", `"${key}" is longer than ${opts.max} characters`);
  return v;
}

export function int(obj: Record<string, unknown>, key: string, def: number, low: number, high: number): number {
  const v = obj[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < low || v > high) throw new HttpError(400, "BadRequest", `"${key}" must be an integer between ${low} and ${high}`);
  return v;
}
