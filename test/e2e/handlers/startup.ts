// Handlers for the startup deadline (spec.startupTimeoutSeconds): a setup() that hangs, and ones
// that take longer than the deadline but keep reporting progress (through ctx and through the
// module-level setupProgress()).
import { setTimeout as sleep } from "node:timers/promises";
import { setupProgress, type SetupContext } from "../../../src/runtime/index.ts";

const ms = (name: string, def: number): number => Number(process.env[name] ?? def);

export class Hangs {
  async setup(): Promise<void> {
    setupProgress(0.1, "downloading weights");
    await sleep(600_000);
  }
  predict(): string {
    return "never";
  }
}

export class ReportsThroughContext {
  private loadedIn = 0;
  async setup(ctx: SetupContext): Promise<void> {
    const started = Date.now();
    const steps = ms("SETUP_STEPS", 8);
    for (let i = 1; i <= steps; i++) {
      await sleep(ms("SETUP_STEP_MS", 400));
      ctx.updateProgress(i / (steps + 1), `weights shard ${i}/${steps}`);
    }
    this.loadedIn = Date.now() - started;
  }
  predict(): { loadedInMs: number } {
    return { loadedInMs: this.loadedIn };
  }
}

export class ReportsThroughModule {
  async setup(): Promise<void> {
    const steps = ms("SETUP_STEPS", 8);
    for (let i = 1; i <= steps; i++) {
      await sleep(ms("SETUP_STEP_MS", 400));
      setupProgress(i / (steps + 1), `layer ${i}`);
    }
  }
  predict(): string {
    return "loaded";
  }
}
