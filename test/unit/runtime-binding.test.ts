import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bind, planFor } from "../../src/runtime/binding.ts";
import { BindError } from "../../src/runtime/errors.ts";
import { paramsOf, parseParams } from "../../src/runtime/params.ts";

const CTX = { ctx: true };

describe("parseParams", () => {
  const cases: [string, ReturnType<typeof parseParams>][] = [
    ["function add(a, b) { return a + b }", [p("a"), p("b")]],
    ["async function f(x, y = 2) {}", [p("x"), p("y", true)]],
    ["(a, b) => a + b", [p("a"), p("b")]],
    ["async (a) => a", [p("a")]],
    ["x => x", [p("x")]],
    ["async x => x", [p("x")]],
    ["predict(name, ctx) { return name }", [p("name"), p("ctx")]],
    ["async predict(input) {}", [p("input")]],
    ["function f() {}", []],
    ["function f(a, ...rest) {}", [p("a"), { name: "rest", hasDefault: false, rest: true }]],
    ["function f({ a, b }, [c]) {}", [{ name: undefined, hasDefault: false, rest: false }, { name: undefined, hasDefault: false, rest: false }]],
    ["function f({ a } = {}, b = (1, 2), c = \"x,y)\") {}", [{ name: undefined, hasDefault: true, rest: false }, p("b", true), p("c", true)]],
    ["function f(a = b >= c, d = e == f) {}", [p("a", true), p("d", true)]],
    ["function f(a /* , fake */, // b,\n c) {}", [p("a"), p("c")]],
    ["function f(a = `${x, y}`, b) {}", [p("a", true), p("b")]],
    ["function f(a,) {}", [p("a")]],
    // What Node leaves of `predict(a: number, b?: string)` after stripping types.
    ["predict(a        , b         ) {}", [p("a"), p("b")]],
    ["[Symbol.for('x(')](a) {}", [p("a")]],
    ["function () { [native code] }", undefined],
  ];
  for (const [source, want] of cases) {
    it(source.replace(/\n/g, "\\n"), () => assert.deepEqual(parseParams(source), want));
  }

  it("reads real functions, including class methods and stripped TypeScript", () => {
    class Model {
      predict(text: string, topK = 5): string {
        return text + String(topK);
      }
    }
    // The runtime reads the method off the prototype exactly like this; `this` is never used.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    assert.deepEqual(paramsOf(Model.prototype.predict), [p("text"), p("topK", true)]);
    assert.equal(paramsOf(Math.max), undefined);
    assert.equal(paramsOf(((a: number) => a).bind(null)), undefined);
  });
});

function p(name: string, hasDefault = false): { name: string; hasDefault: boolean; rest: boolean } {
  return { name, hasDefault, rest: false };
}

function plan(source: string): ReturnType<typeof planFor> {
  return planFor(parseParams(source));
}

describe("bind", () => {
  const add = plan("function add(a, b) {}");
  const one = plan("function f(payload) {}");
  const withCtx = plan("function f(x, ctx) {}");
  const none = plan("function f() {}");

  it("binds an object by name, in declaration order, context last", () => {
    assert.deepEqual(bind(add, { b: 2, a: 1 }, CTX), [1, 2, CTX]);
  });

  it("binds an array by position", () => {
    assert.deepEqual(bind(add, [1, 2], CTX), [1, 2, CTX]);
  });

  it("passes the whole object to a single parameter whose name is not a key", () => {
    assert.deepEqual(bind(one, { x: 1 }, CTX), [{ x: 1 }, CTX]);
    assert.deepEqual(bind(one, { payload: 7 }, CTX), [7, CTX]);
  });

  it("passes a scalar as the single argument", () => {
    assert.deepEqual(bind(one, "s", CTX), ["s", CTX]);
    assert.deepEqual(bind(one, null, CTX), [null, CTX]);
  });

  it("puts the context in a parameter named ctx and never binds it from input", () => {
    assert.deepEqual(bind(withCtx, { x: 1 }, CTX), [1, CTX]);
    assert.deepEqual(bind(withCtx, 5, CTX), [5, CTX]);
    assert.throws(() => bind(withCtx, { x: 1, ctx: 2 }, CTX), /reserved for the task context/);
  });

  it("passes nothing but the context for null to a parameterless handler", () => {
    assert.deepEqual(bind(none, null, CTX), [CTX]);
    assert.deepEqual(bind(none, {}, CTX), [CTX]);
  });

  it("leaves an omitted defaulted parameter undefined so JavaScript applies the default", () => {
    const greet = plan("function greet(name, greeting = 'hello') {}");
    assert.deepEqual(bind(greet, { name: "ada" }, CTX), ["ada", undefined, CTX]);
    assert.deepEqual(bind(greet, ["ada"], CTX), ["ada", undefined, CTX]);
  });

  it("collects extra positional items in a rest parameter and then passes no context", () => {
    const rest = plan("function f(a, ...more) {}");
    assert.deepEqual(bind(rest, [1, 2, 3], CTX), [1, 2, 3]);
  });

  const rejects: [string, ReturnType<typeof planFor>, unknown, RegExp][] = [
    ["a missing parameter", add, { a: 1 }, /missing "b"/],
    ["an unknown key", add, { a: 1, b: 2, c: 3 }, /unexpected key "c"/],
    ["too many items", add, [1, 2, 3], /at most 2/],
    ["too few items", add, [1], /at least 2/],
    ["a scalar to two parameters", add, 5, /a single argument, it needs at least 2/],
    ["a value to no parameters", none, 3, /at most 0/],
    ["keys to no parameters", none, { a: 1 }, /unexpected key "a"/],
    ["an object by name to a destructuring pattern among several", plan("function f({a}, b) {}"), { a: 1, b: 2 }, /destructuring pattern/],
  ];
  for (const [what, pl, input, message] of rejects) {
    it(`rejects ${what} with BindError`, () => {
      assert.throws(() => bind(pl, input, CTX), (err: unknown) => err instanceof BindError && message.test(err.message));
    });
  }

  it("passes input through when the signature is unknown", () => {
    const unknown = planFor(undefined);
    assert.deepEqual(bind(unknown, [1, 2], CTX), [1, 2, CTX]);
    assert.deepEqual(bind(unknown, { a: 1 }, CTX), [{ a: 1 }, CTX]);
  });
});
