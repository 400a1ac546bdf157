// A warm worker's health port and probes (oneshot workers have neither). Pure.
import type { V1Container } from "@kubernetes/client-node";
import { HEALTH_PORT_NAME } from "./labels.ts";
import { startupProbe } from "./startup.ts";

export type WarmProbes = Required<Pick<V1Container, "ports" | "readinessProbe" | "livenessProbe" | "startupProbe">>;

export function warmProbes(healthPort: number, startupTimeoutSeconds: number): WarmProbes {
  return {
    ports: [{ name: HEALTH_PORT_NAME, containerPort: healthPort, protocol: "TCP" }],
    // The supervisor answers /readyz with 200 only after setup() finished: a pod joins the pool
    // when its model is loaded. /healthz is served from the start, so a long setup() is not killed.
    readinessProbe: { httpGet: { path: "/readyz", port: HEALTH_PORT_NAME }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 1, successThreshold: 1 },
    livenessProbe: { httpGet: { path: "/healthz", port: HEALTH_PORT_NAME }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    startupProbe: startupProbe(startupTimeoutSeconds, HEALTH_PORT_NAME),
  };
}
