import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { COMPONENTS } from "./plan.ts";

/** Environment variable naming a directory with prebuilt binaries (skips the build script). */
export const BIN_DIR_ENV = "HEARTH_K8S_BIN_DIR";

export function missingBinaries(binDir: string): string[] {
  return COMPONENTS.filter((c) => {
    try {
      accessSync(join(binDir, c), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

export interface ResolveBinariesOptions {
  /** `hack/build-control-plane.sh`: builds once (cached), prints the bin dir as its last line. */
  readonly buildScript: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Receives the build's progress lines (its stderr). */
  readonly onProgress?: (line: string) => void;
  /** Aborting stops the build (its whole process group: bash and the Go compilers). */
  readonly signal?: AbortSignal;
}

/**
 * The directory holding kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok:
 * `$HEARTH_K8S_BIN_DIR`, or whatever the build script prints (a no-op when cached).
 */
export async function resolveBinaries(options: ResolveBinariesOptions): Promise<string> {
  const env = options.env ?? process.env;
  const fromEnv = env[BIN_DIR_ENV];
  const binDir = fromEnv !== undefined && fromEnv !== "" ? fromEnv : await runBuildScript(options.buildScript, env, options.onProgress, options.signal);
  const missing = missingBinaries(binDir);
  if (missing.length > 0) throw new Error(`missing control-plane binaries in ${binDir}: ${missing.join(", ")}`);
  return binDir;
}

async function runBuildScript(script: string, env: NodeJS.ProcessEnv, onProgress?: (line: string) => void, signal?: AbortSignal): Promise<string> {
  signal?.throwIfAborted();
  // Own process group, so an abort reaches `go build` too, not just bash.
  const child = spawn("bash", [script], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const onAbort = (): void => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  let stdout = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    const lines = (partial + d).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onProgress?.(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  signal?.removeEventListener("abort", onAbort);
  if (partial !== "") onProgress?.(partial);
  signal?.throwIfAborted();
  if (code !== 0) throw new Error(`${script} failed with exit code ${String(code)}`);
  const last = stdout.trim().split("\n").pop()?.trim() ?? "";
  if (last === "") throw new Error(`${script} printed no binary directory`);
  return last;
}
