// The gateway's in-memory cache of finished tasks (src/gateway/recent-results.ts): oldest out
// first within a count and a byte budget, expiry in any order, and no reference kept to a task
// it no longer holds.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OldestKey } from "../../src/gateway/oldest-key.ts";
import { RecentResults } from "../../src/gateway/recent-results.ts";
import type { Task } from "../../src/gateway/task-model.ts";

function task(id: string, output = "1"): Task {
  return { id, output } as unknown as Task;
}

const ids = (r: RecentResults): string[] => [...r.values()].map((t) => t.id);

describe("RecentResults", () => {
  it("keeps the newest `limit` tasks, dropping the oldest first", () => {
    const r = new RecentResults(3);
    for (const id of ["a", "b", "c", "d", "e"]) r.remember(task(id));
    assert.deepEqual(ids(r), ["c", "d", "e"]);
    assert.equal(r.get("a"), undefined);
    assert.equal(r.get("e")?.id, "e");
    assert.equal(r.outputBytes, 3);
  });

  it("forgets in any order (expiry), and eviction then goes on with the oldest still kept", () => {
    const r = new RecentResults(3);
    for (const id of ["a", "b", "c"]) r.remember(task(id));
    r.forget("b");
    r.forget("zzz");
    r.remember(task("d"));
    assert.deepEqual(ids(r), ["a", "c", "d"]);
    r.remember(task("e"));
    assert.deepEqual(ids(r), ["c", "d", "e"], "a went; b was already gone and is passed over");
    r.forget("c");
    r.forget("d");
    r.forget("e");
    assert.equal(r.size, 0);
    assert.equal(r.outputBytes, 0);
    r.remember(task("f"));
    assert.deepEqual(ids(r), ["f"]);
  });

  it("a task remembered again keeps its place and is counted once", () => {
    const r = new RecentResults(2);
    const a = task("a", "xx");
    r.remember(a);
    r.remember(task("b"));
    r.remember(a);
    assert.equal(r.outputBytes, 3);
    r.remember(task("a", "yyyy"));
    assert.equal(r.outputBytes, 5, "the newer copy's output replaces the older's in the budget");
    r.remember(task("c"));
    assert.deepEqual(ids(r), ["b", "c"], "a was still the oldest");
  });

  it("stays within the byte budget, and keeps no over-large output", () => {
    const r = new RecentResults(1000);
    r.remember(task("big", "x".repeat(300 * 1024)));
    assert.equal(r.get("big"), undefined);
    const mb = "x".repeat(200 * 1024);
    for (let i = 0; i < 400; i++) r.remember(task(`t${i}`, mb));
    assert.ok(r.outputBytes <= 64 * 1024 * 1024, `${r.outputBytes} bytes kept`);
    assert.equal(r.get("t399")?.id, "t399");
    assert.equal(r.get("t0"), undefined);
  });

  it("a long run through a full cache keeps exactly the newest `limit`, in order", () => {
    const r = new RecentResults(100);
    for (let i = 0; i < 50_000; i++) {
      r.remember(task(`t${i}`));
      // Expiry now and then takes an older one out of order.
      if (i % 7 === 0 && i >= 50) r.forget(`t${i - 50}`);
    }
    const kept = ids(r);
    assert.equal(kept.length, 100);
    assert.equal(kept.at(-1), "t49999");
    const nums = kept.map((id) => Number(id.slice(1)));
    assert.deepEqual(nums, [...nums].sort((x, y) => x - y), "oldest first");
    assert.ok(nums[0] !== undefined && nums[0] >= 49_850, `the oldest kept is t${nums[0]}`);
  });
});

describe("OldestKey", () => {
  it("gives the oldest live key of a FIFO and of an LRU that re-inserts on a hit, as keys().next() would", () => {
    const m = new Map<string, number>();
    const oldest = new OldestKey(m);
    assert.equal(oldest.next(), undefined);
    for (let i = 0; i < 5; i++) m.set(`k${i}`, i);
    assert.equal(oldest.next(), "k0");
    m.delete("k0");
    // A hit re-inserts k1: k2 is now the least recently used.
    m.delete("k1");
    m.set("k1", 1);
    m.delete("k3");
    assert.equal(oldest.next(), "k2");
    m.delete("k2");
    assert.equal(oldest.next(), "k4");
    m.delete("k4");
    assert.equal(oldest.next(), "k1");
    m.delete("k1");
    assert.equal(oldest.next(), undefined);
    m.set("k9", 9);
    assert.equal(oldest.next(), "k9", "after running dry it starts over");
    m.clear();
    m.set("k10", 10);
    assert.equal(oldest.next(), "k10", "after clear()");
  });

  it("matches keys().next() over a long random run", () => {
    const m = new Map<number, number>();
    const oldest = new OldestKey(m);
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let i = 0; i < 20_000; i++) {
      m.set(i, i);
      const k = i - rand(200);
      if (m.has(k) && rand(3) === 0) {
        m.delete(k);
        if (rand(2) === 0) m.set(k, k);
      }
      while (m.size > 300) {
        const expected = m.keys().next().value;
        const got = oldest.next();
        assert.equal(got, expected);
        if (got === undefined) break;
        m.delete(got);
      }
    }
  });
});
