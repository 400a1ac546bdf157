import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { ApplyObject } from "../../src/kube/client.ts";
import { FakeClock } from "../../src/kube/clock.ts";
import { KubeError } from "../../src/kube/errors.ts";
import { LeaderElector, microTime, type LeaseClient } from "../../src/kube/leader.ts";
import { lease as leaseSchema, type Lease } from "../../src/kube/objects.ts";

const silent = pino({ level: "silent" });

/** Leases with the apiserver's semantics that matter here: create-once and compare-and-swap on resourceVersion. */
class LeaseStore implements LeaseClient {
  private stored: Lease | undefined;
  private rv = 0;
  writes = 0;
  down = false;

  async get(): Promise<Lease | undefined> {
    if (this.down) throw new KubeError({ code: 0, reason: "Network", message: "ECONNREFUSED" });
    return this.stored === undefined ? undefined : structuredClone(this.stored);
  }

  async create(obj: ApplyObject): Promise<Lease> {
    if (this.down) throw new KubeError({ code: 0, reason: "Network", message: "ECONNREFUSED" });
    if (this.stored !== undefined) throw new KubeError({ code: 409, reason: "AlreadyExists", message: "exists" });
    return this.put(obj);
  }

  async replace(obj: ApplyObject): Promise<Lease> {
    if (this.down) throw new KubeError({ code: 0, reason: "Network", message: "ECONNREFUSED" });
    if (this.stored?.metadata.resourceVersion !== obj.metadata["resourceVersion"]) throw new KubeError({ code: 409, reason: "Conflict", message: "modified" });
    return this.put(obj);
  }

  holder(): string {
    return this.stored?.spec.holderIdentity ?? "";
  }

  transitions(): number {
    return this.stored?.spec.leaseTransitions ?? 0;
  }

  private put(obj: ApplyObject): Lease {
    this.writes++;
    this.stored = leaseSchema.parse({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
    return structuredClone(this.stored);
  }
}

interface Candidate {
  elector: LeaderElector;
  /** Simulates SIGKILL: the process stops talking to the apiserver, nothing is released. */
  kill(): void;
  events: string[];
  controller: AbortController;
  done: Promise<void>;
}

function candidate(store: LeaseStore, clock: FakeClock, identity: string): Candidate {
  const events: string[] = [];
  let dead = false;
  const gone = (): Promise<never> => Promise.reject(new KubeError({ code: 0, reason: "Network", message: "process is dead" }));
  const client: LeaseClient = {
    get: () => (dead ? gone() : store.get()),
    create: (obj) => (dead ? gone() : store.create(obj)),
    replace: (obj) => (dead ? gone() : store.replace(obj)),
  };
  const elector = new LeaderElector({
    client,
    clock,
    logger: silent,
    namespace: "hearth-system",
    name: "hearth-operator",
    identity,
    leaseDurationMs: 6_000,
    renewDeadlineMs: 4_000,
    retryPeriodMs: 1_000,
    onStartedLeading: () => events.push("started"),
    onStoppedLeading: () => events.push("stopped"),
  });
  const controller = new AbortController();
  return { elector, events, controller, done: elector.run(controller.signal), kill: () => (dead = true) };
}

describe("LeaderElector", () => {
  it("acquires a free lease at once and renews it every retry period", async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(0);
    assert.deepEqual(a.events, ["started"]);
    assert.equal(store.holder(), "a");
    const writes = store.writes;
    await clock.advance(10_000);
    assert.ok(store.writes - writes >= 9 && store.writes - writes <= 10, `renewed ${store.writes - writes} times in 10 s`);
    a.controller.abort();
    await clock.advance(0);
    await a.done;
  });

  it("a standby waits while the leader renews, and takes over one lease duration after renewals stop", async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(0);
    const b = candidate(store, clock, "b");
    await clock.advance(30_000);
    assert.deepEqual(b.events, [], "b stands by while a renews");
    assert.equal(b.elector.leader(), "a");

    a.kill();
    const died = clock.now();
    let tookOverAt = 0;
    for (let i = 0; i < 200 && b.events.length === 0; i++) {
      await clock.advance(100);
      tookOverAt = clock.now();
    }
    assert.deepEqual(b.events, ["started"]);
    const failover = tookOverAt - died;
    assert.ok(failover >= 6_000 && failover <= 8_200, `failover took ${failover} ms`);
    assert.equal(store.holder(), "b");
    assert.equal(store.transitions(), 1);
    a.controller.abort();
    b.controller.abort();
    await clock.advance(0);
  });

  it("a leader that cannot renew steps down after the renew deadline", async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(0);
    store.down = true;
    await clock.advance(3_000);
    assert.deepEqual(a.events, ["started"]);
    await clock.advance(2_500);
    assert.deepEqual(a.events, ["started", "stopped"]);
    await a.done;
    assert.equal(a.elector.isLeader(), false);
  });

  it("a graceful stop releases the lease so a standby takes over immediately", async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(0);
    const b = candidate(store, clock, "b");
    await clock.advance(2_000);
    a.controller.abort();
    await clock.advance(0);
    await a.done;
    assert.equal(store.holder(), "");
    await clock.advance(1_300);
    assert.deepEqual(b.events, ["started"], "within one retry period");
    b.controller.abort();
    await clock.advance(0);
  });

  it("only one of two simultaneous candidates wins", async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    const b = candidate(store, clock, "b");
    await clock.advance(5_000);
    const leaders = [a, b].filter((c) => c.events.includes("started"));
    assert.equal(leaders.length, 1);
    a.controller.abort();
    b.controller.abort();
    await clock.advance(0);
  });

  it("steps down when it sees another holder (someone took the lease)", async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(0);
    const current = await store.get();
    await store.replace({
      metadata: { name: "hearth-operator", namespace: "hearth-system", resourceVersion: current?.metadata.resourceVersion ?? "" },
      spec: { holderIdentity: "intruder", leaseDurationSeconds: 60, renewTime: microTime(clock.now()), acquireTime: microTime(clock.now()), leaseTransitions: 1 },
    });
    await clock.advance(1_500);
    assert.deepEqual(a.events, ["started", "stopped"]);
  });

  it("rejects timings that cannot work", () => {
    assert.throws(
      () => new LeaderElector({ client: new LeaseStore(), clock: new FakeClock(), logger: silent, namespace: "n", name: "l", identity: "a", leaseDurationMs: 2_000, renewDeadlineMs: 3_000, onStartedLeading: () => {}, onStoppedLeading: () => {} }),
      /renewDeadline must be shorter/,
    );
  });

  it("writes MicroTime with microseconds", () => {
    assert.equal(microTime(Date.UTC(2026, 0, 1, 0, 0, 0, 123)), "2026-01-01T00:00:00.123000Z");
  });
});
