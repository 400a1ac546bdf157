// Handlers of the isolated-call integration test (test/integration/isolated-calls.test.ts), run
// as real oneshot processes by dev mode's local runner. Twins of calls.py.
import { existsSync } from "node:fs";
export function big(size: number): { size: number; data: string; pod: string } {
  return { size, data: "x".repeat(size), pod: process.env["HEARTH_WORKER_ID"] ?? "" };
}

export function fail(message: string): never {
  throw new Error(`user code failed: ${message}`);
}

export async function sleepy(seconds: number): Promise<string> {
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return "woke up";
}

/**
 * Reports progress at every step (ctx.updateProgress), a step every `ms`; with `gate`, the last
 * step waits until that file exists (test/integration/isolated-resilience.test.ts).
 */
export async function steps(job: { steps: number; ms: number; gate?: string }, ctx: { updateProgress(progress: number, message?: string): void }): Promise<{ steps: number; pod: string }> {
  for (let i = 1; i <= job.steps; i++) {
    if (i === job.steps && job.gate !== undefined) while (!existsSync(job.gate)) await new Promise((r) => setTimeout(r, 100));
    ctx.updateProgress(i / job.steps, `step ${i} of ${job.steps}`);
    await new Promise((r) => setTimeout(r, job.ms));
  }
  return { steps: job.steps, pod: process.env["HEARTH_WORKER_ID"] ?? "" };
}
