import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_NODES,
  fakeNode,
  GPU_LABELS,
  GPU_RESOURCES,
  GPU_TAINT,
  NODE_PRESETS,
  parseMigProfile,
  parseNodesFlag,
  type FakeNodeSpec,
} from "../../src/devcluster/index.ts";

const preset = (kind: string, name = `${kind}-0`): FakeNodeSpec => {
  const build = NODE_PRESETS[kind];
  assert.ok(build, `preset ${kind}`);
  return build(name);
};

describe("fakeNode", () => {
  it("builds a whole-GPU node with GFD labels, capacity = allocatable, and the GPU taint", () => {
    const node = fakeNode({
      name: "a100-0",
      cpu: "96",
      memory: "1Ti",
      gpuTaint: true,
      gpu: { product: "NVIDIA-A100-SXM4-80GB", count: 8, memoryMiB: 81920, family: "ampere", compute: [8, 0], migCapable: true },
    });
    assert.equal(node.metadata?.name, "a100-0");
    assert.deepEqual(node.spec?.taints, [GPU_TAINT]);
    const labels = node.metadata?.labels ?? {};
    assert.equal(labels[GPU_LABELS.product], "NVIDIA-A100-SXM4-80GB");
    assert.equal(labels[GPU_LABELS.count], "8");
    assert.equal(labels[GPU_LABELS.memory], "81920");
    assert.equal(labels[GPU_LABELS.family], "ampere");
    assert.equal(labels[GPU_LABELS.computeMajor], "8");
    assert.equal(labels[GPU_LABELS.migCapable], "true");
    assert.equal(labels[GPU_LABELS.sharingStrategy], "none");
    assert.equal(labels["kubernetes.io/hostname"], "a100-0");
    assert.equal(node.status?.capacity?.[GPU_RESOURCES.gpu], "8");
    assert.equal(node.status?.capacity?.["cpu"], "96");
    assert.deepEqual(node.status?.allocatable, node.status?.capacity);
    assert.equal(node.metadata?.annotations?.["kwok.x-k8s.io/node"], "fake");
  });

  it("advertises time-sliced replicas under the renamed resource, not nvidia.com/gpu", () => {
    const node = fakeNode(preset("t4-shared"));
    const cap = node.status?.capacity ?? {};
    assert.equal(cap[GPU_RESOURCES.shared], "4");
    assert.equal(cap[GPU_RESOURCES.gpu], undefined);
    assert.equal(node.metadata?.labels?.[GPU_LABELS.replicas], "4");
    assert.equal(node.metadata?.labels?.[GPU_LABELS.sharingStrategy], "time-slicing");
    assert.equal(node.metadata?.labels?.[GPU_LABELS.product], "Tesla-T4");
  });

  it("keeps nvidia.com/gpu when sharing is not renamed", () => {
    const node = fakeNode({
      name: "n",
      gpu: { product: "Tesla-T4", count: 2, memoryMiB: 15360, sharing: { strategy: "mps", replicas: 3, resourceName: GPU_RESOURCES.gpu } },
    });
    assert.equal(node.status?.capacity?.[GPU_RESOURCES.gpu], "6");
    assert.equal(node.metadata?.labels?.[GPU_LABELS.sharingStrategy], "mps");
  });

  it("advertises MIG devices per profile with GFD's per-profile labels", () => {
    const node = fakeNode(preset("a100-mig"));
    const cap = node.status?.capacity ?? {};
    assert.equal(cap["nvidia.com/mig-1g.10gb"], "7");
    assert.equal(cap["nvidia.com/mig-2g.20gb"], "3");
    assert.equal(cap["nvidia.com/mig-3g.40gb"], "2");
    assert.equal(cap["nvidia.com/mig-7g.80gb"], "1");
    assert.equal(cap[GPU_RESOURCES.gpu], undefined);
    const labels = node.metadata?.labels ?? {};
    assert.equal(labels[GPU_LABELS.migStrategy], "mixed");
    assert.equal(labels["nvidia.com/mig-2g.20gb.count"], "3");
    assert.equal(labels["nvidia.com/mig-2g.20gb.memory"], "20480");
    assert.equal(labels["nvidia.com/mig-2g.20gb.slices.gi"], "2");
  });

  it("advertises HAMi's virtual GPUs, cores and memory", () => {
    const cap = fakeNode(preset("hami")).status?.capacity ?? {};
    assert.equal(cap[GPU_RESOURCES.gpu], "20");
    assert.equal(cap[GPU_RESOURCES.hamiCores], "200");
    assert.equal(cap[GPU_RESOURCES.hamiMemory], String(2 * 23028));
    assert.equal(cap[GPU_RESOURCES.hamiMemoryPercentage], "200");
  });

  it("has no GPU labels, resources or taint on a CPU node", () => {
    const node = fakeNode(preset("cpu"));
    assert.equal(node.spec?.taints, undefined);
    assert.equal(Object.keys(node.metadata?.labels ?? {}).some((k) => k.startsWith("nvidia.com/")), false);
    assert.equal(Object.keys(node.status?.capacity ?? {}).some((k) => k.startsWith("nvidia.com/")), false);
  });

  it("lets extra labels, resources, taints and the address win", () => {
    const node = fakeNode({
      name: "x",
      gpu: { product: "P", count: 1, memoryMiB: 1 },
      labels: { [GPU_LABELS.product]: "OVERRIDE", team: "a" },
      resources: { [GPU_RESOURCES.gpu]: "3", "example.com/foo": "2" },
      taints: [{ key: "k", value: "v", effect: "NoExecute" }],
      internalIP: "127.9.0.1",
    });
    assert.equal(node.metadata?.labels?.[GPU_LABELS.product], "OVERRIDE");
    assert.equal(node.metadata?.labels?.["team"], "a");
    assert.equal(node.status?.capacity?.[GPU_RESOURCES.gpu], "3");
    assert.equal(node.status?.allocatable?.["example.com/foo"], "2");
    assert.deepEqual(node.spec?.taints, [{ key: "k", value: "v", effect: "NoExecute" }]);
    assert.deepEqual(node.status?.addresses, [{ type: "InternalIP", address: "127.9.0.1" }]);
  });
});

describe("parseMigProfile", () => {
  it("reads slices and memory", () => {
    assert.deepEqual(parseMigProfile("3g.40gb"), { slices: 3, memoryGiB: 40 });
    assert.throws(() => parseMigProfile("3g40gb"), /invalid MIG profile/);
  });
});

describe("parseNodesFlag", () => {
  it("expands kind[:count] into uniquely named specs", () => {
    const names = parseNodesFlag("t4-shared:2,cpu,t4-shared").map((s) => s.name);
    assert.deepEqual(names, ["t4-shared-0", "t4-shared-1", "cpu-0", "t4-shared-2"]);
  });
  it("accepts none and empty", () => {
    assert.deepEqual(parseNodesFlag("none"), []);
    assert.deepEqual(parseNodesFlag(""), []);
  });
  it("rejects unknown kinds and bad counts", () => {
    assert.throws(() => parseNodesFlag("v100:1"), /unknown node kind/);
    assert.throws(() => parseNodesFlag("cpu:-1"), /invalid node count/);
    assert.throws(() => parseNodesFlag("cpu:x"), /invalid node count/);
    assert.throws(() => parseNodesFlag("cpu:1:2"), /unknown node kind/);
  });
  it("has a default set with T4 time-slicing, MIG, HAMi and CPU nodes", () => {
    const nodes = parseNodesFlag(DEFAULT_NODES).map(fakeNode);
    const caps = nodes.map((n) => n.status?.capacity ?? {});
    assert.equal(caps.filter((c) => c[GPU_RESOURCES.shared] !== undefined).length, 3);
    assert.ok(caps.some((c) => c["nvidia.com/mig-1g.10gb"] !== undefined));
    assert.ok(caps.some((c) => c[GPU_RESOURCES.hamiCores] !== undefined));
    assert.ok(caps.some((c) => Object.keys(c).every((k) => !k.startsWith("nvidia.com/"))));
  });
});
