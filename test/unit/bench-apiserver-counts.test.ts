// bench/support/apiserver-counts.ts: what the apiserver's own counters say a bench phase cost.
import assert from "node:assert/strict";
import { test } from "node:test";
import { countsOf, countsSince, countTotals, formatCounts } from "../../bench/support/apiserver-counts.ts";
import { parseMetrics } from "../support/operator.ts";

const text = (jobs: number, status: number, watchPods: number): string =>
  [
    "# HELP apiserver_request_total Counter of apiserver requests",
    `apiserver_request_total{code="201",component="apiserver",dry_run="",group="batch",resource="jobs",scope="namespace",subresource="",verb="POST",version="v1"} ${jobs}`,
    `apiserver_request_total{code="200",component="apiserver",dry_run="",group="batch",resource="jobs",scope="namespace",subresource="status",verb="PUT",version="v1"} ${status}`,
    `apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="namespace",subresource="",verb="PUT",version="v1"} ${jobs * 7}`,
    `apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/healthz",verb="GET",version=""} ${jobs}`,
    `apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 1`,
    `apiserver_watch_events_total{group="",resource="pods",version="v1"} ${watchPods}`,
    `apiserver_watch_events_total{group="coordination.k8s.io",resource="leases",version="v1"} ${jobs * 9}`,
  ].join("\n");

test("counts requests by verb and resource[/subresource], leaving out leases and non-resource paths", () => {
  const c = countsOf(parseMetrics(text(10, 30, 50)));
  assert.deepEqual([...c.requests].sort(), [["LIST pods", 1], ["POST jobs", 10], ["PUT jobs/status", 30]]);
  assert.deepEqual([...c.watchEvents], [["pods", 50]]);
});

test("a phase's counts are the difference, per object: writes, all requests, watch events", () => {
  const phase = countsSince(countsOf(parseMetrics(text(10, 30, 50))), countsOf(parseMetrics(text(110, 330, 2050))));
  assert.deepEqual([...phase.requests].sort(), [["POST jobs", 100], ["PUT jobs/status", 300]]);
  assert.deepEqual(countTotals(phase, 100), { writes: 4, requests: 4, watchEvents: 20 });
  assert.match(formatCounts(phase, 100, "Job"), /writes 4\.00 \(PUT jobs\/status 3\.00, POST jobs 1\.00\); reads 0\.00 \(\); watch events sent per Job: 20\.00 \(pods 20\.00\)/);
});
