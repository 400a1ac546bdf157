import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { getHeapStatistics } from "node:v8";
import { pino } from "pino";
import { Registry } from "prom-client";
import { FakeClock } from "../../src/kube/clock.ts";
import { parseOperatorConfig } from "../../src/operator/config.ts";
import { buildNative } from "../../hack/build-native.ts";
import { loadMallocTrim } from "../../src/operator/malloc-trim.ts";
import { planReclaim, startMemoryReclaimer, trimDue, v8ReclaimGc, type ReclaimSettings } from "../../src/operator/memory.ts";

const MiB = 1048576;
const settings: ReclaimSettings = { idleSeconds: 10, minGrowthBytes: 32 * MiB };

describe("planReclaim", () => {
  const start = { idleSince: undefined, baselineRss: 100 * MiB };

  it("reclaims once the operator has been idle long enough after growing", () => {
    let r = planReclaim(start, { now: 1000, idle: true, rss: 200 * MiB }, settings);
    assert.equal(r.reclaim, false);
    assert.equal(r.state.idleSince, 1000);
    r = planReclaim(r.state, { now: 10_999, idle: true, rss: 200 * MiB }, settings);
    assert.equal(r.reclaim, false, "idle for 9.999 s only");
    r = planReclaim(r.state, { now: 11_000, idle: true, rss: 200 * MiB }, settings);
    assert.equal(r.reclaim, true);
  });

  it("restarts the idle stretch whenever a reconcile is queued or running", () => {
    let r = planReclaim(start, { now: 0, idle: true, rss: 200 * MiB }, settings);
    r = planReclaim(r.state, { now: 9000, idle: false, rss: 200 * MiB }, settings);
    assert.equal(r.state.idleSince, undefined);
    r = planReclaim(r.state, { now: 11_000, idle: true, rss: 200 * MiB }, settings);
    assert.equal(r.reclaim, false);
    r = planReclaim(r.state, { now: 21_000, idle: true, rss: 200 * MiB }, settings);
    assert.equal(r.reclaim, true);
  });

  it("does nothing when the process did not grow enough, or when turned off", () => {
    let r = planReclaim(start, { now: 0, idle: true, rss: 131 * MiB }, settings);
    r = planReclaim(r.state, { now: 60_000, idle: true, rss: 131 * MiB }, settings);
    assert.equal(r.reclaim, false, "31 MiB of growth is under the 32 MiB threshold");
    const off = { ...settings, idleSeconds: 0 };
    r = planReclaim(start, { now: 0, idle: true, rss: 900 * MiB }, off);
    r = planReclaim(r.state, { now: 600_000, idle: true, rss: 900 * MiB }, off);
    assert.equal(r.reclaim, false);
  });
});

describe("startMemoryReclaimer", () => {
  it("runs one memory-reducing GC per burst, measured against the RSS after the last one", async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    let rss = 100 * MiB;
    let idle = false;
    let gcs = 0;
    const timer = startMemoryReclaimer({
      clock,
      logger: pino({ level: "silent" }),
      registry,
      settings,
      idle: () => idle,
      rss: () => rss,
      gc: () => {
        gcs++;
        rss -= 60 * MiB;
      },
    });
    rss = 220 * MiB; // a burst
    await clock.advance(30_000);
    assert.equal(gcs, 0, "busy: no reclaim");
    idle = true;
    await clock.advance(9_000);
    assert.equal(gcs, 0, "not idle long enough yet");
    await clock.advance(4_000);
    assert.equal(gcs, 1);
    await clock.advance(120_000);
    assert.equal(gcs, 1, "no growth since: no second reclaim");
    rss += 40 * MiB; // the next burst
    idle = false;
    await clock.advance(4_000);
    idle = true;
    await clock.advance(14_000);
    assert.equal(gcs, 2);
    const text = await registry.metrics();
    assert.match(text, /hearth_operator_memory_reclaims_total 2/);
    assert.match(text, /hearth_operator_memory_reclaimed_bytes_total 125829120/);
    timer.cancel();
    assert.equal(clock.pending(), 0);
  });

  it("is on by default, after 10 idle seconds and 32 MiB of growth", () => {
    const c = parseOperatorConfig({ workerTokens: { signingKey: "0123456789abcdef" } });
    assert.deepEqual(c.memory, { reclaimIdleSeconds: 10, reclaimMinGrowthMiB: 32, trimSeconds: 10 });
  });

  it("trims malloc's heap every trimSeconds while busy, and right after each reclaim", async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    let rss = 100 * MiB;
    let idle = false;
    const calls: string[] = [];
    const timer = startMemoryReclaimer({
      clock,
      logger: pino({ level: "silent" }),
      registry,
      settings,
      idle: () => idle,
      rss: () => rss,
      gc: () => {
        calls.push("gc");
        rss -= 60 * MiB;
      },
      trim: () => {
        calls.push("trim");
        rss -= 4 * MiB;
        return true;
      },
      trimSeconds: 10,
    });
    rss = 220 * MiB;
    await clock.advance(31_000);
    assert.deepEqual(calls, ["trim", "trim", "trim"], "busy for 31 s: one trim per 10 s, no GC");
    idle = true;
    await clock.advance(12_000);
    assert.deepEqual(calls.slice(3), ["trim", "gc", "trim"], "a trim when due, then the reclaim's GC and its trim");
    const text = await registry.metrics();
    assert.match(text, /hearth_operator_malloc_trims_total 5/);
    assert.match(text, /hearth_operator_malloc_trimmed_bytes_total 20971520/);
    timer.cancel();
  });
});

describe("trimDue", () => {
  it("is due once trimSeconds passed since the last trim; 0 = never on a timer", () => {
    assert.equal(trimDue(0, 9_999, 10), false);
    assert.equal(trimDue(0, 10_000, 10), true);
    assert.equal(trimDue(0, 1e9, 0), false);
  });
});

describe("malloc_trim addon (native/malloc-trim.c)", () => {
  it("is absent without failing: the operator runs without it", () => {
    const r = loadMallocTrim("/nonexistent/malloc-trim.node");
    assert.ok("why" in r && r.why.includes("no addon"), JSON.stringify(r));
  });

  it("builds with the system compiler and gives free heap pages back", () => {
    // As the console's browser test does for chromium: install the compiler when it is missing.
    execFileSync("bash", [fileURLToPath(new URL("../../hack/ensure-package.sh", import.meta.url)), "cc", "gcc", "the operator's malloc_trim addon"], { stdio: "inherit" });
    const built = buildNative();
    assert.ok("path" in built, `the addon did not build: ${"why" in built ? built.why : ""}`);
    const loaded = loadMallocTrim(built.path);
    assert.ok("trim" in loaded, JSON.stringify(loaded));
    // Fragment malloc's heap: many small native blocks, one in seven kept alive, the rest freed.
    let blocks: Buffer[] | undefined = [];
    const kept: Buffer[] = [];
    for (let i = 0; i < 150_000; i++) {
      const b = Buffer.allocUnsafeSlow(200 + (i % 50) * 40);
      blocks.push(b);
      if (i % 7 === 0) kept.push(b);
    }
    blocks = undefined;
    assert.equal(blocks, undefined);
    v8ReclaimGc()();
    const before = process.memoryUsage.rss();
    assert.equal(loaded.trim(), true, "malloc_trim released memory");
    const after = process.memoryUsage.rss();
    assert.ok(before - after > 8 * MiB, `RSS ${Math.round(before / MiB)} → ${Math.round(after / MiB)} MiB`);
    assert.ok(kept.length > 0);
  });
});

describe("v8ReclaimGc", () => {
  it("gives back the heap a burst left behind (without --expose-gc on the command line)", () => {
    let garbage: { name: string; items: number[] }[] | undefined = [];
    for (let i = 0; i < 600_000; i++) garbage.push({ name: `object-${i}`, items: [i, i + 1, i + 2] });
    const grown = getHeapStatistics().total_heap_size;
    garbage = undefined;
    assert.equal(garbage, undefined);
    v8ReclaimGc()();
    const after = getHeapStatistics().total_heap_size;
    assert.ok(grown - after > 32 * MiB, `heap total ${Math.round(grown / MiB)} → ${Math.round(after / MiB)} MiB`);
  });
});
