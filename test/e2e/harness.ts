// End-to-end fixtures: a real gateway (in-process, or as its own `hearth gateway` process when
// a test must kill -9 it) and real `hearth worker` processes (supervisor + child each).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { createClient, type HearthClient } from "../../src/client/index.ts";
import { Gateway, type GatewayOptions } from "../../src/gateway/gateway.ts";
import { StaticRegistry, staticFunction, type FunctionSettings } from "../../src/gateway/registry.ts";

export const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
export const E2E_HANDLERS = fileURLToPath(new URL("./handlers/", import.meta.url));

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `hearth-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestGateway {
  gateway: Gateway;
  registry: StaticRegistry;
  client: HearthClient;
  stop(): Promise<void>;
}

export async function startGateway(fns: (Partial<FunctionSettings> & { name: string })[], opts: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const dir = tempDir("gw");
  const registry = new StaticRegistry(fns.map((f) => staticFunction({ namespace: "default", ...f })));
  // Authentication is tested on its own (gateway-server, gateway-authz); here it is opted out of.
  const gateway = await Gateway.start({ storePath: join(dir.path, "gateway.db"), registry, auth: { insecureOpen: true }, ...opts });
  const client = createClient({ url: gateway.url });
  return {
    gateway,
    registry,
    client,
    stop: async () => {
      client.close();
      await gateway.stop();
      dir.remove();
    },
  };
}

export interface WorkerProcess {
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** SIGTERM: drain and exit. */
  stop(): Promise<number | null>;
  /** SIGKILL the supervisor; its child notices the closed channel and exits too. */
  kill(): Promise<number | null>;
  stderr(): string;
}

export interface WorkerInit {
  gatewayUrl: string;
  fn: string;
  handler: string;
  codePath?: string;
  env?: Record<string, string>;
}

export const PYTHON_SDK = fileURLToPath(new URL("../../sdk/python/", import.meta.url));

/** A real Node `hearth worker` process. */
export function startWorker(init: WorkerInit): WorkerProcess {
  return spawnWorker(process.execPath, [MAIN, "worker"], {}, init);
}

/** A real Python runtime process (`python3 -m hearth.runtime`, the SDK from this checkout). */
export function startPythonWorker(init: WorkerInit): WorkerProcess {
  return spawnWorker("python3", ["-m", "hearth.runtime"], { PYTHONPATH: PYTHON_SDK, PYTHONDONTWRITEBYTECODE: "1" }, init);
}

function spawnWorker(command: string, args: string[], runtimeEnv: Record<string, string>, init: WorkerInit): WorkerProcess {
  let err = "";
  // Its own process group: kill() ends the supervisor and its child together, as a container's
  // end (or `hearth dev`) does — a Node child holding the worker channel would otherwise live on
  // for a moment after its supervisor.
  const proc = spawn(command, args, {
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      PATH: process.env["PATH"] ?? "",
      ...runtimeEnv,
      HEARTH_MODE: "warm",
      HEARTH_HANDLER: init.handler,
      HEARTH_FUNCTION: init.fn,
      HEARTH_GATEWAY_URL: init.gatewayUrl,
      HEARTH_CODE_PATH: init.codePath ?? E2E_HANDLERS,
      HEARTH_HEALTH_PORT: "0",
      HEARTH_WORKER_ID: `w-${Math.random().toString(36).slice(2, 8)}`,
      HEARTH_HEARTBEAT_MS: "250",
      ...init.env,
    },
  });
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (d: string) => {
    err += d;
    if (process.env["HEARTH_E2E_VERBOSE"] === "1") process.stderr.write(d);
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    proc,
    exited,
    stderr: () => err,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      const group = proc.pid === undefined ? [] : groupMembers(proc.pid);
      if (proc.pid !== undefined) {
        try {
          process.kill(-proc.pid, "SIGKILL");
        } catch {
          // the group is gone already
        }
      }
      const code = await exited;
      // Gone means every process of the group: the child's connections close with it. Then one
      // turn of this process's event loop, so an in-process gateway has read those closes before
      // the caller's next request (a grant written to a connection that already closed is lost
      // until its deadline).
      for (let i = 0; i < 250 && group.some(alive); i++) await sleep(20);
      await sleep(20);
      return code;
    },
  };
}

/** The processes of process group `pgid` (Linux /proc). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Still running (not gone, not a zombie waiting to be reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Polls until `fn` returns a value other than undefined/false. */
export async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface GatewayProcess {
  url: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** `hearth gateway` as its own process, on a given store and Function manifests. */
export async function startGatewayProcess(dir: string, store: string, fns: { name: string; timeoutSeconds?: number }[], port?: number, extraDocs: readonly object[] = []): Promise<GatewayProcess> {
  const manifest = join(dir, "functions.yaml");
  writeFileSync(
    manifest,
    [
      ...fns.map((f) =>
        stringify({
          apiVersion: "hearth.dev/v1alpha1",
          kind: "Function",
          metadata: { name: f.name, namespace: "default" },
          spec: { image: "example/none:1", handler: "m:f", runtime: "node", timeoutSeconds: f.timeoutSeconds ?? 300 },
        }),
      ),
      ...extraDocs.map((d) => stringify(d)),
    ].join("---\n"),
  );
  const p = port ?? (await freePort());
  let err = "";
  const proc = spawn(process.execPath, [MAIN, "gateway", "--port", String(p), "--host", "127.0.0.1", "--store", store, "--functions", manifest, "--log-level", "warn", "--insecure-open"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { PATH: process.env["PATH"] ?? "" },
  });
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${p}`;
  await until(async () => {
    if (proc.exitCode !== null) throw new Error(`gateway exited ${proc.exitCode}: ${err}`);
    try {
      const res = await fetch(`${url}/readyz`);
      return res.status === 200;
    } catch {
      return false;
    }
  }, "the gateway process to be ready");
  return {
    url,
    proc,
    exited,
    kill: async (signal) => {
      proc.kill(signal);
      return exited;
    },
  };
}
