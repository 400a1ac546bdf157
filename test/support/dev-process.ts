// Stopping a `hearth dev` a test started (spawned detached, so it leads its own process group).
import type { ChildProcess } from "node:child_process";

/**
 * SIGINT first: dev mode stops its gateway, operator and workers (each in its own process group)
 * itself; a SIGKILL of dev's group alone would leave them running. SIGKILL after `graceMs`.
 */
export async function stopDevProcess(dev: ChildProcess, exited: Promise<unknown>, graceMs = 20_000): Promise<void> {
  if (dev.exitCode !== null || dev.signalCode !== null || dev.pid === undefined) return;
  const pid = dev.pid;
  process.kill(pid, "SIGINT");
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}
