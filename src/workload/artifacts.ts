// spec.artifacts → volumes, mounts, init containers and HEARTH_ARTIFACTS for a worker pod. Pure.
// - persistentVolumeClaim: the claim, read-only, at the mount path (subPath honoured);
// - image: an image volume (Kubernetes ImageVolume) when the operator config says the cluster
//   has it (artifacts.imageMode: volume); otherwise an init container started from the artifact
//   image copies its /models directory into an emptyDir (the image needs `cp`, e.g. a busybox base);
// - url: one init container (`hearth artifacts fetch`, the Hearth image) downloads every URL
//   artifact (http(s), or s3:// signed with the secretRef's AWS keys) into the node's artifact cache (hostPath or a shared PVC), verified and resumable;
//   the worker mounts its cache entry read-only.
// The worker learns where everything is from HEARTH_ARTIFACTS ({"name": "/models/name", …}).
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { artifactPath, type ArtifactSpec } from "../api/v1alpha1/artifacts.ts";
import { cacheKey } from "../artifacts/fetch.ts";

export interface ArtifactsConfig {
  imageMode: "volume" | "initContainer";
  cache: { hostPath: string; persistentVolumeClaim?: string | undefined };
  fetcherImage: string;
  fetcherCommand: string[];
}

export interface ArtifactParts {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  initContainers: V1Container[];
  /** name → path, for HEARTH_ARTIFACTS. */
  paths: Record<string, string>;
}

export const CACHE_VOLUME = "artifact-cache";
export const FETCH_CACHE_DIR = "/var/cache/hearth/artifacts";

/** The spec of the fetch init container's work, as HEARTH_ARTIFACT_SPECS carries it. */
export interface FetchSpec {
  name: string;
  href: string;
  sha256?: string;
  /** The Secret's keys as files, under /var/run/hearth/artifact-secrets/<name>: request headers (http(s)) or S3 credentials (s3://). */
  headersDir?: string;
  /** s3:// hrefs: the store (url.s3). */
  s3?: { endpoint?: string | undefined; region?: string | undefined };
}

/**
 * `identity`: the worker's gateway URL, token file, id, Function and startup deadline (warm pods): the
 * fetcher reports its progress and failures to the gateway with them (src/artifacts/report.ts).
 */
export function renderArtifacts(
  artifacts: readonly ArtifactSpec[],
  config: ArtifactsConfig,
  securityContext: V1Container["securityContext"],
  identity: readonly V1EnvVar[] = [],
  /** The worker token's volume mount, when the identity names its file. */
  identityMounts: readonly V1VolumeMount[] = [],
): ArtifactParts {
  const parts: ArtifactParts = { volumes: [], mounts: [], initContainers: [], paths: {} };
  const fetches: FetchSpec[] = [];
  const fetchMounts: V1VolumeMount[] = [];
  for (const a of artifacts) {
    const path = artifactPath(a);
    parts.paths[a.name] = path;
    const vol = `artifact-${a.name}`;
    if (a.persistentVolumeClaim !== undefined) {
      parts.volumes.push({ name: vol, persistentVolumeClaim: { claimName: a.persistentVolumeClaim.claimName, readOnly: true } });
      const m: V1VolumeMount = { name: vol, mountPath: path, readOnly: true };
      if (a.persistentVolumeClaim.subPath !== undefined && a.persistentVolumeClaim.subPath !== "") m.subPath = a.persistentVolumeClaim.subPath;
      parts.mounts.push(m);
    } else if (a.image !== undefined) {
      if (config.imageMode === "volume") {
        const image: { reference: string; pullPolicy?: string } = { reference: a.image.reference };
        if (a.image.pullPolicy !== undefined) image.pullPolicy = a.image.pullPolicy;
        parts.volumes.push({ name: vol, image });
        parts.mounts.push({ name: vol, mountPath: path, readOnly: true, subPath: "models" });
      } else {
        parts.volumes.push({ name: vol, emptyDir: {} });
        parts.mounts.push({ name: vol, mountPath: path, readOnly: true });
        const init: V1Container = {
          name: `artifact-${a.name}`,
          image: a.image.reference,
          command: ["cp", "-R", "/models/.", "/artifact/"],
          volumeMounts: [{ name: vol, mountPath: "/artifact" }],
        };
        if (a.image.pullPolicy !== undefined) init.imagePullPolicy = a.image.pullPolicy;
        if (securityContext !== undefined) init.securityContext = securityContext;
        parts.initContainers.push(init);
      }
    } else if (a.url !== undefined) {
      const spec: FetchSpec = { name: a.name, href: a.url.href };
      if (a.url.sha256 !== undefined) spec.sha256 = a.url.sha256;
      if (a.url.s3 !== undefined) spec.s3 = { ...a.url.s3 };
      if (a.url.secretRef !== undefined) {
        const dir = `/var/run/hearth/artifact-secrets/${a.name}`;
        spec.headersDir = dir;
        parts.volumes.push({ name: `${vol}-secret`, secret: { secretName: a.url.secretRef.name } });
        fetchMounts.push({ name: `${vol}-secret`, mountPath: dir, readOnly: true });
      }
      fetches.push(spec);
      parts.mounts.push({ name: CACHE_VOLUME, mountPath: path, readOnly: true, subPath: cacheKey(a.url.href, a.url.sha256) });
    }
  }
  if (fetches.length > 0) {
    const cache = config.cache.persistentVolumeClaim;
    parts.volumes.push(cache !== undefined ? { name: CACHE_VOLUME, persistentVolumeClaim: { claimName: cache } } : { name: CACHE_VOLUME, hostPath: { path: config.cache.hostPath, type: "DirectoryOrCreate" } });
    const env: V1EnvVar[] = [
      { name: "HEARTH_ARTIFACT_SPECS", value: JSON.stringify(fetches) },
      { name: "HEARTH_ARTIFACT_CACHE", value: FETCH_CACHE_DIR },
      { name: "HOME", value: "/tmp" },
      ...identity,
    ];
    const init: V1Container = {
      name: "fetch-artifacts",
      image: config.fetcherImage,
      command: [...config.fetcherCommand],
      env,
      volumeMounts: [{ name: CACHE_VOLUME, mountPath: FETCH_CACHE_DIR }, ...fetchMounts, ...identityMounts],
      // The download's progress is in this container's log; failures in its termination message.
      terminationMessagePolicy: "FallbackToLogsOnError",
    };
    if (securityContext !== undefined) init.securityContext = securityContext;
    parts.initContainers.unshift(init);
  }
  return parts;
}
