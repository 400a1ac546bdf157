// Function status fields that come from the gateway: warmWorkers, busyWorkers, queueDepth.
// Pure: the gateway's answer and the Functions' current status in, the status patches out.
import { z } from "zod";

export const gatewayStatsResponse = z.object({
  functions: z.array(
    z.object({
      namespace: z.string(),
      name: z.string(),
      queueDepth: z.int().min(0),
      warmWorkers: z.int().min(0),
      busyWorkers: z.int().min(0),
    }),
  ),
});
export type GatewayStatsResponse = z.infer<typeof gatewayStatsResponse>;

export interface WorkerNumbers {
  warmWorkers: number;
  busyWorkers: number;
  queueDepth: number;
}

export interface FunctionView {
  namespace: string;
  name: string;
  /** What the Function's status shows now (absent fields read as unknown). */
  current: Partial<WorkerNumbers>;
}

export interface StatsPatch {
  namespace: string;
  name: string;
  status: WorkerNumbers;
}

/**
 * One patch per Function whose numbers changed. A Function the gateway has no queue for has no
 * workers and nothing queued: zeros, so status never shows stale workers after a restart.
 */
export function planStatsPatches(functions: readonly FunctionView[], stats: GatewayStatsResponse): StatsPatch[] {
  const byKey = new Map(stats.functions.map((f) => [`${f.namespace}/${f.name}`, f]));
  const patches: StatsPatch[] = [];
  for (const fn of functions) {
    const s = byKey.get(`${fn.namespace}/${fn.name}`);
    const want: WorkerNumbers = { warmWorkers: s?.warmWorkers ?? 0, busyWorkers: s?.busyWorkers ?? 0, queueDepth: s?.queueDepth ?? 0 };
    const same = fn.current.warmWorkers === want.warmWorkers && fn.current.busyWorkers === want.busyWorkers && fn.current.queueDepth === want.queueDepth;
    if (!same) patches.push({ namespace: fn.namespace, name: fn.name, status: want });
  }
  return patches;
}
