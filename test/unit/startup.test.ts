// The startup deadline's pure parts: the rendered startupProbe agrees with
// spec.startupTimeoutSeconds, the runtime's SetupWatch, and the gateway's SetupTracker.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { functionSpec } from "../../src/api/v1alpha1/function.ts";
import { FakeClock } from "../../src/kube/clock.ts";
import { SetupWatch } from "../../src/runtime/setup-watch.ts";
import { failureReason, parseSetupReport, SetupTracker } from "../../src/gateway/setup.ts";
import { workloadConfigSchema } from "../../src/workload/config.ts";
import { renderPodTemplate } from "../../src/workload/render.ts";
import { STARTUP_PATH, STARTUP_PROBE_GRACE_SECONDS, startupProbeTiming } from "../../src/workload/startup.ts";
import { aFunction } from "../support/function-builder.ts";

const config = workloadConfigSchema.parse({ gateway: { url: "http://gw.hearth-system:8080" } });

describe("spec.startupTimeoutSeconds", () => {
  it("defaults to 600 and is bounded 1..86400, apart from timeoutSeconds", () => {
    const base = { image: "img", handler: "app:Model" };
    const parsed = functionSpec.parse(base);
    assert.equal(parsed.startupTimeoutSeconds, 600);
    assert.equal(parsed.timeoutSeconds, 300);
    assert.equal(functionSpec.safeParse({ ...base, startupTimeoutSeconds: 0 }).success, false);
    assert.equal(functionSpec.safeParse({ ...base, startupTimeoutSeconds: 86_401 }).success, false);
    assert.equal(functionSpec.safeParse({ ...base, startupTimeoutSeconds: 86_400 }).success, true);
  });

  for (const seconds of [1, 5, 60, 61, 600, 3600, 86_400]) {
    it(`renders a startupProbe whose window covers the runtime's deadline (${seconds}s)`, () => {
      const r = renderPodTemplate(aFunction().with({ startupTimeoutSeconds: seconds }).build(), config, { mode: "warm", workerToken: true });
      assert.ok(r.ok);
      const worker = r.template.spec?.containers[0];
      assert.equal(worker?.env?.find((e) => e.name === "HEARTH_STARTUP_TIMEOUT_SECONDS")?.value, String(seconds));
      const probe = worker?.startupProbe;
      assert.equal(probe?.httpGet?.path, STARTUP_PATH);
      assert.equal(probe?.httpGet?.port, worker?.ports?.[0]?.name);
      const period = probe?.periodSeconds ?? 0;
      const window = period * (probe?.failureThreshold ?? 0);
      // The runtime reports SetupTimeout first; the kubelet only backs it up, one period at most later than needed.
      assert.ok(window >= seconds + STARTUP_PROBE_GRACE_SECONDS, `window ${window}s`);
      assert.ok(window < seconds + STARTUP_PROBE_GRACE_SECONDS + period, `window ${window}s`);
      assert.ok(period >= 1 && period <= 10);
      assert.equal(startupProbeTiming(seconds).windowSeconds, window);
    });
  }

  it("isolated Jobs get the deadline in their environment but no probes", () => {
    const r = renderPodTemplate(aFunction().with({ startupTimeoutSeconds: 42 }).build(), config, { mode: "oneshot" });
    assert.ok(r.ok);
    const worker = r.template.spec?.containers[0];
    assert.equal(worker?.env?.find((e) => e.name === "HEARTH_STARTUP_TIMEOUT_SECONDS")?.value, "42");
    assert.equal(worker?.startupProbe, undefined);
  });

  it("rejects HEARTH_STARTUP_TIMEOUT_SECONDS in spec.env", () => {
    const r = renderPodTemplate(aFunction().with({ env: [{ name: "HEARTH_STARTUP_TIMEOUT_SECONDS", value: "1" }] }).build(), config, { mode: "warm" });
    assert.ok(!r.ok);
    assert.match(r.message, /spec.startupTimeoutSeconds/);
  });
});

describe("SetupWatch", () => {
  it("expires without progress, with the last progress in the message", async () => {
    const clock = new FakeClock();
    const expired: string[] = [];
    const w = new SetupWatch(clock, 10, (m) => expired.push(m));
    w.begin();
    await clock.advance(4000);
    w.progress(0.4, "weights");
    await clock.advance(9999);
    assert.deepEqual(expired, []);
    await clock.advance(1);
    assert.equal(expired.length, 1);
    assert.match(expired[0] ?? "", /startupTimeoutSeconds=10 \(last progress: 40% weights\)/);
  });

  it("progress keeps it alive indefinitely; finished() disarms it and measures the duration", async () => {
    const clock = new FakeClock();
    const expired: string[] = [];
    const w = new SetupWatch(clock, 10, (m) => expired.push(m));
    w.begin();
    for (let i = 0; i < 10; i++) {
      await clock.advance(8000);
      w.progress(i / 10, undefined);
    }
    assert.equal(w.report()?.progress?.value, 0.9);
    assert.equal(w.progressed, true);
    assert.equal(w.finished(), 80);
    await clock.advance(60_000);
    assert.deepEqual(expired, []);
    assert.equal(w.report()?.durationSeconds, 80);
    assert.equal(w.report()?.progress, undefined);
  });
});

describe("SetupTracker", () => {
  it("summarises progress, the last duration and the last failure per Function", async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const t = new SetupTracker(clock, registry, 10_000);
    const startedAt = clock.now();
    t.report("ml", "llm", "w1", { state: "setup", setup: { startedAt, progress: { value: 0.2, message: "a" } } });
    t.report("ml", "llm", "w2", { state: "setup", setup: { startedAt, progress: { value: 0.4, message: "weights" } } });
    await clock.advance(3000);
    let s = t.summaries()[0];
    assert.equal(s?.starting, 2);
    assert.deepEqual(s?.progress, { value: 0.4, message: "weights", worker: "w2", elapsedSeconds: 3 });
    t.report("ml", "llm", "w1", { state: "failed", error: { type: "Timeout", reason: "SetupTimeout", message: "setup() did not finish" } });
    t.report("ml", "llm", "w1", { state: "failed", error: { type: "Timeout", reason: "SetupTimeout", message: "setup() did not finish" } });
    s = t.summaries()[0];
    assert.equal(s?.lastFailure?.reason, "SetupTimeout");
    assert.equal(s?.starting, 1);
    await clock.advance(1000);
    t.report("ml", "llm", "w2", { state: "ready", setup: { startedAt, durationSeconds: 4.25 } });
    t.report("ml", "llm", "w2", { state: "ready", setup: { startedAt, durationSeconds: 4.25 } });
    s = t.summaries()[0];
    assert.equal(s?.lastDurationSeconds, 4.25);
    assert.equal(s?.lastFailure, undefined, "a worker became ready after the failure");
    const metrics = await registry.metrics();
    assert.match(metrics, /hearth_gateway_worker_setup_seconds_count\{namespace="ml",function="llm"\} 1/);
    assert.match(metrics, /hearth_gateway_worker_setup_failures_total\{namespace="ml",function="llm",reason="SetupTimeout"\} 1/);
    await clock.advance(20_000);
    assert.equal(t.summaries()[0]?.starting, 0, "silent workers are forgotten");
  });

  it("parses heartbeats leniently and classifies failures", () => {
    assert.equal(parseSetupReport(undefined), undefined);
    assert.equal(parseSetupReport({ progress: { value: 0.5 } }), undefined);
    assert.deepEqual(parseSetupReport({ startedAt: 5, progress: { value: 2 } }), { startedAt: 5 });
    assert.deepEqual(parseSetupReport({ startedAt: 5, durationSeconds: 1.5, progress: { value: 0.5, message: "m" } }), { startedAt: 5, durationSeconds: 1.5, progress: { value: 0.5, message: "m" } });
    assert.equal(failureReason({ type: "Timeout" }), "SetupTimeout");
    assert.equal(failureReason({ type: "UserError" }), "SetupFailing");
    assert.equal(failureReason({ type: "BadConfiguration" }), "BadConfiguration");
  });
});
