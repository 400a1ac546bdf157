import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../src/kube/clock.ts";
import { Tombstones, WriteExpectations, WrittenState } from "../../src/kube/expectations.ts";

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

describe("WrittenState", () => {
  const eq = (a: { n: number } | undefined, b: { n: number } | undefined): boolean => a?.n === b?.n;

  it("plans from the written value until the cache shows it, then from the cache", async () => {
    const clock = new FakeClock();
    const s = new WrittenState<{ n: number } | undefined>(clock, eq, 30_000);
    assert.deepEqual(s.current("ns/a", { n: 1 }), { n: 1 }, "nothing written: the cache");
    s.wrote("ns/a", { n: 2 });
    assert.deepEqual(s.current("ns/a", { n: 1 }), { n: 2 }, "the cache lags: what was written");
    assert.deepEqual(s.current("ns/b", { n: 1 }), { n: 1 }, "per key");
    assert.equal(s.isEcho("ns/a", { n: 2 }), true, "an event carrying it is the echo of the write");
    assert.equal(s.isEcho("ns/a", { n: 3 }), false);
    assert.equal(s.isEcho("ns/b", { n: 2 }), false);
    assert.deepEqual(s.current("ns/a", { n: 2 }), { n: 2 }, "the cache caught up");
    assert.equal(s.isEcho("ns/a", { n: 2 }), false, "seen: no longer an echo");
    // Once seen, a later different cache value (someone else's write) is what counts.
    assert.deepEqual(s.current("ns/a", { n: 7 }), { n: 7 });
  });

  it("recognises the echo of a write still in flight, and undoes a write that failed", async () => {
    const clock = new FakeClock();
    const s = new WrittenState<{ n: number } | undefined>(clock, eq, 30_000);
    s.wrote("ns/a", { n: 1 });
    const w = s.writing("ns/a", { n: 2 });
    assert.equal(s.isEcho("ns/a", { n: 2 }), true, "the watch event can arrive before the response");
    assert.deepEqual(s.current("ns/a", { n: 1 }), { n: 2 });
    w.done({ n: 3 });
    assert.equal(s.isEcho("ns/a", { n: 3 }), true, "then it is the value as the server stored it");

    const failed = s.writing("ns/a", { n: 4 });
    await clock.advance(10);
    failed.failed();
    assert.equal(s.isEcho("ns/a", { n: 4 }), false);
    assert.equal(s.isEcho("ns/a", { n: 3 }), true, "what was recorded before comes back");

    const fresh = s.writing("ns/b", { n: 1 });
    fresh.failed();
    assert.equal(s.lastWriteAt("ns/b"), undefined, "nothing recorded before: nothing now");

    // Forgotten meanwhile (its echo showed the end): the late response records nothing.
    const late = s.writing("ns/c", { n: 1 });
    s.forget("ns/c");
    late.done({ n: 1 });
    late.failed();
    assert.equal(s.lastWriteAt("ns/c"), undefined);
    assert.equal(s.size, 1);
  });

  it("trusts the cache again after the TTL", async () => {
    const clock = new FakeClock();
    const s = new WrittenState<{ n: number } | undefined>(clock, eq, 1000);
    s.wrote("ns/a", { n: 2 });
    await clock.advance(999);
    assert.deepEqual(s.current("ns/a", undefined), { n: 2 });
    await clock.advance(1);
    assert.equal(s.current("ns/a", undefined), undefined);
  });

  it("remembers when a key was last written (or touched) until forgotten", async () => {
    const clock = new FakeClock();
    const s = new WrittenState<{ n: number } | undefined>(clock, eq);
    const t0 = clock.now();
    assert.equal(s.lastWriteAt("ns/a"), undefined);
    s.touch("ns/a");
    assert.equal(s.lastWriteAt("ns/a"), t0);
    await clock.advance(500);
    s.touch("ns/a");
    assert.equal(s.lastWriteAt("ns/a"), t0, "touch does not move an earlier write");
    s.wrote("ns/a", { n: 1 });
    assert.equal(s.lastWriteAt("ns/a"), t0 + 500);
    s.current("ns/a", { n: 1 });
    assert.equal(s.lastWriteAt("ns/a"), t0 + 500, "kept after the cache caught up");
    s.forget("ns/a");
    assert.equal(s.lastWriteAt("ns/a"), undefined);
    assert.equal(s.size, 0);
  });
});

describe("Tombstones", () => {
  it("keeps deleted objects per key until dropped, hiding the ones still live", () => {
    const t = new Tombstones<{ name: string; phase: string }>();
    t.record("ns/j", "p1", { name: "p1", phase: "Failed" });
    t.record("ns/j", "p2", { name: "p2", phase: "Succeeded" });
    t.record("ns/k", "q1", { name: "q1", phase: "Failed" });
    assert.deepEqual(t.of("ns/j").map((p) => p.name), ["p1", "p2"]);
    assert.deepEqual(t.of("ns/j", new Set(["p2"])).map((p) => p.name), ["p1"], "the live copy wins");
    t.drop("ns/j", ["p1"]);
    assert.deepEqual(t.of("ns/j").map((p) => p.name), ["p2"]);
    t.drop("ns/j", ["p2"]);
    assert.equal(t.size, 1, "an emptied key is gone");
    t.forget("ns/k");
    assert.deepEqual(t.of("ns/k"), []);
    assert.equal(t.size, 0);
  });
});
