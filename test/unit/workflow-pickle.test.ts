// The gateway's little pickle (src/gateway/workflows/pickle.ts): reading a router's pickled
// choice and composing pickles without unpickling. Python's own unpickling of the composed
// pickles is tested end to end in sdk/python/tests/test_workflow.py.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pickleDictOfLists, pickleJson, pickleList, readNames } from "../../src/gateway/workflows/pickle.ts";
import { accValue, chosenRoutesOf, pickleOutputB64, reducerInput, splitItems } from "../../src/gateway/workflows/values.ts";

// pickle.dumps(…, protocol=n).hex() from CPython 3.11.
const SHOUT_P4 = "80049509000000000000008c0573686f7574942e";
const LIST_P2 = "80025d7100285805000000736d616c6c71015804000000616c736f7102652e";
const TUPLE_P5 = "8005950b000000000000008c0161948c01629486942e";
const INT_P4 = "80044b032e";
const MEMO_P3 = "80035d71002858010000007871016801652e";

describe("pickle", () => {
  it("reads a pickled str or list/tuple of str, and nothing else", () => {
    const read = (hex: string) => readNames(Buffer.from(hex, "hex"));
    assert.equal(read(SHOUT_P4), "shout");
    assert.deepEqual(read(LIST_P2), ["small", "also"]);
    assert.deepEqual(read(TUPLE_P5), ["a", "b"]);
    assert.deepEqual(read(MEMO_P3), ["x", "x"]);
    assert.equal(read(INT_P4), undefined);
    assert.equal(read("8004"), undefined);
    assert.equal(read(SHOUT_P4.slice(0, -4)), undefined);
  });

  it("pickles JSON values with the opcodes Python reads", () => {
    assert.equal(pickleJson(null).toString("hex"), "80034e2e");
    assert.equal(pickleJson([1, "a"]).toString("hex"), "80035d28" + "4a01000000" + "580100000061" + "652e");
    assert.equal(pickleJson({}).toString("hex"), "80037d2e");
  });

  it("composes pickles as pickle.loads calls", () => {
    const part = Buffer.from(INT_P4, "hex");
    const list = pickleList([part]);
    assert.ok(list.includes(Buffer.from("cpickle\nloads\n")) && list.includes(part));
    assert.equal(pickleList([]).toString("hex"), "80035d2e");
    assert.ok(pickleDictOfLists([["a", [part]]]).includes(Buffer.from("a")));
  });

  it("moves pickle values through map, router and reducer edges", () => {
    const item = Buffer.from(INT_P4, "hex").toString("base64");
    assert.deepEqual(splitItems("m", JSON.stringify([item, item]), "pickle"), { items: [item, item] });
    assert.match((splitItems("m", item, "pickle") as { error: string }).error, /sent one pickle, not its items/);
    assert.deepEqual(chosenRoutesOf("r", ["small", "also"], Buffer.from(LIST_P2, "hex").toString("base64"), "pickle"), { routes: ["small", "also"] });
    assert.match((chosenRoutesOf("r", ["a"], item, "pickle") as { error: string }).error, /router "r" must return a route name/);
    assert.equal(reducerInput("0", "1", "json"), "[0,1]");
    assert.ok(Buffer.from(reducerInput("0", item, "pickle"), "base64").includes(pickleJson(0)));
    assert.equal(accValue("pickle:abc", "pickle"), "abc");
    assert.equal(accValue("0", "pickle"), pickleJson(0).toString("base64"));
    assert.equal(pickleOutputB64(item), item);
  });
});
