// crds/ and the chart's copy are generated from the zod schemas; a stale file fails here.
import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { parse } from "yaml";
import { allCrds, toStructural } from "../../src/api/crd.ts";

it("crds/ and charts/hearth/crds/ are up to date with src/api/v1alpha1", () => {
  const result = spawnSync(process.execPath, ["hack/gen-crds.ts", "--check"], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
});

it("generated CRDs are structural: no $ref, oneOf or additionalProperties beside properties", () => {
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
    if (typeof node !== "object" || node === null) return;
    const obj = node as Record<string, unknown>;
    for (const forbidden of ["$ref", "$defs", "oneOf", "propertyNames", "$schema"]) {
      assert.ok(!(forbidden in obj), `${path} has ${forbidden}`);
    }
    assert.ok(!("properties" in obj && "additionalProperties" in obj), `${path} has additionalProperties beside properties`);
    if (obj["type"] === "string" && !("enum" in obj)) assert.ok("maxLength" in obj, `${path}: unbounded string`);
    if (obj["type"] === "array") assert.ok("maxItems" in obj, `${path}: unbounded list`);
    for (const [k, v] of Object.entries(obj)) {
      // int-or-string's anyOf branches are type markers, bounded by the pattern beside them.
      if (k === "anyOf" && obj["x-kubernetes-int-or-string"] === true) continue;
      walk(v, `${path}.${k}`);
    }
  };
  for (const crd of allCrds()) {
    const spec = (crd["spec"] as { versions: { schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }[] }).versions[0];
    assert.ok(spec);
    walk(spec.schema.openAPIV3Schema.properties["spec"], `${String((crd["metadata"] as { name: string }).name)}.spec`);
  }
});

it("maps quantities to int-or-string and arbitrary JSON to preserve-unknown-fields", () => {
  const out = toStructural({
    type: "object",
    properties: {
      q: { anyOf: [{ type: "integer" }, { type: "string" }], "x-hearth-quantity": true, description: "d" },
      j: { "x-kubernetes-preserve-unknown-fields": true, $ref: "#/$defs/x", maxLength: 5 },
    },
    additionalProperties: false,
  });
  const props = out["properties"] as Record<string, Record<string, unknown>>;
  assert.equal(props["q"]?.["x-kubernetes-int-or-string"], true);
  assert.equal(props["q"]?.["description"], "d");
  assert.deepEqual(props["j"], { "x-kubernetes-preserve-unknown-fields": true, maxLength: 5 });
  assert.ok(!("additionalProperties" in out));
});

it("the chart ships the same CRDs as crds/", () => {
  for (const crd of allCrds()) {
    const name = (crd["metadata"] as { name: string }).name;
    assert.deepEqual(parse(readFileSync(`charts/hearth/crds/${name}.yaml`, "utf8")), parse(readFileSync(`crds/${name}.yaml`, "utf8")));
  }
});
