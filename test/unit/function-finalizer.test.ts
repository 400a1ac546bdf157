import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FINALIZER_GIVE_UP_MS, FUNCTION_FINALIZER, planFinalizer } from "../../src/controllers/function/finalizer.ts";

describe("Function finalizer plan", () => {
  const deleted = "2026-01-01T00:00:00Z";
  const at = Date.parse(deleted);
  it("adds the finalizer to a live Function only when a gateway is configured", () => {
    assert.deepEqual(planFinalizer({ enabled: true, finalizers: undefined, deletionTimestamp: undefined, now: 0 }), { action: "add" });
    assert.deepEqual(planFinalizer({ enabled: true, finalizers: ["other", FUNCTION_FINALIZER], deletionTimestamp: undefined, now: 0 }), { action: "none" });
    assert.deepEqual(planFinalizer({ enabled: false, finalizers: undefined, deletionTimestamp: undefined, now: 0 }), { action: "none" });
  });
  it("on deletion asks the gateway, and gives up after a minute of failures", () => {
    assert.deepEqual(planFinalizer({ enabled: true, finalizers: [FUNCTION_FINALIZER], deletionTimestamp: deleted, now: at + 1000 }), { action: "drop" });
    assert.deepEqual(planFinalizer({ enabled: false, finalizers: [FUNCTION_FINALIZER], deletionTimestamp: deleted, now: at + 1000 }), { action: "drop" });
    assert.deepEqual(planFinalizer({ enabled: true, finalizers: [FUNCTION_FINALIZER], deletionTimestamp: deleted, now: at + FINALIZER_GIVE_UP_MS + 1 }), { action: "giveUp" });
    assert.deepEqual(planFinalizer({ enabled: true, finalizers: ["other"], deletionTimestamp: deleted, now: at }), { action: "none" }, "not ours: nothing to do");
  });
});
