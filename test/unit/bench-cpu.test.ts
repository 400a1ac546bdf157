// bench/support/cpu.ts: the CPU a bench side asked of the machine.
import assert from "node:assert/strict";
import { test } from "node:test";
import { clusterCpu, cpuSince } from "../../bench/support/cpu.ts";

test("cluster CPU is every process's but the bench's own, over the phase", () => {
  const before = new Map([["kube-apiserver", 10], ["etcd", 2], ["operator", 1], ["bench process", 5]]);
  const after = new Map([["kube-apiserver", 30], ["etcd", 5], ["operator", 4], ["bench process", 9], ["kwok", 1]]);
  assert.equal(clusterCpu(cpuSince(before, after)), 20 + 3 + 3 + 1);
});
