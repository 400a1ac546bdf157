// The Function controller's metrics: which Functions are Degraded and why (alerts such as
// SetupFailing read it). One series per Degraded Function; removed when it recovers or goes.
import { Gauge, type Registry } from "prom-client";
import type { FunctionStatus } from "../../api/v1alpha1/index.ts";

export class FunctionMetrics {
  private readonly degraded: Gauge<"namespace" | "function" | "reason">;
  private readonly reasons = new Map<string, string>();

  constructor(registry: Registry) {
    this.degraded = new Gauge({
      name: "hearth_function_degraded",
      help: "1 while a Function is Degraded, labelled with the reason (SetupFailing, ImagePullBackOff, WaitingForGPU, …).",
      labelNames: ["namespace", "function", "reason"],
      registers: [registry],
    });
  }

  observe(namespace: string, name: string, status: FunctionStatus | undefined): void {
    const key = `${namespace}/${name}`;
    const d = status?.conditions?.find((c) => c.type === "Degraded");
    const reason = d?.status === "True" ? d.reason : undefined;
    const old = this.reasons.get(key);
    if (old === reason) return;
    if (old !== undefined) this.degraded.remove({ namespace, function: name, reason: old });
    if (reason === undefined) this.reasons.delete(key);
    else {
      this.reasons.set(key, reason);
      this.degraded.set({ namespace, function: name, reason }, 1);
    }
  }
}
