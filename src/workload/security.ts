// The security settings of every Hearth worker pod: restricted Pod Security, nothing writable but
// the volumes the pod is given.
import type { V1PodSecurityContext, V1SecurityContext } from "@kubernetes/client-node";
import type { WorkloadConfig } from "./config.ts";

/** Each container's: no privilege escalation, read-only root, non-root, no capabilities. A new object per call. */
export function restrictedContainerSecurity(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
  };
}

/** The pod's: the configured non-root user and groups, the runtime's default seccomp profile. */
export function podSecurityContext(pod: WorkloadConfig["pod"]): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: pod.runAsUser,
    runAsGroup: pod.runAsGroup,
    fsGroup: pod.fsGroup,
    seccompProfile: { type: "RuntimeDefault" },
  };
}
