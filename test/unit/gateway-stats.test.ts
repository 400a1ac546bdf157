import { it } from "node:test";
import assert from "node:assert/strict";
import { planStatsPatches } from "../../src/controllers/gateway-stats/stats.ts";

const stats = {
  functions: [
    { namespace: "a", name: "echo", queueDepth: 3, warmWorkers: 2, busyWorkers: 1 },
    { namespace: "a", name: "gone", queueDepth: 0, warmWorkers: 0, busyWorkers: 0 },
  ],
};

it("patches only Functions whose numbers changed", () => {
  const patches = planStatsPatches(
    [
      { namespace: "a", name: "echo", current: { warmWorkers: 2, busyWorkers: 0, queueDepth: 3 } },
      { namespace: "a", name: "same", current: { warmWorkers: 0, busyWorkers: 0, queueDepth: 0 } },
    ],
    stats,
  );
  assert.deepEqual(patches, [{ namespace: "a", name: "echo", status: { warmWorkers: 2, busyWorkers: 1, queueDepth: 3 } }]);
});

it("reports zeros for a Function the gateway has no queue for, once", () => {
  assert.deepEqual(planStatsPatches([{ namespace: "b", name: "new", current: {} }], stats), [
    { namespace: "b", name: "new", status: { warmWorkers: 0, busyWorkers: 0, queueDepth: 0 } },
  ]);
  assert.deepEqual(planStatsPatches([{ namespace: "b", name: "new", current: { warmWorkers: 0, busyWorkers: 0, queueDepth: 0 } }], stats), []);
});

it("keeps namespaces apart", () => {
  const patches = planStatsPatches([{ namespace: "other", name: "echo", current: { warmWorkers: 2, busyWorkers: 1, queueDepth: 3 } }], stats);
  assert.deepEqual(patches, [{ namespace: "other", name: "echo", status: { warmWorkers: 0, busyWorkers: 0, queueDepth: 0 } }]);
});
