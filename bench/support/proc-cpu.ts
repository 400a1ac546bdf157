// CPU time of processes and their threads from /proc (Linux): what a bench phase cost each
// process, read before and after the phase. Clock ticks are 10 ms; phases of a few seconds
// resolve to about 1 %.
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10;

/** utime + stime of one /proc stat line, in ms; undefined when the process is gone. */
function statMs(path: string): { ms: number; comm: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  // comm is in parentheses and may hold spaces: the fields after it are space-separated.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // After comm: state is field 3 of the line → index 0 here; utime is field 14 → index 11.
  return { ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS, comm };
}

/** Direct children of `pid` (its main thread's children file). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((s) => s !== "").map(Number);
  } catch {
    return [];
  }
}

/** CPU ms of a whole process (all threads); undefined when it is gone. */
export function liveProcessCpuMs(pid: number): number | undefined {
  return statMs(`/proc/${pid}/stat`)?.ms;
}

/** CPU ms of a whole process (all threads); 0 when it is gone. */
export function processCpuMs(pid: number): number {
  return liveProcessCpuMs(pid) ?? 0;
}

/** CPU ms per thread of `pid`, keyed "main" for the main thread and by thread name (summed) for the others. */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const s = statMs(`/proc/${pid}/task/${tid}/stat`);
    if (s === undefined) continue;
    const key = Number(tid) === pid ? "main" : s.comm;
    out.set(key, (out.get(key) ?? 0) + s.ms);
  }
  return out;
}

/** Voluntary context switches so far of every thread of `pid` (each one a wait for I/O or a wake-up). */
export function wakeups(pid: number): number {
  let n = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      n += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // the thread ended
    }
  }
  return n;
}

/** Read and write syscalls and bytes written so far by `pid` (all threads; /proc/<pid>/io). */
export function processIo(pid: number): { syscr: number; syscw: number; wchar: number; wakeups: number } {
  try {
    const text = readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { syscr: field("syscr"), syscw: field("syscw"), wchar: field("wchar"), wakeups: wakeups(pid) };
  } catch {
    return { syscr: 0, syscw: 0, wchar: 0, wakeups: 0 };
  }
}
