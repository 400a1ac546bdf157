// The warm worker's credential for the gateway (docs/protocol.md "Worker authentication"): the
// projected ServiceAccount token the kubelet writes to HEARTH_WORKER_TOKEN_FILE and rotates
// (about hourly), else HEARTH_WORKER_TOKEN (dev workers, pods of an older operator). The file is
// re-read when a channel (re)connects, after a 401, and at least every minute otherwise.
import { readFileSync } from "node:fs";

/** `fresh`: re-read the file now (a 401, a new channel). */
export type WorkerTokenProvider = (fresh: boolean) => string | undefined;

export interface WorkerTokenSourceOptions {
  /** HEARTH_WORKER_TOKEN_FILE. */
  file?: string | undefined;
  /** HEARTH_WORKER_TOKEN: used when there is no file or it cannot be read. */
  fallback?: string | undefined;
  now?: () => number;
  /** Re-read the file when the last read is older than this. Default 60 s. */
  maxAgeMs?: number;
  read?: (path: string) => string;
}

export class WorkerTokenSource {
  private readonly o: WorkerTokenSourceOptions;
  private token: string | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  /** Why the file could not be read the last time (undefined: it could). */
  problem: string | undefined;

  constructor(opts: WorkerTokenSourceOptions) {
    this.o = opts;
  }

  /** The token to send now. */
  current(fresh = false): string | undefined {
    const file = this.o.file;
    if (file === undefined) return this.o.fallback;
    const now = (this.o.now ?? Date.now)();
    if (fresh || now - this.readAt >= (this.o.maxAgeMs ?? 60_000)) {
      this.readAt = now;
      try {
        const t = (this.o.read ?? ((p: string) => readFileSync(p, "utf8")))(file).trim();
        if (t !== "") {
          this.token = t;
          this.problem = undefined;
        } else this.problem = `${file} is empty`;
      } catch (err) {
        // Keep the last good token: a rotation replaces the file atomically, so this is rare.
        this.problem = `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    return this.token ?? this.o.fallback;
  }

  /** As a provider for WorkerApi / WorkerChannel. */
  get provider(): WorkerTokenProvider {
    return (fresh) => this.current(fresh);
  }
}

/** The worker token source of a worker's configuration. */
export function workerTokenSource(config: { workerTokenFile?: string | undefined; workerToken: string | undefined }): WorkerTokenSource {
  return new WorkerTokenSource({ file: config.workerTokenFile, fallback: config.workerToken });
}
