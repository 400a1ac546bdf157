// Credentials the gateway checks itself: static caller tokens (each bound to namespaces,
// src/auth/caller-tokens.ts) and HMAC worker tokens (src/auth/worker-token.ts: a worker of one
// Function cannot lease, complete or fail another's tasks). Warm pods' projected ServiceAccount
// tokens need the apiserver: src/gateway/worker-identities.ts. Fail closed: no tokens, an emptied token file
// or no signing key never opens an API — only `insecureOpen`, which tests and dev opt into.
import { createHash } from "node:crypto";
import type { StaticToken } from "../auth/caller-tokens.ts";
import { verifyTaskToken, verifyWorkerToken, workerToken } from "../auth/worker-token.ts";

/** As the operator requires of `workerTokens.signingKey`. */
export const MIN_SIGNING_KEY_LENGTH = 16;

export interface AuthConfig {
  /**
   * No authentication at all on the caller and worker APIs (anyone who can reach the gateway may
   * do anything). Tests and throwaway dev gateways only; the CLI flag logs it loudly.
   */
  insecureOpen?: boolean | undefined;
  /** Static caller tokens; a bare string may call every namespace. */
  callerTokens?: readonly (string | StaticToken)[] | undefined;
  /** Key worker tokens are signed with (at least 16 characters); undefined = worker API closed. */
  workerSigningKey?: string | Buffer | undefined;
}

export class AuthConfigError extends Error {}

export interface StaticIdentity {
  /** `static:<first 8 hex of the token's SHA-256>`: names the token in logs, reveals nothing. */
  user: string;
  namespaces: "*" | readonly string[];
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function index(tokens: readonly (string | StaticToken)[] | undefined): Map<string, StaticIdentity> {
  const out = new Map<string, StaticIdentity>();
  for (const t of tokens ?? []) {
    const { token, namespaces } = typeof t === "string" ? { token: t, namespaces: "*" as const } : t;
    if (token === "") continue;
    const d = digest(token);
    out.set(d, { user: `static:${d.slice(0, 8)}`, namespaces });
  }
  return out;
}

export function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export class Authenticator {
  readonly insecureOpen: boolean;
  // Hashes, so that the lookup time says nothing about how much of a guess was right.
  private callers: Map<string, StaticIdentity>;
  private readonly signingKey: string | Buffer | undefined;
  // Worker token digest → `namespace/name`: which Function a worker speaks for, known from its
  // token alone, so that worker routes authenticate before reading a body.
  private workerIndex = new Map<string, string>();
  private indexedAt = Number.NEGATIVE_INFINITY;

  constructor(config: AuthConfig) {
    this.insecureOpen = config.insecureOpen === true;
    this.callers = index(config.callerTokens);
    const key = config.workerSigningKey;
    if (key !== undefined && key.length > 0 && key.length < MIN_SIGNING_KEY_LENGTH) {
      throw new AuthConfigError(`the worker signing key has ${key.length} characters; it needs at least ${MIN_SIGNING_KEY_LENGTH}`);
    }
    this.signingKey = key === undefined || key.length === 0 ? undefined : key;
  }

  /** Replaces the static caller tokens (a rotated Secret). An empty list accepts none: never open. */
  setCallerTokens(tokens: readonly (string | StaticToken)[]): void {
    this.callers = index(tokens);
  }

  get staticTokens(): number {
    return this.callers.size;
  }

  /** Whether the caller API is open to anyone (insecureOpen only). */
  get callersOpen(): boolean {
    return this.insecureOpen;
  }

  /** Whether the worker API is open to anyone (insecureOpen without a signing key only). */
  get workersOpen(): boolean {
    return this.insecureOpen && this.signingKey === undefined;
  }

  /** The static token's identity, or undefined. */
  staticCaller(token: string): StaticIdentity | undefined {
    return this.callers.get(digest(token));
  }

  /** Whether the header holds a valid static caller token (any namespace binding). */
  caller(authorization: string | undefined): boolean {
    if (this.callersOpen) return true;
    const token = bearer(authorization);
    return token !== undefined && this.callers.has(digest(token));
  }

  /**
   * The Function (`namespace/name`) whose worker token the header holds, or undefined. Unknown
   * tokens re-index the known Functions (`keys`), at most once per `reindexMs`.
   */
  workerFunction(authorization: string | undefined, keys: () => Iterable<string>, now: number, reindexMs = 1000): string | undefined {
    const key = this.signingKey;
    const token = bearer(authorization);
    if (key === undefined || token === undefined) return undefined;
    const d = digest(token);
    const hit = this.workerIndex.get(d);
    if (hit !== undefined || now - this.indexedAt < reindexMs) return hit;
    const index = new Map<string, string>();
    for (const fn of keys()) {
      const slash = fn.indexOf("/");
      index.set(digest(workerToken(key, fn.slice(0, slash), fn.slice(slash + 1))), fn);
    }
    this.workerIndex = index;
    this.indexedAt = now;
    return index.get(d);
  }

  worker(authorization: string | undefined, namespace: string, name: string): boolean {
    if (this.signingKey === undefined) return this.workersOpen;
    const token = bearer(authorization);
    return token !== undefined && verifyWorkerToken(this.signingKey, namespace, name, token);
  }

  /** The token of one isolated call's pod, or its Function's worker token. */
  task(authorization: string | undefined, namespace: string, name: string, taskId: string): boolean {
    if (this.signingKey === undefined) return this.workersOpen;
    const token = bearer(authorization);
    return token !== undefined && (verifyTaskToken(this.signingKey, namespace, name, taskId, token) || verifyWorkerToken(this.signingKey, namespace, name, token));
  }
}
