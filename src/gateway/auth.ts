// Who may call what: callers present one of the configured bearer tokens; workers present the
// token of their Function (src/auth/worker-token.ts), so a worker of one Function cannot lease,
// complete or fail another's tasks. Nothing configured = open (dev only; the CLI warns).
import { createHash } from "node:crypto";
import { verifyTaskToken, verifyWorkerToken } from "../auth/worker-token.ts";

export interface AuthConfig {
  /** Bearer tokens callers may use; undefined or empty = caller API open. */
  callerTokens?: readonly string[] | undefined;
  /** Key worker tokens are signed with; undefined = worker API open. */
  workerSigningKey?: string | Buffer | undefined;
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}

function digests(tokens: readonly string[] | undefined): Set<string> | undefined {
  const kept = (tokens ?? []).filter((t) => t !== "");
  return kept.length === 0 ? undefined : new Set(kept.map(digest));
}

export function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export class Authenticator {
  // Hashes, so that the lookup time says nothing about how much of a guess was right.
  private callerDigests: Set<string> | undefined;
  private readonly signingKey: string | Buffer | undefined;

  constructor(config: AuthConfig) {
    this.callerDigests = digests(config.callerTokens);
    this.signingKey = config.workerSigningKey === undefined || config.workerSigningKey.length === 0 ? undefined : config.workerSigningKey;
  }

  /** Replaces the caller tokens (a rotated Secret); an empty list opens the caller API. */
  setCallerTokens(tokens: readonly string[]): void {
    this.callerDigests = digests(tokens);
  }

  get callersOpen(): boolean {
    return this.callerDigests === undefined;
  }

  get workersOpen(): boolean {
    return this.signingKey === undefined;
  }

  caller(authorization: string | undefined): boolean {
    if (this.callerDigests === undefined) return true;
    const token = bearer(authorization);
    return token !== undefined && this.callerDigests.has(digest(token));
  }

  worker(authorization: string | undefined, namespace: string, name: string): boolean {
    if (this.signingKey === undefined) return true;
    const token = bearer(authorization);
    return token !== undefined && verifyWorkerToken(this.signingKey, namespace, name, token);
  }

  /** The token of one isolated call's pod, or its Function's worker token. */
  task(authorization: string | undefined, namespace: string, name: string, taskId: string): boolean {
    if (this.signingKey === undefined) return true;
    const token = bearer(authorization);
    return token !== undefined && (verifyTaskToken(this.signingKey, namespace, name, taskId, token) || verifyWorkerToken(this.signingKey, namespace, name, token));
  }
}

/** Caller tokens from a file: one per line, `#` comments and blank lines ignored. */
export function parseTokenFile(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
