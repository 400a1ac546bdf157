// The task context the child builds per task (src/runtime/child.ts, context.ts) with a real
// handler module: its fields are own, enumerable and frozen (it is a class instance now, cheaper
// to freeze than an object literal); a cancel shows on ctx.signal whether the handler reads it
// before or after the cancel.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ChildRuntime, type ChildOutcome } from "../../src/runtime/child.ts";
import type { FromChild } from "../../src/runtime/ipc.ts";

const HANDLER = `
const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Reads ctx.signal only after waiting (a cancel may come first), then reports what it saw. */
export async function late(input, ctx) {
  await tick(input.waitMs);
  const s = ctx.signal;
  return { aborted: s.aborted, reason: s.aborted ? String(s.reason?.message) : null, same: s === ctx.signal };
}
/** Reads ctx.signal at once and waits for its abort event (or gives up). */
export async function early(input, ctx) {
  const s = ctx.signal;
  const how = await new Promise((resolve) => {
    const t = setTimeout(() => resolve("timeout"), input.giveUpMs);
    s.addEventListener("abort", () => { clearTimeout(t); resolve("aborted"); }, { once: true });
  });
  return { how };
}
/** What the rest of the context looks like. */
export function shape(input, ctx) {
  let assigned = true;
  try { ctx.taskId = "other"; } catch { assigned = false; }
  return { fn: String(ctx.function), name: ctx.functionName, artifacts: ctx.artifacts, stable: ctx.artifacts === ctx.artifacts && ctx.function === ctx.function, keys: Object.keys(ctx).sort(), frozen: Object.isFrozen(ctx), assigned, taskId: ctx.taskId };
}
`;

describe("the child's task context (real handler module)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "hearth-ctx-"));
    writeFileSync(join(dir, "ctxmod.mjs"), HANDLER);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function runtime(attr: string): Promise<ChildRuntime> {
    const sent: FromChild[] = [];
    const rt = new ChildRuntime({ handler: `ctxmod:${attr}`, roots: [dir], function: "team/ctx", startupTimeoutSeconds: 10, send: (m) => sent.push(m) });
    assert.equal(await rt.start(), true, JSON.stringify(sent));
    return rt;
  }

  function run(rt: ChildRuntime, id: string, input: unknown): Promise<ChildOutcome> {
    return new Promise((resolve) => void rt.run({ id, attempt: 1, input, timeoutSeconds: 30 }, resolve));
  }

  it("a cancel before the handler first reads ctx.signal: the signal it gets is already aborted", async () => {
    const rt = await runtime("late");
    const out = run(rt, "t1", { waitMs: 50 });
    rt.cancel("t1");
    assert.deepEqual(await out, { output: JSON.stringify({ aborted: true, reason: "the task was cancelled", same: true }) });
  });

  it("no cancel: the signal is not aborted", async () => {
    const rt = await runtime("late");
    assert.deepEqual(await run(rt, "t2", { waitMs: 1 }), { output: JSON.stringify({ aborted: false, reason: null, same: true }) });
  });

  it("a cancel after the handler read ctx.signal fires its abort event", async () => {
    const rt = await runtime("early");
    const out = run(rt, "t3", { giveUpMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    rt.cancel("t3");
    assert.deepEqual(await out, { output: JSON.stringify({ how: "aborted" }) });
  });

  it("ctx.function, ctx.artifacts, the context's own keys and its frozenness are as they were", async () => {
    const rt = await runtime("shape");
    const out = await run(rt, "t4", {});
    assert.ok("output" in out);
    assert.deepEqual(JSON.parse(out.output), {
      fn: "team/ctx",
      name: "team/ctx",
      artifacts: {},
      stable: true,
      keys: ["artifacts", "attempt", "function", "functionName", "signal", "taskId", "timeoutSeconds", "update_progress", "updateProgress"].sort(),
      frozen: true,
      assigned: false,
      taskId: "t4",
    });
  });
});
