// The two things dev mode does with every process it starts: prefix its output lines, and stop
// its whole process group (SIGTERM, then SIGKILL after a grace period).
import type { ChildProcess } from "node:child_process";

/** Writes each complete line of `stream` as `prefix + line`. */
export function prefixLines(stream: NodeJS.ReadableStream | null, prefix: string, write: (line: string) => void): void {
  if (stream === null) return;
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      write(prefix + buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Stops a child started with `detached: true` (its own process group) and waits for it. */
export async function stopProcessGroup(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  signalGroup(child.pid, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
