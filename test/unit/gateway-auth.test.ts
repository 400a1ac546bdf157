import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workerToken } from "../../src/auth/worker-token.ts";
import { Authenticator, bearer, parseTokenFile } from "../../src/gateway/auth.ts";

describe("gateway auth", () => {
  it("accepts configured caller tokens only, and takes rotated ones", () => {
    const auth = new Authenticator({ callerTokens: ["a", "b"] });
    assert.equal(auth.caller("Bearer a"), true);
    assert.equal(auth.caller("bearer b"), true);
    assert.equal(auth.caller("Bearer c"), false);
    assert.equal(auth.caller(undefined), false);
    assert.equal(auth.caller("Basic a"), false);
    auth.setCallerTokens(["c"]);
    assert.equal(auth.caller("Bearer a"), false);
    assert.equal(auth.caller("Bearer c"), true);
  });

  it("is open when nothing is configured", () => {
    const auth = new Authenticator({});
    assert.equal(auth.callersOpen, true);
    assert.equal(auth.workersOpen, true);
    assert.equal(auth.caller(undefined), true);
    assert.equal(auth.worker(undefined, "ns", "fn"), true);
  });

  it("binds worker tokens to one function", () => {
    const auth = new Authenticator({ workerSigningKey: "k" });
    assert.equal(auth.worker(`Bearer ${workerToken("k", "ns", "fn")}`, "ns", "fn"), true);
    assert.equal(auth.worker(`Bearer ${workerToken("k", "ns", "fn")}`, "ns", "other"), false);
    assert.equal(auth.worker(`Bearer ${workerToken("other-key", "ns", "fn")}`, "ns", "fn"), false);
  });

  it("parses token files and headers", () => {
    assert.deepEqual(parseTokenFile("# callers\nalpha\n\n  beta  \n"), ["alpha", "beta"]);
    assert.equal(bearer("Bearer  tok "), "tok");
    assert.equal(bearer("Bearer"), undefined);
  });
});
