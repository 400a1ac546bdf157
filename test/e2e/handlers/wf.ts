// Steps of the workflow e2e tests (test/e2e/workflows.test.ts). Each records its calls in
// $HEARTH_E2E_RECORD when set ("<function> <input> <pid>"), so tests count executions.
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

function record(what: string, input: unknown): void {
  const file = process.env["HEARTH_E2E_RECORD"];
  if (file !== undefined) appendFileSync(file, `${what} ${JSON.stringify(input)} ${process.pid}\n`);
}

/** A map step: words of a text (a list passes through; anything else comes back as is). */
export function split(text: unknown): unknown {
  record("split", text);
  return typeof text === "string" ? text.split(/\s+/).filter((w) => w !== "") : text;
}

/** "Embeds" a word: its length. `slow…` words take 60 s; `late…` words 50 ms × their length; `fail…` raise. */
export async function embed(word: unknown): Promise<number> {
  record("embed", word);
  const w = typeof word === "string" ? word : typeof word === "object" && word !== null ? String((word as Record<string, unknown>)["text"]) : String(word);
  if (w.startsWith("slow")) await sleep(60_000);
  if (w.startsWith("late")) await sleep(50 * (12 - Math.min(w.length, 12)));
  if (w.startsWith("pause")) await sleep(400);
  if (w.startsWith("fail")) throw new Error(`cannot embed ${w}`);
  return w.length;
}

/** A reducer: sums numbers, or appends to a list accumulator; raises on 13. */
export function add(acc: unknown, item: unknown): unknown {
  record("add", [acc, item]);
  if (item === 13) throw new Error("13 is unlucky");
  if (Array.isArray(acc)) return [...(acc as unknown[]), item];
  return Number(acc) + Number(item);
}

/** A router: returns the input's `route`. */
export function router(x: unknown): unknown {
  record("router", x);
  return typeof x === "object" && x !== null ? (x as Record<string, unknown>)["route"] : x;
}

export function shout(x: unknown): string {
  record("shout", x);
  if (typeof x === "string") return x.toUpperCase();
  const text = typeof x === "object" && x !== null ? (x as Record<string, unknown>)["text"] : x;
  return String(text).toUpperCase();
}

/** A cacheable step: doubles a number (raises on negatives); every call is recorded. */
export function tally(x: unknown): number {
  record("tally", x);
  if (typeof x !== "number" || x < 0) throw new Error(`cannot tally ${JSON.stringify(x)}`);
  return x * 2;
}

/** A no-op step (bench/workflow.ts). */
export function noop(x: unknown): unknown {
  return x;
}
