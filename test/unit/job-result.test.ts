// The oneshot result document read by hand (documentOf) answers exactly as its zod definition.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { documentBySchema, documentOf, parseTerminationMessage } from "../../src/controllers/job/result.ts";

/** A small deterministic PRNG (mulberry32): the same cases every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("oneshot result document", () => {
  const fixtures: unknown[] = [
    { output: { text: "hello", n: 2 } },
    { output: null },
    { output: [1, "a", { b: false }] },
    { output: "x" },
    { outputB64: "gASVCAAAAAAAAACMBGFiY2SULg==" },
    { outputB64: 3 },
    { outputRef: { kind: "Task", name: "t-1" } },
    { outputRef: { kind: "Task", name: "t-1", key: "extra kept out" } },
    { outputRef: { kind: "k".repeat(64), name: "n".repeat(253) } },
    { outputRef: { kind: "k".repeat(65), name: "n" } },
    { outputRef: { kind: "Task", name: "n".repeat(254) } },
    { outputRef: { kind: "Task" } },
    { outputRef: "Task/t-1" },
    { error: { type: "UserError", message: "ValueError: bad" } },
    { error: { type: "UserError" } },
    { error: { type: "UserError", message: null } },
    { error: { type: 1, message: "m" } },
    { error: { message: "m" } },
    { error: "boom" },
    { output: 1, outputB64: "x" },
    { output: 1, extra: true },
    { other: 1 },
    {},
    [],
    [{ output: 1 }],
    "output",
    42,
    null,
    JSON.parse('{"__proto__": {"output": 1}}'),
    JSON.parse('{"output": 1, "__proto__": 2}'),
  ];

  it("fixtures: the same answer as the schema", () => {
    for (const d of fixtures) assert.deepEqual(documentOf(d), documentBySchema(d), JSON.stringify(d));
  });

  it("3,000 random documents: the same answer as the schema", () => {
    const r = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const str = (): string => "s".repeat(pick([0, 1, 63, 64, 65, 252, 253, 254]));
    const value = (depth: number): unknown => {
      switch (pick(["s", "n", "b", "null", "arr", "obj"] as const)) {
        case "s":
          return str();
        case "n":
          return Math.floor(r() * 100) - 50;
        case "b":
          return r() < 0.5;
        case "null":
          return null;
        case "arr":
          return depth > 2 ? [] : [value(depth + 1)];
        case "obj": {
          const o: Record<string, unknown> = {};
          const n = Math.floor(r() * 4);
          for (let i = 0; i < n; i++) o[pick(["kind", "name", "type", "message", "x"])] = depth > 2 ? str() : value(depth + 1);
          return o;
        }
      }
    };
    for (let i = 0; i < 3000; i++) {
      const doc: Record<string, unknown> = {};
      const n = pick([0, 1, 1, 1, 2]);
      for (let k = 0; k < n; k++) doc[pick(["output", "outputB64", "outputRef", "error", "other"])] = value(0);
      const text = JSON.stringify(doc);
      const d: unknown = JSON.parse(text);
      assert.deepEqual(documentOf(d), documentBySchema(d), text);
    }
  });

  it("reads a termination message: empty, truncated, invalid, a result", () => {
    assert.deepEqual(parseTerminationMessage(undefined), { kind: "empty" });
    assert.deepEqual(parseTerminationMessage('  {"output": {"ok": true}}\n'), { kind: "output", output: { ok: true } });
    assert.deepEqual(parseTerminationMessage('{"error": {"type": "UserError"}}'), { kind: "error", type: "UserError", message: "" });
    assert.deepEqual(parseTerminationMessage("Traceback: boom"), { kind: "invalid", text: "Traceback: boom" });
    assert.deepEqual(parseTerminationMessage('{"output": 1, "x": 2}'), { kind: "invalid", text: '{"output": 1, "x": 2}' });
    const cut = '{"output": "' + "a".repeat(5000);
    assert.deepEqual(parseTerminationMessage(cut), { kind: "truncated", bytes: Buffer.byteLength(cut) });
  });
});
