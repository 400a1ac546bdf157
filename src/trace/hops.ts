// Per-hop timestamps of a run() across processes, for bench/invoke.ts --hops: with
// HEARTH_HOP_TRACE=<dir> each process records `<CLOCK_MONOTONIC ns> <hop>` lines (comparable
// across processes) and writes them to <dir>/<pid>.hops when it exits. Unset (always, outside
// the bench), `hop` is a function that does nothing.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env["HEARTH_HOP_TRACE"] ?? "";

/** Most marks kept per process (a bench's run phase makes ~15 per run()). */
const MAX_MARKS = 1_000_000;

function recorder(out: string): (name: string) => void {
  const marks: string[] = [];
  const dump = (): void => {
    if (marks.length === 0) return;
    writeFileSync(join(out, `${process.pid}.hops`), `${marks.join("\n")}\n`, { flag: "a" });
    marks.length = 0;
  };
  process.on("exit", dump);
  // A SIGTERM nobody else handles would end the process without "exit": write, then end as it would have.
  const onTerm = (): void => {
    dump();
    if (process.listenerCount("SIGTERM") === 0) process.kill(process.pid, "SIGTERM");
  };
  process.once("SIGTERM", onTerm);
  return (name) => {
    if (marks.length < MAX_MARKS) marks.push(`${process.hrtime.bigint()} ${name}`);
  };
}

/** Marks that this process reached hop `name` now (no-op unless HEARTH_HOP_TRACE is set). */
export const hop: (name: string) => void = dir === "" ? () => {} : recorder(dir);
