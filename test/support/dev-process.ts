// `hearth dev` as the integration tests run it: a real child process on the test cluster, in its
// own process group, with its own state directory (keys, gateway store, logs), so several dev-mode
// tests can run at the same time without sharing a gateway store or a token.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { freePort } from "../../src/dev/dev.ts";
import { waitFor } from "./cluster.ts";

export interface DevMode {
  process: ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  port: number;
  /** The gateway's URL. */
  url: string;
  /** The caller token dev mode printed (`HEARTH_TOKEN=`). */
  token: string;
  stateDir: string;
  /** Everything dev mode has printed so far (stdout and stderr). */
  readonly output: string;
}

export interface DevModeOptions {
  kubeconfig: string;
  namespace: string;
  /** Defaults to a new temporary directory, removed after the test. */
  stateDir?: string;
  /** Extra environment (HEARTH_LOG_LEVEL is "warn" unless given). */
  env?: Record<string, string>;
  /** Extra `hearth dev` arguments. */
  args?: string[];
}

/** Starts `hearth dev` and waits for its banner; stopped (then its state removed) after the test. */
export async function startDevMode(t: TestContext, opts: DevModeOptions): Promise<DevMode> {
  const ownState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), "hearth-dev-test-"));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ["src/cli/main.ts", "dev", `--kubeconfig=${opts.kubeconfig}`, `--namespace=${opts.namespace}`, `--gateway-port=${port}`, `--state-dir=${stateDir}`, ...(opts.args ?? [])],
    { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, HEARTH_LOG_LEVEL: "warn", ...opts.env } },
  );
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  t.after(async () => {
    await stopDevProcess(child, exited);
    if (ownState) rmSync(stateDir, { recursive: true, force: true });
  });
  const token = await waitFor(() => /HEARTH_TOKEN=(\S+)/.exec(output)?.[1], { timeoutMs: 90_000, what: `dev mode banner; output so far:\n${output}` });
  return {
    process: child,
    exited,
    port,
    url: `http://127.0.0.1:${port}`,
    token,
    stateDir,
    get output() {
      return output;
    },
  };
}

/**
 * SIGINT first: dev mode stops its gateway, operator and workers (each in its own process group)
 * itself; a SIGKILL of dev's group alone would leave them running. SIGKILL after `graceMs`.
 */
export async function stopDevProcess(dev: ChildProcess, exited: Promise<unknown>, graceMs = 20_000): Promise<void> {
  if (dev.exitCode !== null || dev.signalCode !== null || dev.pid === undefined) return;
  const pid = dev.pid;
  process.kill(pid, "SIGINT");
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}
