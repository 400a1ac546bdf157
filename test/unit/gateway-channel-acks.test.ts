// The worker channel's acknowledgements (src/gateway/worker-channel.ts): the answer to a results
// line waits up to ackDelayMs to ride on the next grant — with sequential calls the next grant
// comes within a millisecond, and one write (one wake-up of the worker) carries both — and is
// written on its own when no grant comes in time. Real serveChannel, a fake connection and clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock, flushMicrotasks } from "../../src/kube/clock.ts";
import { serveChannel, type ChannelDeps, type ChannelIo } from "../../src/gateway/worker-channel.ts";
import type { LeaseGrant } from "../../src/gateway/task-model.ts";

/** A connection whose worker side the test writes, and whose gateway side it reads write by write. */
function fakeIo(): { io: ChannelIo; writes: string[]; send: (line: string) => void; close: () => void } {
  const writes: string[] = [];
  let data: (chunk: string) => void = () => {};
  let closed: () => void = () => {};
  let ended = false;
  const io: ChannelIo = {
    onData: (fn) => (data = fn),
    onEnd: () => {},
    onClose: (fn) => (closed = fn),
    write: (text) => void writes.push(text),
    end: () => (ended = true),
    get ended() {
      return ended;
    },
    destroy: () => {},
  };
  return { io, writes, send: (line) => data(`${line}\n`), close: () => closed() };
}

function grant(id: string): LeaseGrant {
  return { id, attempt: 1, leaseId: `lease-${id}`, input: "null", encoding: "json", deadline: 0, timeoutSeconds: 60 };
}

/** A lease the test answers: each call parks until `grantNext` resolves it. */
function channelDeps(clock: FakeClock): { deps: ChannelDeps; grantNext: (grants: LeaseGrant[]) => void; leases: () => number } {
  const parked: ((g: LeaseGrant[]) => void)[] = [];
  let calls = 0;
  const deps: ChannelDeps = {
    clock,
    lease: (_max, _waitMs, signal) =>
      new Promise((resolve) => {
        calls++;
        parked.push(resolve);
        signal.addEventListener("abort", () => resolve([]), { once: true });
      }),
    unlease: () => {},
    applyResults: async (items) => items.map(() => "ok"),
    progress: () => true,
    renderGrants: (grants) => JSON.stringify({ tasks: grants.map((g) => g.id) }),
    maxLineBytes: 1 << 20,
    maxBatch: 16,
    lifetimeMs: 3_600_000,
    leaseWaitMs: 30_000,
    ackDelayMs: 5,
  };
  return { deps, grantNext: (g) => parked.shift()?.(g), leases: () => calls };
}

describe("worker channel acknowledgements", () => {
  it("an acknowledgement rides on the next grant when one comes within the delay: one write carries both", async () => {
    const clock = new FakeClock();
    const { io, writes, send, close } = fakeIo();
    const { deps, grantNext, leases } = channelDeps(clock);
    const served = serveChannel(io, deps);
    send('{"want":1}');
    await flushMicrotasks();
    grantNext([grant("t1")]);
    await flushMicrotasks();
    assert.deepEqual(writes, ['{"tasks":["t1"]}\n']);
    // t1's outcome, with the credit it frees: the ack waits for the next grant.
    send('{"want":1,"results":[{"id":"t1"}]}');
    await flushMicrotasks();
    assert.equal(writes.length, 1, "no write of its own for the acknowledgement yet");
    assert.equal(leases(), 2, "the freed credit asks for the next lease at once");
    await clock.advance(2);
    grantNext([grant("t2")]);
    await flushMicrotasks();
    assert.deepEqual(writes.slice(1), ['{"results":["ok"]}\n{"tasks":["t2"]}\n'], "ack and grant in one write, ack first");
    // Nothing left over: the timer of the ack that rode along never writes.
    await clock.advance(10);
    assert.equal(writes.length, 2);
    close();
    await served;
  });

  it("an acknowledgement no grant comes for is written on its own after the delay, not before", async () => {
    const clock = new FakeClock();
    const { io, writes, send, close } = fakeIo();
    const { deps, grantNext } = channelDeps(clock);
    const served = serveChannel(io, deps);
    send('{"want":1}');
    await flushMicrotasks();
    grantNext([grant("t1")]);
    await flushMicrotasks();
    send('{"results":[{"id":"t1"}]}');
    await flushMicrotasks();
    await clock.advance(4);
    assert.equal(writes.length, 1, "held for up to 5 ms");
    await clock.advance(1);
    assert.deepEqual(writes.slice(1), ['{"results":["ok"]}\n']);
    close();
    await served;
  });

  it("an error answer is not held back", async () => {
    const clock = new FakeClock();
    const { io, writes, send, close } = fakeIo();
    const { deps } = channelDeps(clock);
    const served = serveChannel(io, deps);
    send("not json");
    assert.equal(writes.length, 1);
    assert.match(writes[0] ?? "", /"BadRequest"/);
    close();
    await served;
  });
});
