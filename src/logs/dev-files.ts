// Dev mode's container logs: the local runner appends each worker process's output to
// `<logsDir>/<namespace>/<function>/<pod>.log`, and `hearth logs` reads (and follows) them.
import { existsSync, readdirSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export function podLogFile(logsDir: string, namespace: string, fn: string, pod: string): string {
  return join(logsDir, namespace, fn, `${pod}.log`);
}

/** The pods of a Function that have a log file, oldest name first. */
export function podsWithLogs(logsDir: string, namespace: string, fn: string): string[] {
  const dir = join(logsDir, namespace, fn);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** The last `n` lines of `text` (all when n is undefined). */
export function lastLines(text: string, n: number | undefined): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return n === undefined ? lines : lines.slice(Math.max(0, lines.length - n));
}

/**
 * Calls `onLine` for the file's lines (the last `tail` of them), then, with `follow`, for every
 * line appended later until `signal` aborts (polling, so it works on any filesystem).
 */
export async function readLogFile(path: string, opts: { follow: boolean; tail?: number; signal: AbortSignal; pollMs?: number }, onLine: (line: string) => void): Promise<void> {
  const handle = await open(path, "r");
  try {
    let offset = 0;
    let pending = "";
    const readNew = async (first: boolean): Promise<void> => {
      const size = (await stat(path)).size;
      if (size <= offset) return;
      const buf = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      offset += bytesRead;
      const text = pending + buf.subarray(0, bytesRead).toString("utf8");
      const end = text.lastIndexOf("\n");
      pending = end < 0 ? text : text.slice(end + 1);
      const complete = end < 0 ? "" : text.slice(0, end + 1);
      for (const line of lastLines(complete, first ? opts.tail : undefined)) onLine(line);
    };
    await readNew(true);
    while (opts.follow && !opts.signal.aborted) {
      try {
        await sleep(opts.pollMs ?? 250, undefined, { signal: opts.signal });
      } catch {
        break;
      }
      await readNew(false);
    }
    if (!opts.follow && pending !== "") onLine(pending);
  } finally {
    await handle.close();
  }
}
