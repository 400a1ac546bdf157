// Function → worker pod template. Pure, and independent of how the pod is run: the Function
// controller wraps it in a Deployment (warm pool), the Job controller in a batch Job (oneshot).
// Everything the runtime contract (docs/protocol.md) promises a worker is set here.
import type {
  V1Container,
  V1EnvFromSource,
  V1EnvVar,
  V1EnvVarSource,
  V1LocalObjectReference,
  V1NodeSelectorRequirement,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import type { EnvFromSource, EnvVar } from "../api/v1alpha1/common.ts";
import type { HearthFunction } from "../api/v1alpha1/index.ts";
import { planGpu, type GpuStatusSummary } from "../gpu/plan.ts";
import type { WorkloadConfig } from "./config.ts";
import { stableHash } from "./hash.ts";
import { startupProbe } from "./startup.ts";
import { renderArtifacts } from "./artifacts.ts";
import { installScript, packageSetKey, pipArgs } from "../packages/requirements.ts";

const ARTIFACT_SECURITY = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } };
import { ANNOTATIONS, HEALTH_PORT_NAME, WORKER_CONTAINER, workerLabels, type WorkerMode } from "./labels.ts";

/** The key of the worker token in the Function's worker Secret. */
export const WORKER_TOKEN_KEY = "token";
export const PACKAGES_DIR = "/opt/hearth/packages";

export interface RenderOptions {
  /** warm: long-lived pool worker (probes, gateway); oneshot: one invocation (batch Job). */
  mode: WorkerMode;
  /** Secret holding the worker token under key `token`; omit for workers that never call the gateway. */
  workerSecretName?: string;
  /** Extra environment, after the protocol's (e.g. HEARTH_INPUT_FILE); names must not clash with the Function's env. */
  env?: V1EnvVar[];
  volumes?: V1Volume[];
  volumeMounts?: V1VolumeMount[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Default: Always for warm, Never for oneshot. */
  restartPolicy?: "Always" | "OnFailure" | "Never";
  /** Overrides spec.timeoutSeconds (a Job may set its own). */
  timeoutSeconds?: number;
  /** Folded into the config hash, e.g. a hash of the worker token, so that rotating it rolls pods. */
  hashInputs?: unknown;
}

export type RenderResult =
  | { ok: true; template: V1PodTemplateSpec; gpu: GpuStatusSummary | undefined; configHash: string }
  | { ok: false; reason: "InvalidGPU" | "InvalidSpec"; message: string };

/** Environment variables the operator sets from the spec; a Function's env may not set them too. */
export const OPERATOR_ENV = [
  "HEARTH_MODE",
  "HEARTH_HANDLER",
  "HEARTH_FUNCTION",
  "HEARTH_GATEWAY_URL",
  "HEARTH_WORKER_TOKEN",
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
  HEARTH_WORKER_TOKEN: "the Function's worker Secret",
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

function quantity(q: string | number): string {
  return String(q);
}

function toEnvVar(e: EnvVar): V1EnvVar {
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
      if (r.divisor !== undefined) src.resourceFieldRef.divisor = quantity(r.divisor);
    }
    out.valueFrom = src;
  }
  return out;
}

function toEnvFrom(e: EnvFromSource): V1EnvFromSource {
  const out: V1EnvFromSource = {};
  if (e.prefix !== undefined) out.prefix = e.prefix;
  const ref = (r: { name: string; optional?: boolean | undefined }): { name: string; optional?: boolean } =>
    r.optional !== undefined ? { name: r.name, optional: r.optional } : { name: r.name };
  if (e.configMapRef !== undefined) out.configMapRef = ref(e.configMapRef);
  if (e.secretRef !== undefined) out.secretRef = ref(e.secretRef);
  return out;
}

/** Renders the worker pod template of `fn` (parsed, defaults applied) for `opts.mode`. */
export function renderPodTemplate(fn: HearthFunction, config: WorkloadConfig, opts: RenderOptions): RenderResult {
  const spec = fn.spec;
  const name = fn.metadata.name;
  const namespace = fn.metadata.namespace ?? "default";
  const warm = opts.mode === "warm";

  const gpu = planGpu(spec.gpu, config.gpu, config.gpuTypes);
  if (!gpu.ok) return { ok: false, reason: gpu.reason, message: gpu.message };
  const gpuPlan = gpu.plan;

  const userEnv = (spec.env ?? []).map(toEnvVar);
  const extraEnv = opts.env ?? [];
  const reserved = new Set<string>(OPERATOR_ENV);
  for (const e of userEnv) {
    if (reserved.has(e.name)) {
      const from = ENV_SOURCE_FIELD[e.name as (typeof OPERATOR_ENV)[number]];
      return { ok: false, reason: "InvalidSpec", message: `spec.env sets ${e.name}, which Hearth sets from ${from}; remove it from spec.env` };
    }
    if (extraEnv.some((x) => x.name === e.name)) {
      return { ok: false, reason: "InvalidSpec", message: `spec.env sets ${e.name}, which Hearth sets for ${opts.mode} workers; remove it from spec.env` };
    }
  }

  const timeoutSeconds = opts.timeoutSeconds ?? spec.timeoutSeconds;
  const env: V1EnvVar[] = [
    { name: "HEARTH_MODE", value: opts.mode },
    { name: "HEARTH_HANDLER", value: spec.handler },
    { name: "HEARTH_FUNCTION", value: `${namespace}/${name}` },
  ];
  if (warm) env.push({ name: "HEARTH_GATEWAY_URL", value: config.gateway.url });
  if (opts.workerSecretName !== undefined) {
    env.push({ name: "HEARTH_WORKER_TOKEN", valueFrom: { secretKeyRef: { name: opts.workerSecretName, key: WORKER_TOKEN_KEY } } });
  }
  env.push(
    { name: "HEARTH_WORKER_ID", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
    { name: "HEARTH_CONCURRENCY", value: String(spec.concurrency) },
    { name: "HEARTH_TIMEOUT_SECONDS", value: String(timeoutSeconds) },
    { name: "HEARTH_STARTUP_TIMEOUT_SECONDS", value: String(spec.startupTimeoutSeconds) },
    { name: "HEARTH_RESTART_ON_ERROR", value: String(spec.restartOnError) },
    { name: "HEARTH_ENCODING", value: spec.encoding },
  );
  for (const [k, v] of Object.entries(gpuPlan?.env ?? {})) env.push({ name: k, value: v });
  env.push({ name: "HEARTH_HEALTH_PORT", value: warm ? String(config.pod.healthPort) : "0" });
  const reporting = new Set(["HEARTH_GATEWAY_URL", "HEARTH_WORKER_TOKEN", "HEARTH_WORKER_ID", "HEARTH_FUNCTION", "HEARTH_STARTUP_TIMEOUT_SECONDS"]);
  const identity = warm ? env.filter((e) => reporting.has(e.name)) : [];
  const artifacts = renderArtifacts(spec.artifacts ?? [], config.artifacts, ARTIFACT_SECURITY, identity);
  if (Object.keys(artifacts.paths).length > 0) env.push({ name: "HEARTH_ARTIFACTS", value: JSON.stringify(artifacts.paths) });
  env.push(...extraEnv, ...userEnv);
  // A read-only root filesystem breaks libraries that cache under $HOME (pip, Hugging Face, torch):
  // point HOME at the writable /tmp unless the Function chose its own.
  if (!userEnv.some((e) => e.name === "HOME")) env.push({ name: "HOME", value: "/tmp" });

  const packages = spec.pythonPackages ?? [];
  if (packages.length > 0) {
    const userPath = userEnv.find((e) => e.name === "PYTHONPATH");
    const site = `${PACKAGES_DIR}/site`;
    if (userPath === undefined) env.push({ name: "PYTHONPATH", value: site });
    else if (userPath.valueFrom !== undefined) {
      return { ok: false, reason: "InvalidSpec", message: "spec.env PYTHONPATH uses valueFrom, which cannot be combined with pythonPackages: set it as a value" };
    } else userPath.value = userPath.value !== undefined ? `${site}:${userPath.value}` : site;
  }

  const gpuResources = gpuPlan?.resources ?? {};
  const requests: Record<string, string> = {
    cpu: quantity(spec.resources.cpu),
    memory: quantity(spec.resources.memory),
    "ephemeral-storage": quantity(spec.resources.ephemeralStorage),
    ...gpuResources,
  };
  // No CPU limit: CFS throttling adds tail latency to inference; the request still reserves the cores.
  const limits: Record<string, string> = {
    memory: quantity(spec.resources.memory),
    "ephemeral-storage": quantity(spec.resources.ephemeralStorage),
    ...gpuResources,
  };

  const volumes: V1Volume[] = [{ name: "tmp", emptyDir: { sizeLimit: quantity(spec.resources.ephemeralStorage) } }];
  const mounts: V1VolumeMount[] = [{ name: "tmp", mountPath: "/tmp" }];
  if (gpuPlan !== undefined) {
    // PyTorch data loaders and NCCL need a real /dev/shm; it counts against the memory limit.
    volumes.push({ name: "dshm", emptyDir: { medium: "Memory" } });
    mounts.push({ name: "dshm", mountPath: "/dev/shm" });
  }
  const pip = pipArgs(config.packages);
  if (packages.length > 0) {
    // One directory per package set (and image) on each node: a second pod there installs nothing.
    volumes.push({ name: "packages", hostPath: { path: `${config.packages.cache.hostPath}/${packageSetKey(packages, pip, config.images.packageInstaller ?? spec.image)}`, type: "DirectoryOrCreate" } });
    mounts.push({ name: "packages", mountPath: PACKAGES_DIR, readOnly: true });
  }
  volumes.push(...artifacts.volumes, ...(opts.volumes ?? []));
  mounts.push(...artifacts.mounts, ...(opts.volumeMounts ?? []));

  const containerSecurity = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
  };

  const runtimeCommand = spec.runtime === "node" ? config.runtimes.node.command : config.runtimes.python.command;
  const worker: V1Container = {
    name: WORKER_CONTAINER,
    image: spec.image,
    command: spec.command !== undefined && spec.command.length > 0 ? [...spec.command] : [...runtimeCommand],
    env,
    resources: { requests, limits },
    securityContext: containerSecurity,
    volumeMounts: mounts,
    terminationMessagePolicy: "File",
  };
  if (spec.envFrom !== undefined && spec.envFrom.length > 0) worker.envFrom = spec.envFrom.map(toEnvFrom);
  if (warm) {
    worker.ports = [{ name: HEALTH_PORT_NAME, containerPort: config.pod.healthPort, protocol: "TCP" }];
    // The supervisor answers /readyz with 200 only after setup() finished: a pod joins the pool
    // when its model is loaded. /healthz is served from the start, so a long setup() is not killed.
    worker.readinessProbe = { httpGet: { path: "/readyz", port: HEALTH_PORT_NAME }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 1, successThreshold: 1 };
    worker.livenessProbe = { httpGet: { path: "/healthz", port: HEALTH_PORT_NAME }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 };
    worker.startupProbe = startupProbe(spec.startupTimeoutSeconds, HEALTH_PORT_NAME);
  }

  // Artifacts first: nothing (packages included) should start before the weights are in place.
  const initContainers: V1Container[] = [...artifacts.initContainers];
  if (packages.length > 0) {
    initContainers.push({
      name: "install-packages",
      image: config.images.packageInstaller ?? spec.image,
      command: ["sh", "-c", installScript(PACKAGES_DIR), "install-packages", ...pip, ...packages],
      // pip's failure (a missing package, a bad mirror) is in this container's log and ends up in the Degraded message.
      terminationMessagePolicy: "FallbackToLogsOnError",
      env: [{ name: "HOME", value: "/tmp" }],
      resources: { requests: { cpu: requests.cpu ?? "1", memory: requests.memory ?? "1Gi" }, limits: { memory: limits.memory ?? "1Gi" } },
      securityContext: containerSecurity,
      volumeMounts: [
        { name: "tmp", mountPath: "/tmp" },
        { name: "packages", mountPath: PACKAGES_DIR },
      ],
    });
  }

  const podSpec: V1PodSpec = {
    containers: [worker],
    restartPolicy: opts.restartPolicy ?? (warm ? "Always" : "Never"),
    // Warm workers drain in-flight tasks on SIGTERM; whatever is still running afterwards is re-queued.
    terminationGracePeriodSeconds: warm ? Math.min(timeoutSeconds, config.pod.maxTerminationGracePeriodSeconds) + 15 : 30,
    enableServiceLinks: false,
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: config.pod.runAsUser,
      runAsGroup: config.pod.runAsGroup,
      fsGroup: config.pod.fsGroup,
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumes,
  };
  if (initContainers.length > 0) podSpec.initContainers = initContainers;
  if (config.pod.serviceAccountName !== undefined) podSpec.serviceAccountName = config.pod.serviceAccountName;
  if (config.pod.priorityClassName !== undefined) podSpec.priorityClassName = config.pod.priorityClassName;
  if (config.pod.imagePullSecrets.length > 0) podSpec.imagePullSecrets = config.pod.imagePullSecrets.map((n): V1LocalObjectReference => ({ name: n }));
  if (Object.keys(config.pod.nodeSelector).length > 0) podSpec.nodeSelector = { ...config.pod.nodeSelector };
  if (gpuPlan !== undefined) {
    if (gpuPlan.runtimeClassName !== undefined) podSpec.runtimeClassName = gpuPlan.runtimeClassName;
    if (gpuPlan.tolerations.length > 0) podSpec.tolerations = gpuPlan.tolerations.map(toToleration);
    if (gpuPlan.nodeSelector.length > 0) {
      const matchExpressions: V1NodeSelectorRequirement[] = gpuPlan.nodeSelector.map((r) => ({ key: r.key, operator: "In", values: [...r.values] }));
      podSpec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions }] } } };
    }
  }

  const labels = { ...(spec.podMetadata?.labels ?? {}), ...(opts.labels ?? {}), ...workerLabels(name, opts.mode) };
  const annotations: Record<string, string> = { ...config.pod.annotations, ...(spec.podMetadata?.annotations ?? {}), ...(opts.annotations ?? {}) };
  const template: V1PodTemplateSpec = { metadata: { labels, annotations }, spec: podSpec };
  const configHash = stableHash(template, opts.hashInputs ?? null);
  annotations[ANNOTATIONS.configHash] = configHash;
  return { ok: true, template, gpu: gpuPlan?.status, configHash };
}

function toToleration(t: { key?: string | undefined; operator?: string | undefined; value?: string | undefined; effect?: string | undefined; tolerationSeconds?: number | undefined }): V1Toleration {
  const out: V1Toleration = {};
  if (t.key !== undefined) out.key = t.key;
  if (t.operator !== undefined) out.operator = t.operator;
  if (t.value !== undefined) out.value = t.value;
  if (t.effect !== undefined) out.effect = t.effect;
  if (t.tolerationSeconds !== undefined) out.tolerationSeconds = t.tolerationSeconds;
  return out;
}
