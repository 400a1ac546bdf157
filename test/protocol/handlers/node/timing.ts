// Deadlines and progress, for test/protocol/cases.json (same names as handlers/python/timing.py).
import { setTimeout as sleepMs } from "node:timers/promises";
import type { HearthContext } from "../../../../src/runtime/index.ts";

export async function sleep(seconds: number): Promise<{ slept: number }> {
  await sleepMs(seconds * 1000);
  return { slept: seconds };
}

export function busy(seconds: number): { spun: number } {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    // Spinning on purpose: the runtime must enforce the deadline from outside.
  }
  return { spun: seconds };
}

export async function steps(steps: number, seconds: number, ctx: HearthContext): Promise<{ steps: number }> {
  for (let i = 1; i <= steps; i++) {
    await sleepMs(seconds * 1000);
    ctx.updateProgress(i / steps, `step ${i}`);
  }
  return { steps };
}

export function bad_progress(ctx: HearthContext): string {
  ctx.updateProgress(1.5);
  return "unreachable";
}
