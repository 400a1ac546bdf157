// What identifies a cacheable Function's behaviour (src/gateway/registry.ts) and the cache key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hearthFunction } from "../../src/api/v1alpha1/index.ts";
import { cacheKey } from "../../src/gateway/cache.ts";
import { behaviourIdentity, settingsOf } from "../../src/gateway/registry.ts";

function fn(spec: object) {
  return hearthFunction.parse({ apiVersion: "hearth.dev/v1alpha1", kind: "Function", metadata: { name: "f", namespace: "ns" }, spec: { image: "img:1", handler: "m:f", cacheable: true, ...spec } });
}

describe("result cache identity", () => {
  it("changes with the code and its environment, not with scaling or retries", () => {
    const base = behaviourIdentity(fn({}));
    assert.notEqual(behaviourIdentity(fn({ image: "img:2" })), base);
    assert.notEqual(behaviourIdentity(fn({ env: [{ name: "A", value: "1" }] })), base);
    assert.notEqual(behaviourIdentity(fn({ encoding: "pickle" })), base);
    assert.equal(behaviourIdentity(fn({ warmPool: { minReplicas: 3, maxReplicas: 9 } })), base);
    assert.equal(behaviourIdentity(fn({ retries: { maxRetries: 3 }, timeoutSeconds: 9 })), base);
  });

  it("only cacheable Functions carry an identity", () => {
    assert.ok(settingsOf(fn({})).cache !== undefined);
    assert.equal(settingsOf(fn({ cacheable: false })).cache, undefined);
  });

  it("keys on identity, encoding and the exact input bytes", () => {
    assert.equal(cacheKey("a", "json", "1"), cacheKey("a", "json", "1"));
    assert.notEqual(cacheKey("a", "json", "1"), cacheKey("b", "json", "1"));
    assert.notEqual(cacheKey("a", "json", "[1]"), cacheKey("a", "json", "[ 1]"));
  });
});
