// The console's pure browser modules (form generation and checks, readme Markdown, workflow
// graph), run in Node: the same files the gateway serves.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fieldsOf, initialText, readField, readForm, readJson } from "../../src/console/static/form.js";
import { edgesOf, layers, renderGraph } from "../../src/console/static/graph.js";
import { renderMarkdown, safeUrl } from "../../src/console/static/markdown.js";

const schema = {
  type: "object",
  properties: {
    prompt: { type: "string" },
    steps: { type: "integer", default: 3 },
    scale: { type: "number", default: 1.5 },
    style: { enum: ["ink", "oil"], type: "string", default: "ink" },
    seed: { type: ["integer", "null"], default: null },
    tags: { type: "array", items: { type: "string" }, default: [] },
    image: { type: ["string", "null"], format: "uri", default: null },
    loud: { type: "boolean", default: false },
    anything: {},
  },
  required: ["prompt"],
};

describe("form from a signature", () => {
  const fields = fieldsOf(schema) ?? [];

  it("maps JSON Schema types to field kinds", () => {
    assert.deepEqual(
      fields.map((f) => [f.name, f.kind, f.required, f.nullable]),
      [
        ["prompt", "string", true, false],
        ["steps", "integer", false, false],
        ["scale", "number", false, false],
        ["style", "enum", false, false],
        ["seed", "integer", false, true],
        ["tags", "array", false, false],
        ["image", "url", false, true],
        ["loud", "boolean", false, false],
        ["anything", "any", false, false],
      ],
    );
    assert.equal(fieldsOf({ type: "string" }), undefined);
    assert.equal(fieldsOf(null), undefined);
  });

  it("prefills defaults", () => {
    const byName = Object.fromEntries(fields.map((f) => [f.name, initialText(f)]));
    assert.deepEqual(byName, { prompt: "", steps: "3", scale: "1.5", style: '"ink"', seed: "", tags: "[]", image: "", loud: "false", anything: "" });
  });

  it("says what is wrong before anything is sent", () => {
    const texts = { prompt: "", steps: "2.5", scale: "x", style: '"ink"', seed: "", tags: "[1", image: "not a url", loud: "false", anything: "" };
    const r = readForm(fields, texts);
    assert.deepEqual(Object.keys(r.errors ?? {}).sort(), ["image", "prompt", "scale", "steps", "tags"]);
    assert.match(r.errors?.["steps"] ?? "", /whole number/);
    assert.match(r.errors?.["image"] ?? "", /URL/);
  });

  it("reads a valid form into the input object, leaving empty optional fields out", () => {
    const r = readForm(fields, { prompt: "a cat", steps: "4", scale: "2", style: '"oil"', seed: "", tags: '["x"]', image: "https://e.com/a.png", loud: "true", anything: "{\"k\":1}" });
    assert.deepEqual(r.input, { prompt: "a cat", steps: 4, scale: 2, style: "oil", tags: ["x"], image: "https://e.com/a.png", loud: true, anything: { k: 1 } });
  });

  it("treats untyped text as JSON when it parses, else as a string", () => {
    const any = fields.find((f) => f.name === "anything");
    assert.ok(any);
    assert.deepEqual(readField(any, "12"), { value: 12 });
    assert.deepEqual(readField(any, "hello"), { value: "hello" });
    const style = fields.find((f) => f.name === "style");
    assert.ok(style);
    assert.ok(readField(style, '"watercolour"').error);
  });

  it("the JSON editor checks its text", () => {
    assert.deepEqual(readJson('{"a": 1}'), { input: { a: 1 } });
    assert.deepEqual(readJson(""), { input: null });
    assert.match(readJson("{a").error ?? "", /not valid JSON/);
  });
});

describe("readme Markdown", () => {
  it("renders the usual blocks", () => {
    const html = renderMarkdown("# Title\n\nSome **bold** and `code` and [a link](https://x.dev).\n\n- one\n- two\n\n```py\nprint(1)\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |");
    assert.match(html, /<h2>Title<\/h2>/);
    assert.match(html, /<strong>bold<\/strong>/);
    assert.match(html, /<code>code<\/code>/);
    assert.match(html, /<a href="https:\/\/x.dev" rel="noopener noreferrer">a link<\/a>/);
    assert.match(html, /<ul><li>one<\/li><li>two<\/li><\/ul>/);
    assert.match(html, /<pre><code class="language-py">print\(1\)<\/code><\/pre>/);
    assert.match(html, /<th scope="col">a<\/th>/);
  });

  it("never lets markup or script URLs through", () => {
    const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) ![y](javascript:alert(2))');
    assert.doesNotMatch(html, /<script|<img src=x|href="javascript|src="javascript/);
    assert.match(html, /&lt;script&gt;/);
    assert.equal(safeUrl("javascript:alert(1)", false), undefined);
    assert.equal(safeUrl("data:image/png;base64,AAAA", true), "data:image/png;base64,AAAA");
    assert.equal(safeUrl("data:text/html;base64,AAAA", true), undefined);
  });
});

describe("workflow graph", () => {
  const spec = {
    start: "split",
    steps: [
      { name: "split", functionRef: { name: "splitter" }, map: true, next: ["transcribe"] },
      { name: "transcribe", functionRef: { name: "whisper" }, routes: ["merge", "retry"] },
      { name: "retry", functionRef: { name: "whisper" }, next: ["merge"] },
      { name: "merge", functionRef: { name: "joiner" }, accumulate: {} },
      { name: "orphan", functionRef: { name: "x" } },
    ],
  };

  it("puts steps in columns by distance from start, unreachable ones last", () => {
    assert.deepEqual(layers(spec), [["split"], ["transcribe"], ["retry", "merge"], ["orphan"]]);
    assert.deepEqual(edgesOf(spec).filter((e) => e.kind === "route").map((e) => e.to), ["merge", "retry"]);
  });

  it("draws every step and edge, escaped, with run status", () => {
    const svg = renderGraph({ ...spec, steps: [...spec.steps, { name: "<b>", functionRef: { name: "<i>" } }] }, { split: "succeeded", transcribe: "running" });
    assert.equal((svg.match(/<g class="step/g) ?? []).length, 6);
    assert.equal((svg.match(/<path class="edge/g) ?? []).length, 4);
    assert.match(svg, /class="step status-succeeded start"/);
    assert.match(svg, /map, start/);
    assert.match(svg, /&lt;b&gt;/);
    assert.doesNotMatch(svg, /<b>/);
    assert.match(svg, /role="img" aria-label="Workflow graph: 6 steps, starting at split"/);
  });
});
