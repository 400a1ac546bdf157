import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firstToken, parseTokenFile, parseTokenList, TokenFileError } from "../../src/auth/caller-tokens.ts";
import { workerToken } from "../../src/auth/worker-token.ts";
import { AuthConfigError, Authenticator, bearer } from "../../src/gateway/auth.ts";

const KEY = "0123456789abcdef-key";

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

  it("fails closed: nothing configured, or an emptied token list, opens nothing", () => {
    const auth = new Authenticator({});
    assert.equal(auth.callersOpen, false);
    assert.equal(auth.workersOpen, false);
    assert.equal(auth.caller(undefined), false);
    assert.equal(auth.caller("Bearer anything"), false);
    assert.equal(auth.worker(undefined, "ns", "fn"), false);
    assert.equal(auth.worker(`Bearer ${workerToken(KEY, "ns", "fn")}`, "ns", "fn"), false);
    const rotated = new Authenticator({ callerTokens: ["a"], workerSigningKey: KEY });
    rotated.setCallerTokens([]);
    assert.equal(rotated.callersOpen, false);
    assert.equal(rotated.caller("Bearer a"), false);
    assert.equal(rotated.caller(undefined), false);
    assert.equal(new Authenticator({ workerSigningKey: "" }).workersOpen, false);
  });

  it("is open only when asked explicitly", () => {
    const auth = new Authenticator({ insecureOpen: true });
    assert.equal(auth.callersOpen, true);
    assert.equal(auth.workersOpen, true);
    assert.equal(auth.caller(undefined), true);
    assert.equal(auth.worker(undefined, "ns", "fn"), true);
    // With a signing key, worker tokens are still checked.
    assert.equal(new Authenticator({ insecureOpen: true, workerSigningKey: KEY }).worker(undefined, "ns", "fn"), false);
  });

  it("refuses short signing keys, as the operator does", () => {
    assert.throws(() => new Authenticator({ workerSigningKey: "short" }), AuthConfigError);
    assert.doesNotThrow(() => new Authenticator({ workerSigningKey: "x".repeat(16) }));
  });

  it("binds worker tokens to one function", () => {
    const auth = new Authenticator({ workerSigningKey: KEY });
    assert.equal(auth.worker(`Bearer ${workerToken(KEY, "ns", "fn")}`, "ns", "fn"), true);
    assert.equal(auth.worker(`Bearer ${workerToken(KEY, "ns", "fn")}`, "ns", "other"), false);
    assert.equal(auth.worker(`Bearer ${workerToken("other-key-0123456789", "ns", "fn")}`, "ns", "fn"), false);
  });

  it("knows a worker's Function from its token alone, re-indexing at most once per interval", () => {
    const auth = new Authenticator({ workerSigningKey: KEY });
    const known = ["ns/a"];
    let listed = 0;
    const keys = (): string[] => {
      listed++;
      return known;
    };
    assert.equal(auth.workerFunction(`Bearer ${workerToken(KEY, "ns", "a")}`, keys, 0), "ns/a");
    assert.equal(auth.workerFunction(`Bearer ${workerToken(KEY, "ns", "a")}`, keys, 1), "ns/a");
    assert.equal(listed, 1);
    known.push("ns/b");
    // A new Function's token: unknown until the next re-index is allowed.
    assert.equal(auth.workerFunction(`Bearer ${workerToken(KEY, "ns", "b")}`, keys, 500), undefined);
    assert.equal(auth.workerFunction(`Bearer ${workerToken(KEY, "ns", "b")}`, keys, 1500), "ns/b");
    assert.equal(auth.workerFunction("Bearer garbage", keys, 1600), undefined);
    assert.equal(listed, 2);
    assert.equal(auth.workerFunction(undefined, keys, 5000), undefined);
  });

  it("parses token files with namespace bindings, and headers", () => {
    assert.deepEqual(parseTokenFile("# callers\nalpha\n\n  beta  team-a,team-b  # CI\ngamma *\n"), [
      { token: "alpha", namespaces: "*" },
      { token: "beta", namespaces: ["team-a", "team-b"] },
      { token: "gamma", namespaces: "*" },
    ]);
    assert.throws(() => parseTokenFile("ok\nbad Not_A_Namespace\n"), (e: unknown) => e instanceof TokenFileError && /line 2/.test(e.message));
    assert.throws(() => parseTokenFile("a b c\n"), TokenFileError);
    assert.deepEqual(parseTokenList("x, y=ns1;ns2 ,"), [
      { token: "x", namespaces: "*" },
      { token: "y", namespaces: ["ns1", "ns2"] },
    ]);
    assert.equal(firstToken("# c\n tok team-a\nother\n"), "tok");
    assert.equal(firstToken(""), undefined);
    assert.equal(bearer("Bearer  tok "), "tok");
    assert.equal(bearer("Bearer"), undefined);
  });

  it("names static tokens by a digest prefix and keeps their namespaces", () => {
    const auth = new Authenticator({ callerTokens: [{ token: "secret", namespaces: ["a"] }] });
    const id = auth.staticCaller("secret");
    assert.match(id?.user ?? "", /^static:[0-9a-f]{8}$/);
    assert.deepEqual(id?.namespaces, ["a"]);
    assert.equal(auth.staticCaller("other"), undefined);
  });
});
