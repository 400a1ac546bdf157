// A handler that calls other Functions from inside (ctx.function), for
// test/e2e/handler-calls.test.ts. One Function serves every case (fewer worker processes), by
// `op`; it records what it did in $HEARTH_E2E_RECORD when set ("<what> <json>" per line).
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { HearthContext } from "../../../src/runtime/index.ts";

function record(what: string, value: unknown): void {
  const file = process.env["HEARTH_E2E_RECORD"];
  if (file !== undefined) appendFileSync(file, `${what} ${JSON.stringify(value)}\n`);
}

type Op =
  | { op: "echo"; value: unknown }
  /** Runs `target` with `payload`; answers who it is and what came back. */
  | { op: "call"; target: string; payload: unknown }
  /** Calls itself with n + 1, forever: the gateway's depth limit stops it. */
  | { op: "recurse"; n: number }
  /** Pushes `payload` to `target` and waits for it (cancel this one: the child is cancelled too). */
  | { op: "parent"; target: string; payload: unknown }
  /** Sleeps `ms`, cut short by cancellation. */
  | { op: "sleep"; ms: number };

export async function main(input: Op, ctx: HearthContext): Promise<unknown> {
  switch (input.op) {
    case "echo":
      return { echo: input.value, task: ctx.taskId };
    case "call": {
      const got = await ctx.function(input.target).run(input.payload);
      return { self: String(ctx.function), name: ctx.functionName, task: ctx.taskId, got };
    }
    case "recurse":
      record("recurse", { n: input.n, task: ctx.taskId });
      return ctx.function(ctx.functionName.split("/")[1] ?? "").run({ op: "recurse", n: input.n + 1 });
    case "parent": {
      const child = await ctx.function(input.target).push(input.payload);
      record("child", { parent: ctx.taskId, child: child.id });
      return child.result();
    }
    case "sleep":
      record("sleeping", { task: ctx.taskId });
      try {
        await sleep(input.ms, undefined, { signal: ctx.signal });
      } catch {
        return "woken";
      }
      return "slept";
  }
}
