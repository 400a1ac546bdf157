// bench/invoke.ts --hops: where a sequential run()'s time goes. The gateway, supervisors and
// children record `<CLOCK_MONOTONIC ns> <hop>` lines (src/trace/hops.ts, HEARTH_HOP_TRACE); the
// bench marks c.send / c.recv itself. Every run() crosses the hops below in this order (fewer
// when the child holds the worker channel: no supervisor on the way); the
// table is the median (and p90) of each step over the runs that crossed all of them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { quantile } from "./processes.ts";

/** The hops of one run() when the supervisor relays (HEARTH_WORKER_CHANNEL=relay), in order. */
export const RELAY_HOPS: readonly (readonly [string, string])[] = [
  ["c.send", "client sends the request"],
  ["g.req", "gateway: request routed (HTTP parse, wake-up)"],
  ["g.grant", "gateway: submit, dispatch, lease line written"],
  ["s.tasks", "supervisor: lease line read (wake-up, parse)"],
  ["s.tochild", "supervisor: task handed to the child's IPC"],
  ["k.recv", "child: task message read (wake-up)"],
  ["k.send", "child: handler ran, outcome sent"],
  ["s.fromchild", "supervisor: outcome read (wake-up)"],
  ["s.write", "supervisor: results line written"],
  ["g.results", "gateway: results line read (wake-up, parse)"],
  ["g.commit", "gateway: outcome applied, about to be made crash-safe"],
  ["g.written", "gateway: outcome crash-safe (run log line, else commit)"],
  ["g.reply", "gateway: answer rendered"],
  ["c.recv", "client has the answer"],
];

/** The hops of one run() when the child holds the worker channel (the default), in order. */
export const DIRECT_HOPS: readonly (readonly [string, string])[] = [
  ["c.send", "client sends the request"],
  ["g.req", "gateway: request routed (HTTP parse, wake-up)"],
  ["g.grant", "gateway: submit, dispatch, lease line written"],
  ["k.tasks", "child: lease line read (wake-up, parse)"],
  ["k.send", "child: handler ran, outcome staged"],
  ["k.write", "child: results line written"],
  ["g.results", "gateway: results line read (wake-up, parse)"],
  ["g.commit", "gateway: outcome applied, about to be made crash-safe"],
  ["g.written", "gateway: outcome crash-safe (run log line, else commit)"],
  ["g.reply", "gateway: answer rendered"],
  ["c.recv", "client has the answer"],
];

/** The client's own marks (this process). */
export class HopMarks {
  readonly marks: [bigint, string][] = [];
  mark(name: string): void {
    this.marks.push([process.hrtime.bigint(), name]);
  }
}

/** Reads every process's marks in `dir` plus the client's and prints the per-hop table. */
export function printHops(dir: string, client: HopMarks, skipFirst: number): void {
  const events: [bigint, string][] = [...client.marks];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".hops")) continue;
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      const sp = line.indexOf(" ");
      if (sp > 0) events.push([BigInt(line.slice(0, sp)), line.slice(sp + 1)]);
    }
  }
  events.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const RUN_HOPS = events.some(([, n]) => n === "k.tasks") ? DIRECT_HOPS : RELAY_HOPS;
  const names = RUN_HOPS.map(([n]) => n);
  const steps: number[][] = names.slice(1).map(() => []);
  let runs = 0;
  let seen = 0;
  let at: bigint[] = [];
  const close = (): void => {
    if (at.length !== names.length) return;
    if (seen++ < skipFirst) return;
    runs++;
    for (let i = 1; i < at.length; i++) steps[i - 1]?.push(Number((at[i] ?? 0n) - (at[i - 1] ?? 0n)) / 1000);
  };
  for (const [t, name] of events) {
    if (name === names[0]) {
      at = [t];
      continue;
    }
    // The first time each hop comes after the previous one (other work marks hops too: a push's
    // commit, a heartbeat): a sequential run() is alone on the path.
    if (at.length > 0 && at.length < names.length && name === names[at.length]) {
      at.push(t);
      if (at.length === names.length) close();
    }
  }
  console.log(`\nper-hop time of a sequential run() (µs, ${runs} runs that crossed every hop)      p50      p90`);
  let total50 = 0;
  for (let i = 1; i < names.length; i++) {
    const xs = (steps[i - 1] ?? []).sort((a, b) => a - b);
    const p50 = quantile(xs, 0.5);
    total50 += p50;
    console.log(`  ${`${names[i - 1]} → ${names[i]}`.padEnd(24)} ${(RUN_HOPS[i]?.[1] ?? "").padEnd(56)} ${p50.toFixed(1).padStart(7)}  ${quantile(xs, 0.9).toFixed(1).padStart(7)}`);
  }
  console.log(`  ${"sum of the medians".padEnd(81)} ${total50.toFixed(1).padStart(7)}`);
}
