// spec.pythonPackages in a worker pod: one install-packages init container filling a per-node
// cache directory (one per package set and image), mounted read-only into the worker and put on
// its PYTHONPATH. Pure.
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { installScript, packageSetKey, pipArgs } from "../packages/requirements.ts";
import type { ComputeResources } from "./compute.ts";
import type { WorkloadConfig } from "./config.ts";
import { restrictedContainerSecurity } from "./security.ts";

export const PACKAGES_DIR = "/opt/hearth/packages";
const PACKAGES_VOLUME = "packages";

export interface PackagesInput {
  readonly packages: readonly string[];
  readonly image: string;
  readonly config: WorkloadConfig;
}

/** The pip arguments from the operator config (index URLs, options). */
export function pipArgsOf(config: WorkloadConfig): string[] {
  return pipArgs(config.packages);
}

/** The node's cache directory of this package set, and where the worker sees it. */
export function packagesVolume(input: PackagesInput): { volume: V1Volume; mount: V1VolumeMount } {
  const { packages, config } = input;
  // One directory per package set (and image) on each node: a second pod there installs nothing.
  const key = packageSetKey(packages, pipArgsOf(config), config.images.packageInstaller ?? input.image);
  return {
    volume: { name: PACKAGES_VOLUME, hostPath: { path: `${config.packages.cache.hostPath}/${key}`, type: "DirectoryOrCreate" } },
    mount: { name: PACKAGES_VOLUME, mountPath: PACKAGES_DIR, readOnly: true },
  };
}

/** The init container installing the set (a no-op when the node's directory has it). */
export function installPackagesContainer(input: PackagesInput, worker: ComputeResources, security = restrictedContainerSecurity()): V1Container {
  const { config } = input;
  return {
    name: "install-packages",
    image: config.images.packageInstaller ?? input.image,
    command: ["sh", "-c", installScript(PACKAGES_DIR), "install-packages", ...pipArgsOf(config), ...input.packages],
    // pip's failure (a missing package, a bad mirror) is in this container's log and ends up in the Degraded message.
    terminationMessagePolicy: "FallbackToLogsOnError",
    env: [{ name: "HOME", value: "/tmp" }],
    resources: { requests: { cpu: worker.requests["cpu"] ?? "1", memory: worker.requests["memory"] ?? "1Gi" }, limits: { memory: worker.limits["memory"] ?? "1Gi" } },
    securityContext: security,
    volumeMounts: [
      { name: "tmp", mountPath: "/tmp" },
      { name: PACKAGES_VOLUME, mountPath: PACKAGES_DIR },
    ],
  };
}

export type PythonPathDecision = { ok: true; pythonPath?: { replace: boolean; entry: V1EnvVar } } | { ok: false; message: string };

/** The installed set goes first on PYTHONPATH: the Function's own value is kept after it. */
export function pythonPathFor(packages: readonly string[], userEnv: readonly V1EnvVar[]): PythonPathDecision {
  if (packages.length === 0) return { ok: true };
  const site = `${PACKAGES_DIR}/site`;
  const userPath = userEnv.find((e) => e.name === "PYTHONPATH");
  if (userPath === undefined) return { ok: true, pythonPath: { replace: false, entry: { name: "PYTHONPATH", value: site } } };
  if (userPath.valueFrom !== undefined) {
    return { ok: false, message: "spec.env PYTHONPATH uses valueFrom, which cannot be combined with pythonPackages: set it as a value" };
  }
  return { ok: true, pythonPath: { replace: true, entry: { ...userPath, value: userPath.value !== undefined ? `${site}:${userPath.value}` : site } } };
}
