// Operator settings: one YAML/JSON file (the Helm chart renders it into a ConfigMap), validated
// with zod at start-up. A bad file stops the operator with every problem listed by path.
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { workloadConfigSchema } from "../workload/config.ts";

const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a namespace name (lowercase RFC 1123 label)");

export const controllerSettingsSchema = z.object({
  /** Reconciles in parallel. */
  concurrency: z.int().min(1).max(256).default(32),
  /** Deadline of one reconcile. */
  timeoutSeconds: z.int().min(1).max(600).default(60),
  /** Every this often each object is reconciled again even without events (drift repair). 0 = never. */
  resyncSeconds: z.int().min(0).max(86400).default(600),
  /**
   * Function controller: Functions carry the `hearth.dev/gateway-tasks` finalizer, so deleting one
   * first has the gateway cancel its unfinished calls. Off: they stay queued until cancelled.
   */
  gatewayFinalizer: z.boolean().default(true),
});
export type ControllerSettings = z.output<typeof controllerSettingsSchema>;

export const operatorConfigSchema = workloadConfigSchema.extend({
  namespaces: z.array(dnsLabel).max(256).default([]).describe("Namespaces to watch; empty = all."),
  workerTokens: z
    .object({
      signingKeyFile: z.string().min(1).optional().describe("File holding the key that signs HMAC tokens (isolated calls' task tokens, the finalizer's worker token; shared with the gateway). Warm workers use projected ServiceAccount tokens instead."),
      signingKey: z.string().min(16, "workerTokens.signingKey must be at least 16 characters").optional().describe("Inline key, for dev mode and tests."),
    })
    .prefault({})
    .refine((w) => (w.signingKey === undefined) !== (w.signingKeyFile === undefined), {
      message: "set exactly one of workerTokens.signingKeyFile or workerTokens.signingKey",
    }),
  leaderElection: z
    .object({
      enabled: z.boolean().default(true),
      namespace: dnsLabel.default("hearth-system"),
      name: z.string().min(1).max(253).default("hearth-operator"),
      leaseDurationSeconds: z.number().min(0.5).max(300).default(6),
      renewDeadlineSeconds: z.number().min(0.3).max(300).default(4),
      retryPeriodSeconds: z.number().min(0.1).max(60).default(1),
    })
    .prefault({})
    .refine((l) => l.retryPeriodSeconds < l.renewDeadlineSeconds && l.renewDeadlineSeconds < l.leaseDurationSeconds, {
      message: "leaderElection needs retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds",
    }),
  server: z
    .object({
      /** /healthz, /readyz and /metrics. Port 0 picks a free port (tests). */
      host: z.string().min(1).default("0.0.0.0"),
      port: z.int().min(0).max(65535).default(8080),
    })
    .prefault({}),
  kube: z
    .object({
      qps: z.number().min(0).max(100000).default(200),
      burst: z.int().min(1).max(100000).default(400),
      maxSockets: z.int().min(1).max(1024).default(32),
      /** A watch that delivers nothing for this long is restarted. */
      watchdogSeconds: z.int().min(10).max(3600).default(180),
    })
    .prefault({}),
  controllers: z
    .looseObject({
      function: controllerSettingsSchema.prefault({}),
    })
    .prefault({}),
  /** The built-in autoscaler (Functions with warmPool.autoscaler: hearth). */
  autoscaler: z
    .object({
      enabled: z.boolean().default(true),
      /** Default of warmPool.targetUtilization: the share of each worker's concurrency to fill. */
      targetUtilization: z.number().gt(0).max(1).default(1),
      /** Least time between two writes of the demand numbers into one Function's status. */
      statusIntervalSeconds: z.number().min(0.1).max(3600).default(1),
      /** Least time between two scale Events of one Function (decisions in between are counted in metrics). */
      eventIntervalSeconds: z.number().min(0).max(3600).default(10),
    })
    .prefault({}),
  /** Giving memory back after a burst (src/operator/memory.ts, README "Operator sizing"). */
  memory: z
    .object({
      /** Seconds every controller must be idle before a memory-reducing GC runs; 0 turns it off. */
      reclaimIdleSeconds: z.number().min(0).max(3600).default(10),
      /** Only when the RSS grew by at least this many MiB since the last one (or since start). */
      reclaimMinGrowthMiB: z.number().min(0).max(65536).default(32),
      /**
       * With the malloc_trim addon (the image has it; README "Operator sizing"): give malloc's free
       * pages back at least this often, busy or not, and after every reclaim; 0 = only after a reclaim.
       */
      trimSeconds: z.number().min(0).max(3600).default(10),
    })
    .prefault({}),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** How the operator calls the gateway: warm Jobs, and the per-Function numbers in Function status. */
  gatewayClient: z
    .object({
      /** A caller token for the gateway (first line of the file), when the gateway requires one. */
      callerTokenFile: z.string().min(1).optional(),
      /** Unused since the demand stream (GET /v1/demand) replaced polling; kept so old configs still load. */
      statsIntervalSeconds: z.number().min(0).max(3600).default(10),
    })
    .prefault({}),
});
export type OperatorConfig = z.output<typeof operatorConfigSchema>;
export type OperatorConfigInput = z.input<typeof operatorConfigSchema>;

/** An invalid config, with every problem on its own line. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Validates an already-parsed config object. */
export function parseOperatorConfig(raw: unknown, source = "operator config"): OperatorConfig {
  const res = operatorConfigSchema.safeParse(raw ?? {});
  if (res.success) return res.data;
  const lines = res.error.issues.map((i) => `  - ${i.path.length > 0 ? i.path.join(".") : "(top level)"}: ${i.message}`);
  throw new ConfigError(`${source} is invalid:\n${lines.join("\n")}`);
}

export interface LoadedConfig {
  config: OperatorConfig;
  /** The worker-token signing key (from the file or inline). */
  signingKey: string;
}

/**
 * Reads, parses (YAML or JSON) and validates the config file, then reads the signing key
 * (from `signingKeyFile` when given: $HEARTH_SIGNING_KEY_FILE overrides the file's setting).
 */
export async function loadOperatorConfig(path: string, overrides: { signingKeyFile?: string } = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read operator config ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`operator config ${path} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (overrides.signingKeyFile !== undefined && typeof raw === "object" && raw !== null) raw = { ...raw, workerTokens: { signingKeyFile: overrides.signingKeyFile } };
  const config = parseOperatorConfig(raw, `operator config ${path}`);
  return { config, signingKey: await readSigningKey(config) };
}

export async function readSigningKey(config: OperatorConfig): Promise<string> {
  if (config.workerTokens.signingKey !== undefined) return config.workerTokens.signingKey;
  const file = config.workerTokens.signingKeyFile ?? "";
  let key: string;
  try {
    key = (await readFile(file, "utf8")).trim();
  } catch (err) {
    throw new ConfigError(`cannot read workerTokens.signingKeyFile ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (key.length < 16) throw new ConfigError(`workerTokens.signingKeyFile ${file} holds ${key.length} characters; a signing key needs at least 16`);
  return key;
}
