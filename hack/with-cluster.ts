// Runs a command against a local cluster: `node hack/with-cluster.ts <cmd> [args…]`.
//
// With HEARTH_KUBECONFIG set, just runs the command (reuse a cluster from `cluster.ts up`).
// Otherwise starts one cluster for this run (nodes: $HEARTH_TEST_NODES or the default set),
// runs the command with HEARTH_KUBECONFIG and KUBECONFIG pointing at it, and tears the cluster
// down afterwards — also on failure and on SIGINT/SIGTERM/SIGHUP — exiting with the command's
// code. If this process is killed outright, the next run (or `cluster.ts prune`) stops the
// orphaned cluster: its state records this process as owner.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { constants } from "node:os";
import { DEFAULT_NODES, parseNodesFlag, resolveBinaries, startDevCluster, type DevCluster } from "../src/devcluster/index.ts";
import { BUILD_SCRIPT, CLUSTERS_ROOT, pruneOrphans } from "./cluster.ts";

const say = (line: string): void => void process.stderr.write(line + "\n");
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Runs the command; resolves with the exit code to use (128 + n when killed by signal n). */
async function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, forward: AbortSignal): Promise<number> {
  const child = spawn(cmd, args, { stdio: "inherit", env });
  const onAbort = (): void => void child.kill(forward.reason === "SIGINT" ? "SIGINT" : "SIGTERM");
  forward.addEventListener("abort", onAbort, { once: true });
  return new Promise((resolve) => {
    child.once("error", (err) => {
      say(`[with-cluster] cannot run ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.once("exit", (code, signal) => {
      forward.removeEventListener("abort", onAbort);
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
    });
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) {
    say("usage: node hack/with-cluster.ts <cmd> [args…]");
    return 2;
  }
  const given = process.env["HEARTH_KUBECONFIG"];
  const interrupted = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  /** 128 + n once signal n arrived (the shell's convention), else undefined. */
  const signalExitCode = (): number | undefined => (signalled === undefined ? undefined : 128 + constants.signals[signalled]);
  for (const s of SIGNALS) {
    process.on(s, () => {
      signalled ??= s;
      interrupted.abort(s);
    });
  }
  if (given !== undefined && given !== "") {
    return run(cmd, args, { ...process.env, KUBECONFIG: given }, interrupted.signal);
  }

  await pruneOrphans();
  const name = `test-${process.pid}`;
  const binDir = await resolveBinaries({ buildScript: BUILD_SCRIPT, onProgress: say, signal: interrupted.signal }).catch((err: unknown) => {
    if (signalExitCode() === undefined) throw err;
    return undefined;
  });
  if (binDir === undefined) return signalExitCode() ?? 1;
  let cluster: DevCluster | undefined;
  try {
    cluster = await startDevCluster({
      name,
      binDir,
      dir: join(CLUSTERS_ROOT, name),
      nodes: parseNodesFlag(process.env["HEARTH_TEST_NODES"] ?? DEFAULT_NODES),
      ownerPid: process.pid,
      onProgress: say,
      signal: interrupted.signal,
    }).catch((err: unknown) => {
      if (signalExitCode() === undefined) throw err;
      return undefined;
    });
    const early = signalExitCode();
    if (early !== undefined || cluster === undefined) return early ?? 1;
    void cluster.failure.then((err) => say(`[with-cluster] the cluster broke during the run: ${err.message}`));
    const env = { ...process.env, HEARTH_KUBECONFIG: cluster.kubeconfigPath, KUBECONFIG: cluster.kubeconfigPath };
    const t0 = performance.now();
    const code = await run(cmd, args, env, interrupted.signal);
    say(`[with-cluster] command exited with ${code} after ${((performance.now() - t0) / 1000).toFixed(1)}s`);
    return code === 0 ? (signalExitCode() ?? 0) : code;
  } finally {
    await cluster?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`[with-cluster] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
