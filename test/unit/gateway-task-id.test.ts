import assert from "node:assert/strict";
import { test } from "node:test";
import { timeOrderedId } from "../../src/gateway/task-id.ts";

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("task ids are version-7 UUIDs whose first 48 bits are the creation time", () => {
  const now = Date.UTC(2026, 10, 30, 6, 0, 0, 123);
  const id = timeOrderedId(now);
  assert.match(id, UUID7);
  assert.equal(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16), now);
  // A fake clock's time 0 still gives a well-formed id.
  assert.match(timeOrderedId(0), UUID7);
});

test("ids created later sort after earlier ones; ids of one millisecond are distinct", () => {
  const t = 1_800_000_000_000;
  const ids = [timeOrderedId(t), timeOrderedId(t + 1), timeOrderedId(t + 1000), timeOrderedId(t + 3_600_000)];
  assert.deepEqual([...ids].sort(), ids);
  const same = new Set(Array.from({ length: 1000 }, () => timeOrderedId(t)));
  assert.equal(same.size, 1000);
});
