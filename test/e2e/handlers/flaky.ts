// Fails on demand, to watch how the worker treats each failure class.
import { setTimeout as sleep } from "node:timers/promises";
import { FatalError } from "../../../src/runtime/index.ts";

let SETUPS = 0;

export class Flaky {
  setup(): void {
    SETUPS++;
  }

  async predict(input: { fail?: boolean; fatal?: boolean; sleepMs?: number }): Promise<{ pid: number; setups: number }> {
    if (input.sleepMs !== undefined) await sleep(input.sleepMs);
    if (input.fatal === true) throw new FatalError("device lost");
    if (input.fail === true) throw new Error("asked to fail");
    return { pid: process.pid, setups: SETUPS };
  }
}
