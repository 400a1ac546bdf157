// The graph checks CEL cannot express (src/workflow/graph.ts) and the value readers of the executor.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workflowSpec } from "../../src/api/v1alpha1/workflow.ts";
import { analyze, encodingIssues } from "../../src/workflow/graph.ts";
import { chosenRoutes, runOutput, splitList } from "../../src/gateway/workflows/values.ts";

const spec = (start: string, steps: object[]) => workflowSpec.parse({ start, steps });
const step = (name: string, extra: object = {}) => ({ name, functionRef: { name: "f" }, ...extra });

describe("workflow graph checks", () => {
  it("accepts a map-reduce and computes fan-out stacks", () => {
    const { graph, issues } = analyze(spec("split", [step("split", { map: true, next: ["embed"] }), step("embed", { next: ["sum"] }), step("sum", { accumulate: { initial: 0 } })]));
    assert.deepEqual(issues, []);
    assert.deepEqual(graph?.steps.get("embed")?.fanOut, ["split"]);
    assert.deepEqual(graph?.steps.get("sum")?.fanOut, ["split"]);
    assert.equal(graph?.steps.get("sum")?.terminal, true);
  });

  it("reports a cycle with its steps", () => {
    const { issues } = analyze(spec("a", [step("a", { next: ["b"] }), step("b", { next: ["c"] }), step("c", { next: ["a"] })]));
    assert.equal(issues[0]?.reason, "Cycle");
    assert.match(issues[0]?.message ?? "", /a → b → c → a/);
  });

  it("reports unreachable steps", () => {
    const { issues } = analyze(spec("a", [step("a"), step("lonely")]));
    assert.deepEqual(
      issues.map((i) => [i.reason, i.step]),
      [["Unreachable", "lonely"]],
    );
  });

  it("reports an accumulate step with no map above it", () => {
    const { issues } = analyze(spec("a", [step("a", { next: ["r"] }), step("r", { accumulate: {} })]));
    assert.deepEqual(
      issues.map((i) => [i.reason, i.step]),
      [["AccumulateWithoutMap", "r"]],
    );
  });

  it("reports a step reached at two fan-out depths", () => {
    const { issues } = analyze(spec("a", [step("a", { next: ["m", "j"] }), step("m", { map: true, next: ["j"] }), step("j")]));
    assert.deepEqual(
      issues.map((i) => [i.reason, i.step]),
      [["InconsistentFanOut", "j"]],
    );
  });

  it("reports a router with no routes", () => {
    const { issues } = analyze(spec("r", [step("r", { routes: [] })]));
    assert.equal(issues[0]?.reason, "EmptyRoutes");
  });

  it("reports json/pickle edges; all-pickle map steps, routers and reducers are fine", () => {
    const s = spec("a", [step("a", { functionRef: { name: "py" }, next: ["b"] }), step("b", { functionRef: { name: "js" } })]);
    const issues = encodingIssues(s, (fn) => (fn === "py" ? "pickle" : "json"));
    assert.deepEqual(
      issues.map((i) => i.reason),
      ["EncodingMismatch"],
    );
    assert.match(issues[0]?.message ?? "", /edge a → b/);
    const m = spec("a", [
      step("a", { functionRef: { name: "py" }, map: true, next: ["b"] }),
      step("b", { functionRef: { name: "py" }, routes: ["c"] }),
      step("c", { functionRef: { name: "py" }, next: ["d"] }),
      step("d", { functionRef: { name: "py" }, accumulate: { initial: 0 } }),
    ]);
    assert.deepEqual(encodingIssues(m, () => "pickle"), []);
    const mixed = encodingIssues(m, (fn) => (fn === "py" ? "pickle" : "json"));
    assert.deepEqual(mixed, []);
  });
});

describe("workflow values", () => {
  it("splits a list and refuses anything else", () => {
    assert.deepEqual(splitList("s", '[1,"a",{"b":2}]'), { items: ["1", '"a"', '{"b":2}'] });
    assert.deepEqual(splitList("s", '{"a":1}'), { error: 'step "s" has map: true but returned an object, not a list' });
  });

  it("reads a router's choice", () => {
    assert.deepEqual(chosenRoutes("r", ["a", "b"], '"a"'), { routes: ["a"] });
    assert.deepEqual(chosenRoutes("r", ["a", "b"], '["b","a","b"]'), { routes: ["b", "a"] });
    assert.match(JSON.stringify(chosenRoutes("r", ["a"], '"z"')), /not one of its routes/);
    assert.match(JSON.stringify(chosenRoutes("r", ["a"], "3")), /must return a route name/);
  });

  it("builds the run output", () => {
    assert.equal(runOutput([{ step: "a", value: "1" }]), "1");
    assert.equal(runOutput([]), "{}");
    assert.equal(runOutput([{ step: "a", value: "1" }, { step: "b", value: '"x"' }, { step: "a", value: "2" }]), '{"a":[1,2],"b":["x"]}');
  });
});
