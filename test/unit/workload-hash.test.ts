// canonicalJson was rewritten for speed (round 9); its output — and so every stored applied-hash
// and config-hash annotation — must not change, or an upgraded operator would re-apply every pool.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { desiredObjects } from "../../src/controllers/function/desired.ts";
import { parseOperatorConfig } from "../../src/operator/config.ts";
import { canonicalJson, stableHash } from "../../src/workload/hash.ts";
import { aFunction } from "../support/function-builder.ts";

/** The implementation before the rewrite, kept as the reference. */
function reference(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : reference(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(",")}}`;
}

describe("canonicalJson", () => {
  it("gives what the earlier implementation gave", () => {
    const odd = { b: [1, undefined, null, "x", { z: undefined, y: [] }], a: { "é": 1, E: 2, "10": 3, "9": 4, "": 5 }, c: undefined, d: true, e: -0.5, f: "\u2028\"q\"" };
    assert.equal(canonicalJson(odd), reference(odd));
    for (const v of [null, 1, "s", true, [], {}, [[[]]], { a: { b: { c: {} } } }]) assert.equal(canonicalJson(v), reference(v));
    const config = parseOperatorConfig({ workerTokens: { signingKey: "k".repeat(32) } });
    for (const fn of [aFunction("echo"), aFunction("big").replicas(3).handler("app.models:Big")]) {
      const d = desiredObjects(fn.build(), config, { setReplicas: true });
      assert.ok(d.ok, d.ok ? "" : d.message);
      assert.equal(canonicalJson(d.objects.deployment), reference(d.objects.deployment));
    }
  });

  it("hashes a fixed value to the same digest as before", () => {
    assert.equal(stableHash({ b: 1, a: [1, { d: null, c: "x" }] }, "s"), "389358fd4b9768a1");
  });
});
