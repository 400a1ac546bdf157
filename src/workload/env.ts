// A worker's environment: what the runtime contract (docs/protocol.md) promises every worker,
// the caller's extras (e.g. HEARTH_INPUT_FILE), then the Function's own spec.env. Pure.
import type { V1EnvFromSource, V1EnvVar, V1EnvVarSource } from "@kubernetes/client-node";
import type { EnvFromSource, EnvVar } from "../api/v1alpha1/common.ts";
import type { HearthFunction } from "../api/v1alpha1/index.ts";
import type { WorkloadConfig } from "./config.ts";
import type { WorkerMode } from "./labels.ts";


/** Environment variables the operator sets from the spec; a Function's env may not set them too. */
export const OPERATOR_ENV = [
  "HEARTH_MODE",
  "HEARTH_HANDLER",
  "HEARTH_FUNCTION",
  "HEARTH_GATEWAY_URL",
  "HEARTH_WORKER_TOKEN",
  "HEARTH_WORKER_TOKEN_FILE",
  "HEARTH_WORKER_ID",
  "HEARTH_CONCURRENCY",
  "HEARTH_TIMEOUT_SECONDS",
  "HEARTH_STARTUP_TIMEOUT_SECONDS",
  "HEARTH_RESTART_ON_ERROR",
  "HEARTH_ENCODING",
  "HEARTH_GPU_FRACTION",
  "HEARTH_HEALTH_PORT",
  "HEARTH_ARTIFACTS",
] as const;

const ENV_SOURCE_FIELD: Record<(typeof OPERATOR_ENV)[number], string> = {
  HEARTH_MODE: "spec.invocation",
  HEARTH_HANDLER: "spec.handler",
  HEARTH_FUNCTION: "the Function's namespace and name",
  HEARTH_GATEWAY_URL: "the operator config (gateway.url)",
  HEARTH_WORKER_TOKEN: "the worker's identity (the gateway credential)",
  HEARTH_WORKER_TOKEN_FILE: "the pod's projected ServiceAccount token (the gateway credential)",
  HEARTH_WORKER_ID: "the pod name",
  HEARTH_CONCURRENCY: "spec.concurrency",
  HEARTH_TIMEOUT_SECONDS: "spec.timeoutSeconds",
  HEARTH_STARTUP_TIMEOUT_SECONDS: "spec.startupTimeoutSeconds",
  HEARTH_RESTART_ON_ERROR: "spec.restartOnError",
  HEARTH_ENCODING: "spec.encoding",
  HEARTH_GPU_FRACTION: "spec.gpu",
  HEARTH_HEALTH_PORT: "the operator config (pod.healthPort)",
  HEARTH_ARTIFACTS: "spec.artifacts",
};

/** The protocol variables a warm worker's helpers (artifact fetch) report to the gateway with. */
const REPORTING_ENV = new Set(["HEARTH_GATEWAY_URL", "HEARTH_WORKER_TOKEN_FILE", "HEARTH_WORKER_ID", "HEARTH_FUNCTION", "HEARTH_STARTUP_TIMEOUT_SECONDS"]);

export function toEnvVar(e: EnvVar): V1EnvVar {
  const out: V1EnvVar = { name: e.name };
  if (e.value !== undefined) out.value = e.value;
  const vf = e.valueFrom;
  if (vf !== undefined) {
    const src: V1EnvVarSource = {};
    const keyRef = (r: { name: string; key: string; optional?: boolean | undefined }): { name: string; key: string; optional?: boolean } =>
      r.optional !== undefined ? { name: r.name, key: r.key, optional: r.optional } : { name: r.name, key: r.key };
    if (vf.configMapKeyRef !== undefined) src.configMapKeyRef = keyRef(vf.configMapKeyRef);
    if (vf.secretKeyRef !== undefined) src.secretKeyRef = keyRef(vf.secretKeyRef);
    if (vf.fieldRef !== undefined) {
      src.fieldRef = { fieldPath: vf.fieldRef.fieldPath };
      if (vf.fieldRef.apiVersion !== undefined) src.fieldRef.apiVersion = vf.fieldRef.apiVersion;
    }
    if (vf.resourceFieldRef !== undefined) {
      const r = vf.resourceFieldRef;
      src.resourceFieldRef = { resource: r.resource };
      if (r.containerName !== undefined) src.resourceFieldRef.containerName = r.containerName;
      if (r.divisor !== undefined) src.resourceFieldRef.divisor = String(r.divisor);
    }
    out.valueFrom = src;
  }
  return out;
}

export function toEnvFrom(e: EnvFromSource): V1EnvFromSource {
  const out: V1EnvFromSource = {};
  if (e.prefix !== undefined) out.prefix = e.prefix;
  const ref = (r: { name: string; optional?: boolean | undefined }): { name: string; optional?: boolean } =>
    r.optional !== undefined ? { name: r.name, optional: r.optional } : { name: r.name };
  if (e.configMapRef !== undefined) out.configMapRef = ref(e.configMapRef);
  if (e.secretRef !== undefined) out.secretRef = ref(e.secretRef);
  return out;
}

/** Why spec.env cannot be used as it is (it sets what Hearth sets), or undefined. */
export function userEnvConflict(userEnv: readonly V1EnvVar[], extraEnv: readonly V1EnvVar[], mode: WorkerMode): string | undefined {
  const reserved = new Set<string>(OPERATOR_ENV);
  for (const e of userEnv) {
    if (reserved.has(e.name)) {
      const from = ENV_SOURCE_FIELD[e.name as (typeof OPERATOR_ENV)[number]];
      return `spec.env sets ${e.name}, which Hearth sets from ${from}; remove it from spec.env`;
    }
    if (extraEnv.some((x) => x.name === e.name)) return `spec.env sets ${e.name}, which Hearth sets for ${mode} workers; remove it from spec.env`;
  }
  return undefined;
}

export interface ProtocolEnvInput {
  readonly fn: HearthFunction;
  readonly config: WorkloadConfig;
  readonly mode: WorkerMode;
  readonly timeoutSeconds: number;
  /** Where the pod's projected worker token is mounted (warm pools); undefined: none. */
  readonly workerTokenFile: string | undefined;
  /** The GPU plan's variables (HEARTH_GPU_FRACTION, …). */
  readonly gpuEnv: Readonly<Record<string, string>>;
}

/** The runtime contract's variables, in the order workers have always seen them. */
export function protocolEnv(input: ProtocolEnvInput): V1EnvVar[] {
  const { fn, config, mode } = input;
  const spec = fn.spec;
  const warm = mode === "warm";
  const env: V1EnvVar[] = [
    { name: "HEARTH_MODE", value: mode },
    { name: "HEARTH_HANDLER", value: spec.handler },
    { name: "HEARTH_FUNCTION", value: `${fn.metadata.namespace ?? "default"}/${fn.metadata.name}` },
  ];
  if (warm) env.push({ name: "HEARTH_GATEWAY_URL", value: config.gateway.url });
  if (input.workerTokenFile !== undefined) env.push({ name: "HEARTH_WORKER_TOKEN_FILE", value: input.workerTokenFile });
  env.push(
    { name: "HEARTH_WORKER_ID", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
    { name: "HEARTH_CONCURRENCY", value: String(spec.concurrency) },
    { name: "HEARTH_TIMEOUT_SECONDS", value: String(input.timeoutSeconds) },
    { name: "HEARTH_STARTUP_TIMEOUT_SECONDS", value: String(spec.startupTimeoutSeconds) },
    { name: "HEARTH_RESTART_ON_ERROR", value: String(spec.restartOnError) },
    { name: "HEARTH_ENCODING", value: spec.encoding },
  );
  for (const [k, v] of Object.entries(input.gpuEnv)) env.push({ name: k, value: v });
  env.push({ name: "HEARTH_HEALTH_PORT", value: warm ? String(config.pod.healthPort) : "0" });
  return env;
}

/** What a warm worker's helpers need to report to the gateway (none for oneshot workers). */
export function reportingEnv(protocol: readonly V1EnvVar[], mode: WorkerMode): V1EnvVar[] {
  return mode === "warm" ? protocol.filter((e) => REPORTING_ENV.has(e.name)) : [];
}

export interface WorkerEnvParts {
  readonly protocol: readonly V1EnvVar[];
  /** Artifact name → path (HEARTH_ARTIFACTS), empty without artifacts. */
  readonly artifactPaths: Readonly<Record<string, string>>;
  readonly extra: readonly V1EnvVar[];
  readonly user: readonly V1EnvVar[];
  /** The worker's PYTHONPATH with pythonPackages: the user's entry replaced, or one appended. */
  readonly pythonPath?: { readonly replace: boolean; readonly entry: V1EnvVar };
}

/** The worker container's whole environment. */
export function workerEnv(parts: WorkerEnvParts): V1EnvVar[] {
  const env: V1EnvVar[] = [...parts.protocol];
  if (Object.keys(parts.artifactPaths).length > 0) env.push({ name: "HEARTH_ARTIFACTS", value: JSON.stringify(parts.artifactPaths) });
  const pp = parts.pythonPath;
  env.push(...parts.extra, ...parts.user.map((e) => (pp?.replace === true && e.name === "PYTHONPATH" ? pp.entry : e)));
  // A read-only root filesystem breaks libraries that cache under $HOME (pip, Hugging Face, torch):
  // point HOME at the writable /tmp unless the Function chose its own.
  if (!parts.user.some((e) => e.name === "HOME")) env.push({ name: "HOME", value: "/tmp" });
  if (pp !== undefined && !pp.replace) env.push(pp.entry);
  return env;
}
