// Polls a condition of the test's own state (lines received, outcomes seen) until it holds:
// the unit tests' wait, without the cluster helpers' imports (cluster.ts `waitFor`).
import { setTimeout as sleep } from "node:timers/promises";

export async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
