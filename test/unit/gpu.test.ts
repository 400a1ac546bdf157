import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GpuSpec } from "../../src/api/v1alpha1/function.ts";
import { DEFAULT_GPU_TYPES } from "../../src/gpu/catalog.ts";
import { gpuConfigSchema, gpuTypesSchema, type GpuConfigInput } from "../../src/gpu/config.ts";
import { formatFraction, pickMigProfile, planGpu, type GpuDecision, type GpuPlan } from "../../src/gpu/plan.ts";

const types = gpuTypesSchema.parse(undefined);
const config = (c: GpuConfigInput) => gpuConfigSchema.parse(c);
const ts = config({ strategy: "timeSlicing", timeSlicing: { replicas: 4, resourceName: "nvidia.com/gpu.shared" } });

function ok(d: GpuDecision): GpuPlan {
  assert.ok(d.ok, `expected a plan, got: ${d.ok ? "" : d.message}`);
  assert.ok(d.plan !== undefined, "expected a GPU plan");
  return d.plan;
}

function rejected(d: GpuDecision): string {
  assert.ok(!d.ok, `expected InvalidGPU, got ${JSON.stringify(d)}`);
  assert.equal(d.reason, "InvalidGPU");
  return d.message;
}

const plan = (gpu: GpuSpec, c = ts) => planGpu(gpu, c, types);

describe("planGpu: no GPU", () => {
  it("renders nothing without a gpu field", () => {
    assert.deepEqual(planGpu(undefined, ts, types), { ok: true, plan: undefined });
  });
});

describe("planGpu: whole GPUs", () => {
  it("count N asks for N of the whole-GPU resource, under every strategy", () => {
    for (const strategy of ["none", "timeSlicing", "mps", "mig", "hami"] as const) {
      const p = ok(plan({ count: 2 }, config({ strategy })));
      assert.deepEqual(p.resources, { "nvidia.com/gpu": "2" }, strategy);
      assert.deepEqual(p.env, {}, strategy);
      assert.deepEqual(p.status, { resource: "nvidia.com/gpu", units: 2, fraction: "2", strategy });
    }
  });

  it("an empty gpu field and split: 1 both mean one whole GPU", () => {
    assert.deepEqual(ok(plan({})).resources, { "nvidia.com/gpu": "1" });
    assert.deepEqual(ok(plan({ split: 1 })).resources, { "nvidia.com/gpu": "1" });
  });

  it("honours a renamed whole-GPU resource", () => {
    const p = ok(plan({ count: 1 }, config({ strategy: "none", wholeGpuResource: "example.com/gpu" })));
    assert.deepEqual(p.resources, { "example.com/gpu": "1" });
  });

  it("rejects count > 1 combined with split > 1", () => {
    assert.match(rejected(plan({ count: 2, split: 4 })), /cannot be combined/);
  });
});

describe("planGpu: gpu.type", () => {
  it("maps the type to a required node affinity on the GFD product label", () => {
    const p = ok(plan({ type: "a100-80gb", count: 1 }));
    assert.deepEqual(p.nodeSelector, [{ key: "nvidia.com/gpu.product", values: ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"] }]);
  });

  it("uses the configured product label and types", () => {
    const custom = gpuTypesSchema.parse({ "my-gpu": { products: ["ACME-1"] } });
    const p = ok(planGpu({ type: "my-gpu" }, config({ strategy: "none", productLabel: "example.com/product" }), custom));
    assert.deepEqual(p.nodeSelector, [{ key: "example.com/product", values: ["ACME-1"] }]);
  });

  it("rejects an unknown type and lists the known ones", () => {
    const msg = rejected(plan({ type: "v100", count: 1 }));
    assert.match(msg, /"v100" is not known/);
    assert.match(msg, /a100-80gb/);
    assert.match(msg, /t4/);
  });

  it("rejects gpu.memory larger than the type has", () => {
    assert.match(rejected(plan({ type: "t4", memory: "40Gi" })), /more than a whole t4/);
  });

  it("adds the configured GPU tolerations and runtime class", () => {
    const p = ok(plan({ count: 1 }, config({ strategy: "none", runtimeClassName: "nvidia" })));
    assert.deepEqual(p.tolerations, [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    assert.equal(p.runtimeClassName, "nvidia");
  });
});

describe("planGpu: strategy none", () => {
  it("rejects a split with a message that says what to do", () => {
    const msg = rejected(plan({ split: 4 }, config({ strategy: "none" })));
    assert.match(msg, /does not share GPUs/);
    assert.match(msg, /gpu\.count/);
  });

  it("treats memory-only as one whole GPU", () => {
    assert.deepEqual(ok(plan({ type: "t4", memory: "8Gi" }, config({ strategy: "none" }))).resources, { "nvidia.com/gpu": "1" });
  });
});

describe("planGpu: timeSlicing", () => {
  it("split 4 with 4 replicas is one unit of the shared resource and fraction 0.25", () => {
    const p = ok(plan({ type: "t4", split: 4 }));
    assert.deepEqual(p.resources, { "nvidia.com/gpu.shared": "1" });
    assert.deepEqual(p.env, { HEARTH_GPU_FRACTION: "0.25" });
    assert.deepEqual(p.status, { resource: "nvidia.com/gpu.shared", units: 1, fraction: "0.25", strategy: "timeSlicing" });
  });

  it("split N takes ceil(R/N) units", () => {
    assert.equal(ok(plan({ split: 2 })).resources["nvidia.com/gpu.shared"], "2");
    assert.equal(ok(plan({ split: 3 })).resources["nvidia.com/gpu.shared"], "2");
    const c8 = config({ strategy: "timeSlicing", timeSlicing: { replicas: 8 } });
    assert.equal(ok(plan({ split: 3 }, c8)).resources["nvidia.com/gpu"], "3");
  });

  it("a split finer than the cluster's granularity still takes one unit but caps itself at 1/N", () => {
    const p = ok(plan({ split: 8 }));
    assert.deepEqual(p.resources, { "nvidia.com/gpu.shared": "1" });
    assert.equal(p.env["HEARTH_GPU_FRACTION"], "0.125");
  });

  it("with failRequestsGreaterThanOne a split coarser than 1/R is rejected, naming the granularity", () => {
    const strict = config({ strategy: "timeSlicing", timeSlicing: { replicas: 4, failRequestsGreaterThanOne: true } });
    const msg = rejected(plan({ split: 2 }, strict));
    assert.match(msg, /1\/4/);
    assert.match(msg, /failRequestsGreaterThanOne/);
    assert.ok(ok(plan({ split: 4 }, strict)));
  });

  it("memory-only becomes the memory's share of the type, rounded up to whole units", () => {
    const p = ok(plan({ type: "t4", memory: "5Gi" }));
    assert.deepEqual(p.resources, { "nvidia.com/gpu.shared": "2" });
    assert.equal(p.env["HEARTH_GPU_FRACTION"], "0.3333");
  });

  it("memory-only without a type is rejected (the share cannot be computed)", () => {
    assert.match(rejected(plan({ memory: "5Gi" })), /needs gpu\.type/);
  });

  it("rejects memory that does not fit in the fraction", () => {
    assert.match(rejected(plan({ type: "t4", split: 4, memory: "8Gi" })), /does not fit in 1\/4 of a t4/);
  });
});

describe("planGpu: mps", () => {
  const mps = config({ strategy: "mps", mps: { replicas: 4, resourceName: "nvidia.com/gpu.shared" } });
  it("renders like time-slicing", () => {
    const p = ok(plan({ split: 4 }, mps));
    assert.deepEqual(p.resources, { "nvidia.com/gpu.shared": "1" });
    assert.deepEqual(p.status, { resource: "nvidia.com/gpu.shared", units: 1, fraction: "0.25", strategy: "mps" });
  });
  it("always allows one share per pod (MPS rejects more)", () => {
    assert.match(rejected(plan({ split: 2 }, mps)), /MPS/);
  });
});

describe("planGpu: mig", () => {
  const mig = config({ strategy: "mig" });
  it("split 4 on A100-80GB is the 2g.20gb profile (smallest with >= 7/4 slices)", () => {
    const p = ok(plan({ type: "a100-80gb", split: 4 }, mig));
    assert.deepEqual(p.resources, { "nvidia.com/mig-2g.20gb": "1" });
    assert.deepEqual(p.status, { resource: "nvidia.com/mig-2g.20gb", units: 1, fraction: "0.2857", strategy: "mig", profile: "2g.20gb" });
    assert.deepEqual(p.env, {}, "the MIG device is isolated: the runtime must not cap itself again");
  });

  it("picks by slices and by memory", () => {
    assert.equal(ok(plan({ type: "a100-80gb", split: 7 }, mig)).status.profile, "1g.10gb");
    assert.equal(ok(plan({ type: "a100-80gb", split: 7, memory: "15Gi" }, mig)).status.profile, "1g.20gb");
    assert.equal(ok(plan({ type: "a100-80gb", split: 2 }, mig)).status.profile, "4g.40gb");
    assert.equal(ok(plan({ type: "a100-80gb", memory: "30Gi" }, mig)).status.profile, "3g.40gb");
    assert.equal(ok(plan({ type: "a100-40gb", split: 3 }, mig)).status.profile, "3g.20gb");
    assert.equal(ok(plan({ type: "a30", split: 2 }, mig)).status.profile, "2g.12gb");
  });

  it("needs a type when the table has several MIG types", () => {
    assert.match(rejected(plan({ split: 4 }, mig)), /set gpu\.type/);
  });

  it("uses the only MIG type when there is one, with its node affinity", () => {
    const only = gpuTypesSchema.parse({ "a100-80gb": DEFAULT_GPU_TYPES["a100-80gb"], t4: DEFAULT_GPU_TYPES["t4"] });
    const p = ok(planGpu({ split: 4 }, mig, only));
    assert.equal(p.status.profile, "2g.20gb");
    assert.deepEqual(p.nodeSelector[0]?.values, ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"]);
  });

  it("rejects a type without MIG profiles", () => {
    assert.match(rejected(plan({ type: "t4", split: 2 }, mig)), /no MIG profiles/);
  });

  it("rejects when no profile is large enough", () => {
    const small = gpuTypesSchema.parse({ x: { products: ["X"], memory: "80Gi", migSlices: 7, migProfiles: [{ name: "1g.10gb", slices: 1, memory: "10Gi" }] } });
    assert.match(rejected(planGpu({ type: "x", split: 2 }, mig, small)), /no MIG profile of x holds/);
  });

  it("pickMigProfile prefers fewer slices, then less memory", () => {
    const profiles = [
      { name: "2g.20gb", slices: 2, memory: "20Gi" },
      { name: "1g.20gb", slices: 1, memory: "20Gi" },
      { name: "1g.10gb", slices: 1, memory: "10Gi" },
    ];
    assert.equal(pickMigProfile(profiles, 7, { split: 7 })?.name, "1g.10gb");
    assert.equal(pickMigProfile(profiles, 7, { memory: 12 * 2 ** 30 })?.name, "1g.20gb");
    assert.equal(pickMigProfile(profiles, 7, { split: 4 })?.name, "2g.20gb");
    assert.equal(pickMigProfile(profiles, 7, { split: 2 }), undefined);
  });
});

describe("planGpu: hami", () => {
  const hami = config({ strategy: "hami" });
  it("split 4 is one vGPU with 25% of cores and memory", () => {
    const p = ok(plan({ split: 4 }, hami));
    assert.deepEqual(p.resources, { "nvidia.com/gpu": "1", "nvidia.com/gpucores": "25", "nvidia.com/gpumem-percentage": "25" });
    assert.deepEqual(p.status, { resource: "nvidia.com/gpu", units: 1, fraction: "0.25", strategy: "hami" });
  });

  it("gpu.memory becomes gpumem in MiB instead of a percentage", () => {
    const p = ok(plan({ split: 4, memory: "3Gi" }, hami));
    assert.deepEqual(p.resources, { "nvidia.com/gpu": "1", "nvidia.com/gpucores": "25", "nvidia.com/gpumem": "3072" });
  });

  it("memory only has no core limit", () => {
    assert.deepEqual(ok(plan({ memory: "6Gi" }, hami)).resources, { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "6144" });
  });

  it("split 3 rounds the percentages down", () => {
    assert.equal(ok(plan({ split: 3 }, hami)).resources["nvidia.com/gpucores"], "33");
  });
});

describe("formatFraction", () => {
  it("prints short decimals", () => {
    assert.equal(formatFraction(0.25), "0.25");
    assert.equal(formatFraction(1 / 3), "0.3333");
    assert.equal(formatFraction(2), "2");
  });
});

describe("gpu config schema", () => {
  it("applies defaults for every strategy's parameters", () => {
    const c = config({ strategy: "timeSlicing" });
    assert.equal(c.timeSlicing.replicas, 4);
    assert.equal(c.timeSlicing.resourceName, "nvidia.com/gpu");
    assert.equal(c.timeSlicing.failRequestsGreaterThanOne, false);
    assert.equal(c.hami.coresResource, "nvidia.com/gpucores");
  });

  it("rejects an unknown strategy and a bad resource name", () => {
    assert.equal(gpuConfigSchema.safeParse({ strategy: "magic" }).success, false);
    assert.equal(gpuConfigSchema.safeParse({ timeSlicing: { resourceName: "not a name" } }).success, false);
  });

  it("rejects MIG profiles without the slice count", () => {
    const r = gpuTypesSchema.safeParse({ x: { products: ["X"], migProfiles: [{ name: "1g.10gb", slices: 1, memory: "10Gi" }] } });
    assert.equal(r.success, false);
  });
});
