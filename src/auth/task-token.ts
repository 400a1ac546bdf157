// Task-scoped tokens (seam 2): what a running handler calls other Functions with. The gateway
// mints one per lease and hands it to the worker with the task; the runtime's `ctx.function(…)`
// client sends it as a bearer token. The gateway verifies it by recomputing the HMAC, so it
// keeps no table of tokens. The token says which task calls (the child records it as its
// parent), in which namespace it may call (its own only), how deep the chain of calls already
// is, and until when it is valid.
//
// Format: `hct1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "hct1." + payload))>`.
// The key is derived from the gateway's signing key, so a worker token can never be replayed
// as a task token or the other way round.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";

export const TASK_TOKEN_PREFIX = "hct1.";

export interface TaskTokenClaims {
  /** The task that calls: recorded as the parent of every task it starts. */
  taskId: string;
  /** The calling task's namespace: the only one the token may call in. */
  namespace: string;
  /** How many calls deep the calling task is (0 = called by a client, not by a handler). */
  depth: number;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
}

/** The key task tokens are signed with, derived from the gateway's signing key. */
export function taskTokenKey(signingKey: string | Buffer): Buffer {
  return createHmac("sha256", signingKey).update("hearth task-scoped call tokens v1").digest();
}

/** One KeyObject per key: an HMAC keyed by a KeyObject costs a sixth of one keyed by a Buffer (one is minted per lease). */
const keyObjects = new WeakMap<Buffer, KeyObject>();

function mac(key: Buffer, payload: string): string {
  let k = keyObjects.get(key);
  if (k === undefined) keyObjects.set(key, (k = createSecretKey(key)));
  return createHmac("sha256", k).update(TASK_TOKEN_PREFIX).update(payload).digest("base64url");
}

export function mintTaskToken(key: Buffer, claims: TaskTokenClaims): string {
  const payload = Buffer.from(JSON.stringify({ t: claims.taskId, n: claims.namespace, d: claims.depth, e: claims.exp })).toString("base64url");
  return `${TASK_TOKEN_PREFIX}${payload}.${mac(key, payload)}`;
}

export type TaskTokenCheck = { ok: true; claims: TaskTokenClaims } | { ok: false; reason: "notTaskToken" | "badSignature" | "malformed" | "expired" };

/** Checks a token's signature and expiry (pure: `now` in ms since the epoch). */
export function checkTaskToken(key: Buffer, token: string, now: number): TaskTokenCheck {
  if (!token.startsWith(TASK_TOKEN_PREFIX)) return { ok: false, reason: "notTaskToken" };
  const rest = token.slice(TASK_TOKEN_PREFIX.length);
  const dot = rest.indexOf(".");
  if (dot <= 0) return { ok: false, reason: "malformed" };
  const payload = rest.slice(0, dot);
  const given = Buffer.from(rest.slice(dot + 1));
  const expected = Buffer.from(mac(key, payload));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "badSignature" };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (typeof raw !== "object" || raw === null) return { ok: false, reason: "malformed" };
  const r = raw as Record<string, unknown>;
  const { t, n, d, e } = r;
  if (typeof t !== "string" || typeof n !== "string" || typeof d !== "number" || !Number.isInteger(d) || d < 0 || typeof e !== "number") return { ok: false, reason: "malformed" };
  if (now >= e) return { ok: false, reason: "expired" };
  return { ok: true, claims: { taskId: t, namespace: n, depth: d, exp: e } };
}
