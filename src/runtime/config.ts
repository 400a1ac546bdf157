// The worker's configuration: the environment the operator sets (docs/protocol.md, "Worker
// environment"), overridable by `hearth worker` flags (`--timeout-seconds 5` sets
// HEARTH_TIMEOUT_SECONDS) so that dev mode and tests start workers the same way pods do.
import { hostname } from "node:os";

export type WorkerMode = "warm" | "oneshot";

export interface WorkerConfig {
  mode: WorkerMode;
  handler: string;
  function: string;
  concurrency: number;
  timeoutSeconds: number;
  /** Deadline of setup() (spec.startupTimeoutSeconds); setup progress extends it. */
  startupTimeoutSeconds: number;
  restartOnError: boolean;
  gpuFraction: number | undefined;
  codePath: string[];
  // warm
  gatewayUrl: string | undefined;
  /** HEARTH_WORKER_TOKEN: an HMAC worker token (dev workers, pods of an older operator). */
  workerToken: string | undefined;
  /** HEARTH_WORKER_TOKEN_FILE: the pod's projected ServiceAccount token, re-read as it rotates (worker-token.ts). */
  workerTokenFile?: string | undefined;
  workerId: string;
  healthPort: number;
  healthHost: string;
  leaseWaitMs: number;
  heartbeatMs: number;
  /** Lease over the worker channel (default); false: lease/results requests (HEARTH_WORKER_CHANNEL=off). */
  workerChannel?: boolean;
  /**
   * The child process holds the worker channel: the supervisor opens it and hands the connection
   * over (the default: HEARTH_WORKER_CHANNEL unset, `on` or `direct`); false: the supervisor holds
   * it and relays (HEARTH_WORKER_CHANNEL=relay).
   */
  directChannel?: boolean;
  // oneshot
  inputFile: string | undefined;
  terminationLog: string;
  /** An isolated call: claim this gateway task for the input and post the output to it. */
  taskId: string | undefined;
  taskToken: string | undefined;
}

export class ConfigError extends Error {}

export const DEFAULT_HEALTH_PORT = 8081;
export const DEFAULT_STARTUP_TIMEOUT_SECONDS = 600;
export const DEFAULT_TERMINATION_LOG = "/dev/termination-log";

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

function int(env: Env, name: string, def: number, low: number, high: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  if (n < low || n > high) throw new ConfigError(`${name} must be between ${low} and ${high}, got ${n}`);
  return n;
}

function num(env: Env, name: string, low: number, high: number): number | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < low || n > high) throw new ConfigError(`${name} must be a number between ${low} and ${high}, got ${JSON.stringify(raw)}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return def;
  if (raw === "true" || raw === "1" || raw === "yes") return true;
  if (raw === "false" || raw === "0" || raw === "no") return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/**
 * HEARTH_WORKER_CHANNEL: unset, `on` or `direct` — the child holds the worker channel (the
 * supervisor opens it and hands it over); `relay` — the supervisor holds it and relays each task;
 * `off` — lease/results requests, no channel.
 */
export function channelMode(raw: string | undefined): { workerChannel: boolean; directChannel: boolean } {
  switch (raw?.toLowerCase()) {
    case undefined:
    case "on":
    case "direct":
      return { workerChannel: true, directChannel: true };
    case "relay":
      return { workerChannel: true, directChannel: false };
    case "off":
      return { workerChannel: false, directChannel: false };
    default:
      throw new ConfigError(`HEARTH_WORKER_CHANNEL must be on, direct, relay or off, got ${JSON.stringify(raw)}`);
  }
}

/** `--timeout-seconds 5` / `--timeout-seconds=5` → `{HEARTH_TIMEOUT_SECONDS: "5"}`. */
export function flagsToEnv(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (m === null || m[1] === undefined) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (flags look like --timeout-seconds 5)`);
    let value = m[2];
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) throw new ConfigError(`flag --${m[1]} needs a value`);
      value = next;
      i++;
    }
    out[`HEARTH_${m[1].toUpperCase().replaceAll("-", "_")}`] = value;
  }
  return out;
}

export function configFromEnv(env: Env): WorkerConfig {
  const modeRaw = str(env, "HEARTH_MODE") ?? "warm";
  if (modeRaw !== "warm" && modeRaw !== "oneshot") throw new ConfigError(`HEARTH_MODE must be warm or oneshot, got ${JSON.stringify(modeRaw)}`);
  const handler = str(env, "HEARTH_HANDLER");
  if (handler === undefined) throw new ConfigError("HEARTH_HANDLER is not set (module:attr, e.g. app.model:Whisper)");
  const encoding = str(env, "HEARTH_ENCODING") ?? "json";
  if (encoding !== "json") throw new ConfigError(`HEARTH_ENCODING=${encoding}: the Node runtime speaks json only (pickle needs runtime: python)`);
  const gatewayUrl = str(env, "HEARTH_GATEWAY_URL");
  const taskId = str(env, "HEARTH_TASK_ID");
  if (modeRaw === "warm" || taskId !== undefined) {
    if (gatewayUrl === undefined) throw new ConfigError(`HEARTH_GATEWAY_URL is not set (${modeRaw === "warm" ? "warm workers lease tasks from the gateway" : "an isolated call claims HEARTH_TASK_ID from the gateway"})`);
    let url: URL;
    try {
      url = new URL(gatewayUrl);
    } catch {
      throw new ConfigError(`HEARTH_GATEWAY_URL is not a URL: ${JSON.stringify(gatewayUrl)}`);
    }
    if (url.protocol !== "http:") throw new ConfigError(`HEARTH_GATEWAY_URL must be http://…, got ${JSON.stringify(gatewayUrl)}`);
  }
  const fn = str(env, "HEARTH_FUNCTION") ?? "";
  if (modeRaw === "warm" && !/^[^/\s]+\/[^/\s]+$/.test(fn)) throw new ConfigError(`HEARTH_FUNCTION must be <namespace>/<name>, got ${JSON.stringify(fn)}`);
  return {
    mode: modeRaw,
    handler,
    function: fn,
    concurrency: int(env, "HEARTH_CONCURRENCY", 1, 1, 1024),
    timeoutSeconds: num(env, "HEARTH_TIMEOUT_SECONDS", 0.001, 172_800) ?? 300,
    startupTimeoutSeconds: num(env, "HEARTH_STARTUP_TIMEOUT_SECONDS", 0.001, 86_400) ?? DEFAULT_STARTUP_TIMEOUT_SECONDS,
    restartOnError: bool(env, "HEARTH_RESTART_ON_ERROR", true),
    gpuFraction: num(env, "HEARTH_GPU_FRACTION", 0, 1),
    codePath: (str(env, "HEARTH_CODE_PATH") ?? "").split(":").filter((p) => p !== ""),
    gatewayUrl: gatewayUrl?.replace(/\/+$/, ""),
    workerToken: str(env, "HEARTH_WORKER_TOKEN"),
    workerTokenFile: str(env, "HEARTH_WORKER_TOKEN_FILE"),
    workerId: str(env, "HEARTH_WORKER_ID") ?? `${hostname()}-${process.pid}`,
    healthPort: int(env, "HEARTH_HEALTH_PORT", DEFAULT_HEALTH_PORT, 0, 65535),
    healthHost: str(env, "HEARTH_HEALTH_HOST") ?? "0.0.0.0",
    leaseWaitMs: int(env, "HEARTH_LEASE_WAIT_MS", 20_000, 0, 120_000),
    heartbeatMs: int(env, "HEARTH_HEARTBEAT_MS", 2000, 50, 60_000),
    ...channelMode(str(env, "HEARTH_WORKER_CHANNEL")),
    inputFile: str(env, "HEARTH_INPUT_FILE"),
    terminationLog: str(env, "HEARTH_TERMINATION_LOG") ?? DEFAULT_TERMINATION_LOG,
    taskId,
    taskToken: str(env, "HEARTH_TASK_TOKEN"),
  };
}

/** Environment for the child process: the user's env plus what the child entry reads. */
export function childEnv(base: Env, config: WorkerConfig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  env["HEARTH_HANDLER"] = config.handler;
  env["HEARTH_FUNCTION"] = config.function;
  env["HEARTH_CODE_PATH"] = config.codePath.join(":");
  env["HEARTH_STARTUP_TIMEOUT_SECONDS"] = String(config.startupTimeoutSeconds);
  // The worker token is the supervisor's business, not user code's.
  delete env["HEARTH_WORKER_TOKEN"];
  delete env["HEARTH_WORKER_TOKEN_FILE"];
  delete env["HEARTH_TASK_TOKEN"];
  return env;
}
