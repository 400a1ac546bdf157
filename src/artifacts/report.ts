// The artifact fetcher's word to the gateway, so the Function's status shows a first download
// as it runs and says why a failed one failed. The fetch init container (and dev mode's same
// step) has the worker's identity (HEARTH_GATEWAY_URL, HEARTH_WORKER_TOKEN_FILE or _TOKEN, HEARTH_WORKER_ID,
// HEARTH_FUNCTION): it sends the heartbeats the worker itself would send during setup() —
// `setup` progress (0.4, "downloading whisper (200.0 MB)") while downloading, and on failure
// state `failed` with the reason (DownloadFailed, ChecksumMismatch, InvalidArtifact). The gateway's
// setup summaries carry both to status.setup, and the Function controller to Ready/Degraded.
// Dev mode's runner reports a failed pythonPackages install (PackageInstallFailed) the same way.
// Best effort: a gateway that cannot be reached never fails the download.
import type { SetupReport } from "../runtime/setup-watch.ts";
import { WorkerApi } from "../runtime/worker-api.ts";
import { workerTokenSource } from "../runtime/worker-token.ts";
import type { ArtifactErrorReason } from "./fetch.ts";

export interface FetchReporter {
  progress(name: string, got: number, total: number | undefined): void;
  failed(reason: ArtifactErrorReason | "PackageInstallFailed", message: string): Promise<void>;
  close(): void;
}

const fmtMB = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/** Progress 0..1 and "downloading whisper (200.0 MB)" (status shows "loading: 40% downloading whisper (200.0 MB)"). */
export function downloadMessage(name: string, got: number, total: number | undefined): { value: number; message: string } {
  if (total === undefined || total <= 0) return { value: 0, message: `downloading ${name} (${fmtMB(got)} so far)` };
  return { value: Math.min(1, got / total), message: `downloading ${name} (${fmtMB(total)})` };
}

/** The heartbeat error of a failed fetch: a wrong checksum or spec is configuration, a failed download may pass. */
export function failureError(reason: ArtifactErrorReason | "PackageInstallFailed", message: string): { type: string; message: string; reason: string } {
  return { type: reason === "DownloadFailed" ? "Unavailable" : "BadConfiguration", message, reason };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** A reporter when the environment names a gateway and a worker; undefined otherwise (isolated Jobs, tools). */
export function reporterFromEnv(env: NodeJS.ProcessEnv, now: () => number = Date.now): FetchReporter | undefined {
  const url = env["HEARTH_GATEWAY_URL"];
  const fn = env["HEARTH_FUNCTION"];
  const worker = env["HEARTH_WORKER_ID"];
  if (url === undefined || url === "" || fn === undefined || fn === "" || worker === undefined || worker === "") return undefined;
  const token = workerTokenSource({ workerTokenFile: nonEmpty(env["HEARTH_WORKER_TOKEN_FILE"]), workerToken: nonEmpty(env["HEARTH_WORKER_TOKEN"]) });
  const api = new WorkerApi(url, token.provider, fn, worker);
  const startedAt = now();
  const timeoutSeconds = Number(env["HEARTH_STARTUP_TIMEOUT_SECONDS"] ?? "") || 600;
  const setup = (progress?: { value: number; message: string }): SetupReport => (progress === undefined ? { startedAt, timeoutSeconds } : { startedAt, timeoutSeconds, progress });
  let inFlight = false;
  let last = 0;
  return {
    progress(name, got, total) {
      const t = now();
      if (inFlight || t - last < 1000) return;
      inFlight = true;
      last = t;
      api
        .heartbeat({ busy: 0, ready: false, state: "setup", tasks: [], setup: setup(downloadMessage(name, got, total)) })
        .catch(() => undefined)
        .finally(() => (inFlight = false));
    },
    async failed(reason, message) {
      await api.heartbeat({ busy: 0, ready: false, state: "failed", tasks: [], error: failureError(reason, message), setup: setup() }).catch(() => undefined);
    },
    close() {
      api.close();
    },
  };
}
