import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../src/kube/clock.ts";
import { WriteExpectations } from "../../src/kube/expectations.ts";

describe("WriteExpectations", () => {
  it("skips a repeat of the same write while the cache may lag, and only that write", async () => {
    const clock = new FakeClock();
    const e = new WriteExpectations(clock, 30_000);
    assert.equal(e.satisfied("ns/a", "h1"), false, "nothing written yet");
    e.wrote("ns/a", "h1");
    assert.equal(e.satisfied("ns/a", "h1"), true);
    assert.equal(e.satisfied("ns/a", "h2"), false, "another content is written");
    assert.equal(e.satisfied("ns/b", "h1"), false, "per key");
    await clock.advance(29_999);
    assert.equal(e.satisfied("ns/a", "h1"), true);
  });

  it("trusts the cache again after the TTL (a lost write is repeated) and forgets deleted keys", async () => {
    const clock = new FakeClock();
    const e = new WriteExpectations(clock, 1000);
    e.wrote("ns/a", "h1");
    await clock.advance(1000);
    assert.equal(e.satisfied("ns/a", "h1"), false);
    assert.equal(e.size, 0, "expired entries are dropped");
    e.wrote("ns/b", "h1");
    e.forget("ns/b");
    assert.equal(e.satisfied("ns/b", "h1"), false);
  });
});
