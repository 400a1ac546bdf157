import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { every, FakeClock } from "../../src/kube/clock.ts";

describe("every", () => {
  it("runs on the clock's time, re-armed after each run (even a throwing one), until cancelled", async () => {
    const clock = new FakeClock();
    let runs = 0;
    const h = every(clock, 100, () => {
      runs++;
      if (runs === 2) throw new Error("boom");
    });
    await clock.advance(99);
    assert.equal(runs, 0);
    await clock.advance(1);
    assert.equal(runs, 1);
    try {
      await clock.advance(100);
    } catch {
      // the FakeClock may pass the run's error on; the timer is re-armed either way
    }
    assert.equal(runs, 2);
    await clock.advance(100);
    assert.equal(runs, 3, "re-armed after a run that threw");
    h.cancel();
    const before = runs;
    await clock.advance(1000);
    assert.equal(runs, before);
  });
});
