// The chart's Prometheus rules (recording rules and alerts) pass `promtool check rules` and their
// unit tests (`promtool test rules test/promtool/rules.test.yaml`), with promtool built from the
// Prometheus Go module by hack/build-tools.sh.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { chartToolPath } from "../support/chart-tools.ts";

describe("Prometheus rules", { timeout: 1_800_000 }, () => {
  it("pass promtool check rules", () => {
    const r = spawnSync(chartToolPath("promtool"), ["check", "rules", "charts/hearth/files/prometheus-rules.yaml"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 9 rules found/);
  });

  it("pass their promtool unit tests", () => {
    const r = spawnSync(chartToolPath("promtool"), ["test", "rules", "test/promtool/rules.test.yaml"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });
});
