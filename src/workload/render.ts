// Function → worker pod template. Pure, and independent of how the pod is run: the Function
// controller wraps it in a Deployment (warm pool), the Job controller in a batch Job (oneshot).
// Everything the runtime contract (docs/protocol.md) promises a worker is set here, from parts
// each in its own file: env.ts (environment), compute.ts (requests/limits), volumes.ts,
// packages.ts (pythonPackages), artifacts.ts, probes.ts, security.ts, scheduling.ts.
import type { V1Container, V1EnvVar, V1PodSpec, V1PodTemplateSpec, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { HearthFunction } from "../api/v1alpha1/index.ts";
import { WORKER_TOKEN_AUDIENCE, WORKER_TOKEN_DIR, WORKER_TOKEN_EXPIRATION_SECONDS, WORKER_TOKEN_FILE, WORKER_TOKEN_PATH, WORKER_TOKEN_VOLUME } from "../auth/service-account-token.ts";
import { planGpu, type GpuStatusSummary } from "../gpu/plan.ts";
import { renderArtifacts } from "./artifacts.ts";
import { computeResources } from "./compute.ts";
import type { WorkloadConfig } from "./config.ts";
import { protocolEnv, reportingEnv, toEnvFrom, toEnvVar, userEnvConflict, workerEnv } from "./env.ts";
import { stableHash } from "./hash.ts";
import { ANNOTATIONS, WORKER_CONTAINER, workerLabels, type WorkerMode } from "./labels.ts";
import { installPackagesContainer, packagesVolume, pythonPathFor } from "./packages.ts";
import { warmProbes } from "./probes.ts";
import { scheduling } from "./scheduling.ts";
import { podSecurityContext, restrictedContainerSecurity } from "./security.ts";
import { workerVolumes } from "./volumes.ts";

export { OPERATOR_ENV } from "./env.ts";
export { PACKAGES_DIR } from "./packages.ts";

export interface RenderOptions {
  /** warm: long-lived pool worker (probes, gateway); oneshot: one invocation (batch Job). */
  mode: WorkerMode;
  /**
   * The worker authenticates to the gateway with its pod's projected ServiceAccount token
   * (audience hearth.dev/gateway, src/auth/service-account-token.ts), mounted read-only in the
   * worker and the artifact fetcher, named by HEARTH_WORKER_TOKEN_FILE. Warm pools only.
   */
  workerToken?: boolean;
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
  /** Folded into the config hash: something outside the template whose change must roll pods. */
  hashInputs?: unknown;
}

export type RenderResult =
  | { ok: true; template: V1PodTemplateSpec; gpu: GpuStatusSummary | undefined; configHash: string }
  | { ok: false; reason: "InvalidGPU" | "InvalidSpec"; message: string };

/**
 * The projected ServiceAccount token a warm worker shows the gateway: meant for the gateway only
 * (its audience), bound to the pod, rotated by the kubelet. Not the pod's API credential
 * (automountServiceAccountToken stays false): it cannot talk to the apiserver.
 */
export function workerTokenVolume(): { volume: V1Volume; mount: V1VolumeMount } {
  return {
    volume: {
      name: WORKER_TOKEN_VOLUME,
      projected: { sources: [{ serviceAccountToken: { audience: WORKER_TOKEN_AUDIENCE, expirationSeconds: WORKER_TOKEN_EXPIRATION_SECONDS, path: WORKER_TOKEN_PATH } }] },
    },
    mount: { name: WORKER_TOKEN_VOLUME, mountPath: WORKER_TOKEN_DIR, readOnly: true },
  };
}

/** Renders the worker pod template of `fn` (parsed, defaults applied) for `opts.mode`. */
export function renderPodTemplate(fn: HearthFunction, config: WorkloadConfig, opts: RenderOptions): RenderResult {
  const spec = fn.spec;
  const warm = opts.mode === "warm";

  const gpu = planGpu(spec.gpu, config.gpu, config.gpuTypes);
  if (!gpu.ok) return { ok: false, reason: gpu.reason, message: gpu.message };
  const gpuPlan = gpu.plan;

  const userEnv = (spec.env ?? []).map(toEnvVar);
  const extraEnv = opts.env ?? [];
  const conflict = userEnvConflict(userEnv, extraEnv, opts.mode);
  if (conflict !== undefined) return { ok: false, reason: "InvalidSpec", message: conflict };
  const packages = spec.pythonPackages ?? [];
  const pythonPath = pythonPathFor(packages, userEnv);
  if (!pythonPath.ok) return { ok: false, reason: "InvalidSpec", message: pythonPath.message };

  const timeoutSeconds = opts.timeoutSeconds ?? spec.timeoutSeconds;
  const token = opts.workerToken === true ? workerTokenVolume() : undefined;
  const protocol = protocolEnv({ fn, config, mode: opts.mode, timeoutSeconds, workerTokenFile: token === undefined ? undefined : WORKER_TOKEN_FILE, gpuEnv: gpuPlan?.env ?? {} });
  const security = restrictedContainerSecurity();
  const artifacts = renderArtifacts(spec.artifacts ?? [], config.artifacts, restrictedContainerSecurity(), reportingEnv(protocol, opts.mode), token === undefined ? [] : [token.mount]);
  const env = workerEnv({ protocol, artifactPaths: artifacts.paths, extra: extraEnv, user: userEnv, ...(pythonPath.pythonPath !== undefined ? { pythonPath: pythonPath.pythonPath } : {}) });

  const resources = computeResources(spec.resources, gpuPlan?.resources ?? {});
  const pkgs = packages.length > 0 ? { packages, image: spec.image, config } : undefined;
  const { volumes, mounts } = workerVolumes({
    ephemeralStorage: spec.resources.ephemeralStorage,
    gpu: gpuPlan !== undefined,
    packages: pkgs !== undefined ? packagesVolume(pkgs) : undefined,
    artifacts,
    extraVolumes: [...(token === undefined ? [] : [token.volume]), ...(opts.volumes ?? [])],
    extraMounts: [...(token === undefined ? [] : [token.mount]), ...(opts.volumeMounts ?? [])],
  });

  const runtimeCommand = spec.runtime === "node" ? config.runtimes.node.command : config.runtimes.python.command;
  const worker: V1Container = {
    name: WORKER_CONTAINER,
    image: spec.image,
    command: spec.command !== undefined && spec.command.length > 0 ? [...spec.command] : [...runtimeCommand],
    env,
    resources: { requests: resources.requests, limits: resources.limits },
    securityContext: security,
    volumeMounts: mounts,
    terminationMessagePolicy: "File",
  };
  if (spec.envFrom !== undefined && spec.envFrom.length > 0) worker.envFrom = spec.envFrom.map(toEnvFrom);
  if (warm) Object.assign(worker, warmProbes(config.pod.healthPort, spec.startupTimeoutSeconds));

  // Artifacts first: nothing (packages included) should start before the weights are in place.
  const initContainers: V1Container[] = [...artifacts.initContainers];
  if (pkgs !== undefined) initContainers.push(installPackagesContainer(pkgs, resources, security));

  const podSpec: V1PodSpec = {
    containers: [worker],
    restartPolicy: opts.restartPolicy ?? (warm ? "Always" : "Never"),
    // Warm workers drain in-flight tasks on SIGTERM; whatever is still running afterwards is re-queued.
    terminationGracePeriodSeconds: warm ? Math.min(timeoutSeconds, config.pod.maxTerminationGracePeriodSeconds) + 15 : 30,
    enableServiceLinks: false,
    automountServiceAccountToken: false,
    securityContext: podSecurityContext(config.pod),
    volumes,
  };
  if (initContainers.length > 0) podSpec.initContainers = initContainers;
  Object.assign(podSpec, scheduling(config.pod, gpuPlan));

  const labels = { ...(spec.podMetadata?.labels ?? {}), ...(opts.labels ?? {}), ...workerLabels(fn.metadata.name, opts.mode) };
  const annotations: Record<string, string> = { ...config.pod.annotations, ...(spec.podMetadata?.annotations ?? {}), ...(opts.annotations ?? {}) };
  const template: V1PodTemplateSpec = { metadata: { labels, annotations }, spec: podSpec };
  const configHash = stableHash(template, opts.hashInputs ?? null);
  annotations[ANNOTATIONS.configHash] = configHash;
  return { ok: true, template, gpu: gpuPlan?.status, configHash };
}
