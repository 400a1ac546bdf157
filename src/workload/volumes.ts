// A worker's volumes and its mounts of them: a writable /tmp (the root filesystem is read-only),
// /dev/shm for GPU workers, the pythonPackages cache, artifacts, and the caller's own. Pure.
import type { V1Volume, V1VolumeMount } from "@kubernetes/client-node";

export interface VolumeParts {
  /** spec.resources.ephemeralStorage: the size limit of /tmp. */
  readonly ephemeralStorage: string | number;
  readonly gpu: boolean;
  readonly packages?: { readonly volume: V1Volume; readonly mount: V1VolumeMount } | undefined;
  readonly artifacts: { readonly volumes: readonly V1Volume[]; readonly mounts: readonly V1VolumeMount[] };
  readonly extraVolumes: readonly V1Volume[];
  readonly extraMounts: readonly V1VolumeMount[];
}

export function workerVolumes(parts: VolumeParts): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes: V1Volume[] = [{ name: "tmp", emptyDir: { sizeLimit: String(parts.ephemeralStorage) } }];
  const mounts: V1VolumeMount[] = [{ name: "tmp", mountPath: "/tmp" }];
  if (parts.gpu) {
    // PyTorch data loaders and NCCL need a real /dev/shm; it counts against the memory limit.
    volumes.push({ name: "dshm", emptyDir: { medium: "Memory" } });
    mounts.push({ name: "dshm", mountPath: "/dev/shm" });
  }
  if (parts.packages !== undefined) {
    volumes.push(parts.packages.volume);
    mounts.push(parts.packages.mount);
  }
  volumes.push(...parts.artifacts.volumes, ...parts.extraVolumes);
  mounts.push(...parts.artifacts.mounts, ...parts.extraMounts);
  return { volumes, mounts };
}
