// The kubelet's side of the startup deadline (spec.startupTimeoutSeconds). The runtime enforces
// the deadline itself (it exits 124, SetupTimeout, with the reason in its termination message);
// the startupProbe is the backstop for a runtime that cannot (a wedged supervisor), so it must
// never fire first: its window is the deadline plus a grace for the runtime to report and exit.
//
// The probe asks GET /startupz, which answers 200 once setup() finished or once setup() reported
// progress: from then on the runtime's deadline, which progress extends, governs alone — a
// 70B-model load that keeps reporting is not killed by a fixed kubelet window.
import type { V1Probe } from "@kubernetes/client-node";

export const STARTUP_PATH = "/startupz";
/** Seconds the kubelet waits beyond the runtime's deadline. */
export const STARTUP_PROBE_GRACE_SECONDS = 15;

export interface StartupProbeTiming {
  periodSeconds: number;
  failureThreshold: number;
  /** periodSeconds × failureThreshold: how long the kubelet tolerates a not-started worker. */
  windowSeconds: number;
}

/** Probe timing for a deadline: period 1 s for short deadlines, up to 10 s for long ones. */
export function startupProbeTiming(startupTimeoutSeconds: number): StartupProbeTiming {
  const periodSeconds = Math.max(1, Math.min(10, Math.ceil(startupTimeoutSeconds / 60)));
  const failureThreshold = Math.ceil((startupTimeoutSeconds + STARTUP_PROBE_GRACE_SECONDS) / periodSeconds);
  return { periodSeconds, failureThreshold, windowSeconds: periodSeconds * failureThreshold };
}

export function startupProbe(startupTimeoutSeconds: number, port: string): V1Probe {
  const t = startupProbeTiming(startupTimeoutSeconds);
  return { httpGet: { path: STARTUP_PATH, port }, periodSeconds: t.periodSeconds, failureThreshold: t.failureThreshold, timeoutSeconds: 1, successThreshold: 1 };
}
