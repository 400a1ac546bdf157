// The built-in autoscaler's pure decision (fake time: `now` is an input), the SSE parser of the
// demand stream, and the gateway's demand stream end to end over HTTP with a real engine.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WarmPoolSpec } from "../../src/api/v1alpha1/index.ts";
import { decide, pruneHistory, workersFor, type DecideInput, type Sample } from "../../src/autoscaler/decide.ts";
import { DemandStream, SseParser, type StreamEvent } from "../../src/autoscaler/demand-stream.ts";
import { poolReplicas } from "../../src/controllers/function/desired.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { createServer } from "node:http";
import { FakeClock } from "../../src/kube/clock.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";

const S = 1000;

function pool(p: Partial<WarmPoolSpec> = {}): WarmPoolSpec {
  return { minReplicas: 0, maxReplicas: 10, scaleDownDelaySeconds: 60, autoscaler: "hearth", ...p };
}

/** Runs decisions over time like the controller does, carrying the history. */
class Sim {
  history: Sample[] = [];
  replicas: number | undefined;
  now = 0;
  readonly base: Omit<DecideInput, "demand" | "history" | "now" | "pool">;
  spec: WarmPoolSpec;

  constructor(spec: WarmPoolSpec, base: Partial<DecideInput> = {}) {
    this.spec = spec;
    this.replicas = spec.replicas;
    this.base = { concurrency: 1, defaultTargetUtilization: 1, observingSince: -1e12, ...base };
  }

  step(demand: { queued: number; inflight: number } | undefined, advanceMs = 0) {
    this.now += advanceMs;
    const input: DecideInput = { ...this.base, pool: { ...this.spec, ...(this.replicas !== undefined ? { replicas: this.replicas } : {}) }, demand, history: this.history, now: this.now };
    const d = decide(input);
    this.history = d.history;
    if (d.write) this.replicas = d.desired;
    return d;
  }
}

describe("autoscaler decision", () => {
  it("desired = ceil(demand / (concurrency × targetUtilization))", () => {
    assert.equal(workersFor(0, 4, 1), 0);
    assert.equal(workersFor(1, 4, 1), 1);
    assert.equal(workersFor(8, 4, 1), 2);
    assert.equal(workersFor(9, 4, 1), 3);
    assert.equal(workersFor(10, 10, 1), 1, "no float noise");
    assert.equal(workersFor(8, 4, 0.5), 4);
    assert.equal(workersFor(3, 1, 0.7), 5);
  });

  it("scales up at once, clamped to maxReplicas, and says when demand exceeds it", () => {
    const sim = new Sim(pool({ minReplicas: 1, maxReplicas: 10 }), { concurrency: 4 });
    const d = sim.step({ queued: 500, inflight: 0 });
    assert.equal(d.desired, 10);
    assert.equal(d.direction, "up");
    assert.ok(d.write);
    assert.equal(d.condition.reason, "AtMaximum");
    assert.match(d.condition.message, /would need 125 workers; warmPool.maxReplicas is 10/);
  });

  it("the first call to a pool at zero raises it to 1 immediately", () => {
    const sim = new Sim(pool({ minReplicas: 0 }));
    assert.equal(sim.step({ queued: 0, inflight: 0 }).desired, 0);
    const d = sim.step({ queued: 1, inflight: 0 }, 10);
    assert.equal(d.desired, 1);
    assert.equal(d.direction, "up");
  });

  it("scales down only after demand stayed lower for scaleDownDelaySeconds (stable window)", () => {
    const sim = new Sim(pool({ minReplicas: 0, scaleDownDelaySeconds: 60 }));
    sim.step({ queued: 8, inflight: 0 });
    assert.equal(sim.replicas, 8);
    let d = sim.step({ queued: 0, inflight: 2 }, 1 * S);
    assert.equal(d.desired, 8, "held");
    assert.equal(d.condition.reason, "ScaleDownStabilizing");
    assert.equal(d.recheckAfterMs, 60 * S, "decide again when the window passed");
    d = sim.step({ queued: 0, inflight: 2 }, 59 * S);
    assert.equal(d.desired, 8, "still inside the window");
    d = sim.step({ queued: 0, inflight: 2 }, 1 * S);
    assert.equal(d.desired, 2, "window passed");
    assert.equal(d.direction, "down");
    d = sim.step({ queued: 0, inflight: 0 }, 30 * S);
    assert.equal(d.desired, 2, "t=91s: demand just fell to 0");
    assert.equal(d.recheckAfterMs, 60 * S);
    d = sim.step({ queued: 0, inflight: 0 }, 60 * S);
    assert.equal(d.desired, 0, "t=151s: back to zero after the delay");
  });

  it("a bursty queue does not thrash: a spike inside the window keeps the pool", () => {
    const sim = new Sim(pool({ scaleDownDelaySeconds: 30 }));
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      sim.step({ queued: i % 2 === 0 ? 6 : 0, inflight: 0 }, 5 * S);
      sizes.push(sim.replicas ?? -1);
    }
    assert.deepEqual(new Set(sizes), new Set([6]), `sizes: ${sizes.join(",")}`);
  });

  it("scale-down goes to the highest recommendation still inside the window", () => {
    const sim = new Sim(pool({ scaleDownDelaySeconds: 10 }));
    sim.step({ queued: 9, inflight: 0 });
    sim.step({ queued: 5, inflight: 0 }, 5 * S);
    sim.step({ queued: 1, inflight: 0 }, 2 * S);
    // The 9 was in force until t=5s: it leaves the window at t=15s; the 5 (t=5s to 7s) at t=17s.
    assert.equal(sim.step({ queued: 1, inflight: 0 }, 7 * S).desired, 9, "t=14s");
    assert.equal(sim.step({ queued: 1, inflight: 0 }, 1 * S).desired, 5, "t=15s");
    assert.equal(sim.step({ queued: 1, inflight: 0 }, 2 * S).desired, 1, "t=17s");
  });

  it("holds on missing data and never scales to zero", () => {
    const sim = new Sim(pool({ replicas: 4 }));
    const d = decide({ ...sim.base, pool: pool({ replicas: 4 }), demand: undefined, missing: "connection refused", history: [], now: 0 });
    assert.equal(d.desired, 4);
    assert.equal(d.write, false);
    assert.equal(d.condition.status, "False");
    assert.equal(d.condition.reason, "DemandUnavailable");
    assert.match(d.condition.message, /connection refused.*holding 4 workers/);
  });

  it("with autoscaler: external it never writes", () => {
    const d = decide({ concurrency: 1, defaultTargetUtilization: 1, observingSince: 0, pool: pool({ autoscaler: "external", replicas: 3 }), demand: { queued: 100, inflight: 0 }, history: [], now: 0 });
    assert.equal(d.write, false);
    assert.equal(d.desired, 3);
    assert.equal(d.condition.reason, "ExternalAutoscaler");
  });

  it("a new leader does not scale down before it observed a whole window (failover mid-spike)", () => {
    // The old leader set 10; the new one starts at t=0 and sees less demand.
    const sim = new Sim(pool({ replicas: 10, scaleDownDelaySeconds: 60 }), { observingSince: 0 });
    let d = sim.step({ queued: 3, inflight: 0 }, 0);
    assert.equal(d.desired, 10);
    assert.equal(d.write, false, "no flapping: the size stays");
    d = sim.step({ queued: 20, inflight: 0 }, 1 * S);
    assert.equal(d.desired, 10, "scale-up capped by max");
    d = sim.step({ queued: 3, inflight: 0 }, 30 * S);
    assert.equal(d.desired, 10);
    d = sim.step({ queued: 3, inflight: 0 }, 30 * S);
    assert.equal(d.desired, 10, "t=61s: the spike at t=1s to 31s is still inside the window");
    d = sim.step({ queued: 3, inflight: 0 }, 30 * S);
    assert.equal(d.desired, 3, "t=91s: a whole window of lower demand");
  });

  it("bounds changes apply at once: minReplicas raised, maxReplicas lowered", () => {
    let d = decide({ concurrency: 1, defaultTargetUtilization: 1, observingSince: -1e9, pool: pool({ minReplicas: 3, replicas: 1 }), demand: { queued: 0, inflight: 0 }, history: [], now: 0 });
    assert.equal(d.desired, 3);
    d = decide({ concurrency: 1, defaultTargetUtilization: 1, observingSince: -1e9, pool: pool({ maxReplicas: 2, replicas: 8 }), demand: { queued: 8, inflight: 0 }, history: [], now: 0 });
    assert.equal(d.desired, 2);
    assert.ok(d.write);
  });

  it("targetUtilization: the Function's value wins over the operator default", () => {
    const d = decide({ concurrency: 4, defaultTargetUtilization: 1, observingSince: 0, pool: pool({ targetUtilization: 0.5 }), demand: { queued: 8, inflight: 0 }, history: [], now: 0 });
    assert.equal(d.desired, 4);
    const e = decide({ concurrency: 4, defaultTargetUtilization: 0.5, observingSince: 0, pool: pool(), demand: { queued: 8, inflight: 0 }, history: [], now: 0 });
    assert.equal(e.desired, 4);
  });

  it("desired never exceeds what demand needs (no pile-up of Pending pods)", () => {
    const d = decide({ concurrency: 1, defaultTargetUtilization: 1, observingSince: -1e9, pool: pool({ maxReplicas: 100, replicas: 0 }), demand: { queued: 3, inflight: 0 }, history: [], now: 0 });
    assert.equal(d.desired, 3);
  });

  it("history keeps the window and the sample in force at its start", () => {
    const h: Sample[] = [{ at: 0, replicas: 5 }, { at: 10, replicas: 3 }, { at: 20, replicas: 1 }];
    assert.deepEqual(pruneHistory(h, 15), [{ at: 10, replicas: 3 }, { at: 20, replicas: 1 }]);
    assert.deepEqual(pruneHistory(h, 10), [{ at: 10, replicas: 3 }, { at: 20, replicas: 1 }]);
    assert.deepEqual(pruneHistory(h, 30), [{ at: 20, replicas: 1 }]);
    assert.deepEqual(pruneHistory(h, -5), h);
  });

  it("the Deployment follows warmPool.replicas (clamped for hearth, as written for external)", () => {
    assert.equal(poolReplicas(pool({ minReplicas: 2 })), 2, "unset: minReplicas");
    assert.equal(poolReplicas(pool({ replicas: 7 })), 7);
    assert.equal(poolReplicas(pool({ replicas: 50, maxReplicas: 10 })), 10);
    assert.equal(poolReplicas(pool({ replicas: 50, maxReplicas: 10, autoscaler: "external" })), 50);
  });
});

describe("demand stream", () => {
  it("parses server-sent events split across chunks, skipping comments", () => {
    const p = new SseParser();
    assert.deepEqual(p.push(": ping\n\nevent: snap"), []);
    assert.deepEqual(p.push('shot\ndata: {"a":1}\n\nevent: demand\ndata: {"b"'), [{ event: "snapshot", data: '{"a":1}' }]);
    assert.deepEqual(p.push(":2}\n\n"), [{ event: "demand", data: '{"b":2}' }]);
  });

  it("pushes a burst of submissions as demand within milliseconds, with cold start and busy workers", async () => {
    const fn = staticFunction({ namespace: "ns", name: "fn", concurrency: 1 });
    const gw = await Gateway.start({ storePath: ":memory:", registry: new StaticRegistry([fn]), auth: { callerTokens: ["op-token"] } });
    const events: StreamEvent[] = [];
    const abort = new AbortController();
    const stream = new DemandStream({ url: `${gw.url}/v1/demand`, token: async () => "op-token", onEvent: (ev) => events.push(ev) });
    const running = stream.run(abort.signal);
    try {
      const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
        const deadline = Date.now() + 5000;
        while (!pred()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      };
      await waitFor(() => events.some((e) => e.type === "snapshot"), "snapshot");
      const t0 = performance.now();
      await gw.engine.submitMany(fn, Array.from({ length: 500 }, (_, i) => String(i)));
      await waitFor(() => events.some((e) => e.type === "demand" && e.functions.some((f) => f.queued === 500)), "demand 500");
      const latency = performance.now() - t0;
      assert.ok(latency < 1000, `demand arrived after ${latency} ms`);
      const burst = events.filter((e) => e.type === "demand");
      assert.ok(burst.length <= 3, `coalesced: ${burst.length} messages for 500 tasks`);
      const last = burst.at(-1);
      assert.ok(last?.type === "demand" && last.functions[0]?.coldStarting === true, "no worker yet: cold start in progress");

      const grants = await gw.engine.lease(fn, "pod-a", 2, 0);
      assert.equal(grants.length, 2);
      await waitFor(() => events.some((e) => e.type === "demand" && e.functions.some((f) => f.inflight === 2 && f.busy.includes("pod-a") && f.lastColdStart !== undefined)), "lease seen");
      const cold = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(cold, /hearth_gateway_cold_start_seconds_count\{namespace="ns",function="fn"\} 1/);
    } finally {
      stream.stop();
      abort.abort();
      await running;
      await gw.stop();
    }
  });

  it("refuses a caller without a token and reports the stream down", async () => {
    const gw = await Gateway.start({ storePath: ":memory:", registry: new StaticRegistry([]), auth: { callerTokens: ["op-token"] } });
    const events: StreamEvent[] = [];
    const abort = new AbortController();
    const stream = new DemandStream({ url: `${gw.url}/v1/demand`, token: async () => "wrong", onEvent: (ev) => events.push(ev), minBackoffMs: 1000 });
    const running = stream.run(abort.signal);
    try {
      const deadline = Date.now() + 5000;
      while (!events.some((e) => e.type === "down") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const down = events.find((e) => e.type === "down");
      assert.ok(down?.type === "down" && /401/.test(down.error), JSON.stringify(events));
    } finally {
      stream.stop();
      abort.abort();
      await running;
      await gw.stop();
    }
  });
  it("treats a stream silent for silenceMs on its clock as down, then reconnects after the back-off on the same clock", async () => {
    // A gateway that sends the snapshot and then nothing, not even pings.
    let connects = 0;
    const server = createServer((_req, res) => {
      connects++;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`event: snapshot\ndata: {"functions":[]}\n\n`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const addr = server.address();
    const port = typeof addr === "object" && addr !== null ? addr.port : 0;
    const clock = new FakeClock();
    const events: StreamEvent[] = [];
    const abort = new AbortController();
    const stream = new DemandStream({ url: `http://127.0.0.1:${port}/v1/demand`, token: async () => undefined, onEvent: (ev) => events.push(ev), silenceMs: 15_000, minBackoffMs: 100, clock });
    const running = stream.run(abort.signal);
    const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    try {
      await waitFor(() => events.some((e) => e.type === "snapshot"), "snapshot");
      await clock.advance(14_999);
      assert.ok(!events.some((e) => e.type === "down"), "not down before silenceMs passed on the clock");
      await clock.advance(1);
      await waitFor(() => events.some((e) => e.type === "down"), "down");
      const down = events.find((e) => e.type === "down");
      assert.ok(down?.type === "down" && /no data or ping for 15000 ms/.test(down.error), JSON.stringify(down));
      assert.equal(connects, 1, "no reconnect before the back-off passed on the clock");
      await waitFor(() => clock.pending() > 0, "back-off timer");
      await clock.advance(100);
      await waitFor(() => connects === 2, "reconnect");
    } finally {
      stream.stop();
      abort.abort();
      await running;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
