// CPU seconds per process of a hack/cluster.ts cluster (its state.json beside the kubeconfig
// lists them: kube-apiserver, etcd, controller manager, scheduler, kwok), plus any other pids,
// read from /proc: where a bench's time goes.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { liveProcessCpuMs } from "./proc-cpu.ts";

/** The cluster's processes, when it is a hack/cluster.ts one. */
export function clusterProcesses(kubeconfigPath: string): { name: string; pid: number }[] {
  const state = join(dirname(kubeconfigPath), "state.json");
  if (!existsSync(state)) return [];
  const parsed = JSON.parse(readFileSync(state, "utf8")) as { processes?: { name: string; pid: number }[] };
  return parsed.processes ?? [];
}

/** CPU seconds used so far by each cluster process and each of `others` (name → pid). */
export function cpuSeconds(kubeconfigPath: string, others: Record<string, number | undefined> = {}): Map<string, number> {
  const out = new Map<string, number>();
  const all = [...clusterProcesses(kubeconfigPath), ...Object.entries(others).map(([name, pid]) => ({ name, pid }))];
  for (const p of all) {
    if (p.pid === undefined) continue;
    const ms = liveProcessCpuMs(p.pid);
    if (ms !== undefined) out.set(p.name, ms / 1000);
  }
  const self = process.cpuUsage();
  out.set("bench process", (self.user + self.system) / 1e6);
  return out;
}

/** What each process used since `before`. */
export function cpuSince(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}

export function formatCpu(used: Map<string, number>): string {
  return [...used].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
}

/**
 * CPU seconds of everything but the bench's own process (the control plane, and the operator when
 * one runs): what a side asked of the machine. Less load-sensitive than wall time (a busy machine
 * stretches seconds, far less the CPU a piece of work takes).
 */
export function clusterCpu(used: Map<string, number>): number {
  return [...used].filter(([k]) => k !== "bench process").reduce((a, [, v]) => a + v, 0);
}
