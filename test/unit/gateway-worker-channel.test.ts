// The worker channel on loopback, in-process: a real Gateway (in-memory store) and the runtime's
// real WorkerChannel standing in for a worker process.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { workerToken } from "../../src/auth/worker-token.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";
import { parseChannelLine } from "../../src/gateway/worker-channel.ts";
import type { LeasedTask } from "../../src/protocol/index.ts";
import { resultItem, WorkerApiError } from "../../src/runtime/worker-api.ts";
import { WorkerChannel } from "../../src/runtime/worker-channel.ts";

const KEY = "signing-key-0123456789";
const CALLER = "caller-secret";
const auth = { authorization: `Bearer ${CALLER}` };

async function until<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A gateway with the Functions default/echo and default/other, the caller token and the worker signing key. */
function startGateway(extra: { engine?: { leaseReceiptMs: number } } = {}): Promise<Gateway> {
  return Gateway.start({
    storePath: ":memory:",
    registry: new StaticRegistry([staticFunction({ namespace: "default", name: "echo", timeoutSeconds: 30 }), staticFunction({ namespace: "default", name: "other" })]),
    auth: { callerTokens: [CALLER], workerSigningKey: KEY },
    limits: { maxWaitMs: 20_000 },
    ...extra,
  });
}

describe("worker channel", () => {
  let gw: Gateway;
  let url: string;
  const token = workerToken(KEY, "default", "echo");

  before(async () => {
    gw = await startGateway({ engine: { leaseReceiptMs: 200 } });
    url = gw.url;
  });
  after(async () => gw.stop());

  const push = async (input: unknown): Promise<string> => {
    const res = await fetch(`${url}/v1/namespaces/default/functions/echo:push`, { method: "POST", body: JSON.stringify(input), headers: auth });
    assert.equal(res.status, 202);
    return ((await res.json()) as { id: string }).id;
  };

  /** A heartbeat of `workerId` holding no task (as if every grant to it had been lost on the way). */
  const heartbeatHoldingNothing = async (workerId: string): Promise<void> => {
    const hb = await fetch(`${url}/v1/workers/heartbeat`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ function: "default/echo", workerId, busy: 0, ready: true, state: "ready", tasks: [] }),
    });
    assert.equal(hb.status, 200);
  };

  const open = async (got: LeasedTask[], workerId = `w-${Math.random()}`): Promise<WorkerChannel> => {
    const ch = await WorkerChannel.open(url, token, "default/echo", workerId, { tasks: (t) => got.push(...t), ended: () => undefined });
    assert.ok(ch !== "unsupported");
    return ch;
  };

  it("grants no more tasks than the credit given, and more as credit is added", async () => {
    const got: LeasedTask[] = [];
    const ch = await open(got);
    const ids = await Promise.all([1, 2, 3, 4, 5].map((i) => push({ i })));
    ch.want(2);
    await until("two tasks", () => (got.length >= 2 ? true : undefined));
    await sleep(200);
    assert.equal(got.length, 2, "credit 2 → 2 tasks, the rest stay queued");
    ch.want(10);
    await until("all five", () => (got.length === 5 ? true : undefined));
    assert.deepEqual(got.map((t) => t.id).sort(), [...ids].sort());
    assert.deepEqual(got[0]?.input, { i: 1 }, "inputs arrive as JSON");
    for (const t of got) assert.equal(t.attempt, 1);
    // The outcomes go up the same channel and are acknowledged per task once durable.
    const acks = await ch.results(
      got.map((t) => resultItem(t.id, t.leaseId, { output: JSON.stringify({ done: t.id }) })),
      got.map((t) => t.id),
    );
    assert.deepEqual(acks.map((a) => a.status), [200, 200, 200, 200, 200]);
    const doc = (await (await fetch(`${url}/v1/tasks/${got[0]?.id ?? ""}`, { headers: auth })).json()) as { status: string; output: unknown };
    assert.equal(doc.status, "succeeded");
    assert.deepEqual(doc.output, { done: got[0]?.id });
    // A repeat with a stale lease is answered 409 for that item, as on /v1/workers/results.
    const again = await ch.results([resultItem(got[0]?.id ?? "", "stale", { output: "1" })], [got[0]?.id ?? ""]);
    assert.equal(again[0]?.status, 409);
    ch.close();
    await ch.closed;
  });

  it("credit added while a lease waits is used once it answers; credit taken back is not granted", async () => {
    const got: LeasedTask[] = [];
    const ch = await open(got);
    ch.want(1);
    await sleep(100);
    // The lease now waits with credit 1; three more arrive while it waits.
    ch.want(3);
    await sleep(100);
    const ids = await Promise.all([1, 2, 3, 4].map((i) => push({ w: i })));
    await until("all four", () => (got.length === 4 ? true : undefined));
    assert.deepEqual(got.map((t) => t.id).sort(), [...ids].sort());
    // Credit given and taken back while the lease waits: nothing is granted.
    ch.want(2);
    await sleep(100);
    ch.want(-2);
    await sleep(100);
    const queued = await push({ w: "later" });
    await sleep(300);
    assert.equal(got.length, 4, `task ${queued} stays queued: the credit was taken back`);
    ch.destroy();
    await ch.closed;
    // Leave the queue empty for the next test: another worker runs it.
    const other: LeasedTask[] = [];
    const ch2 = await open(other);
    ch2.want(1);
    const t = await until("the queued task", () => other[0]);
    assert.equal(t.id, queued);
    const [ack] = await ch2.results([resultItem(t.id, t.leaseId, { output: "1" })], [t.id]);
    assert.equal(ack?.status, 200);
    ch2.close();
    await ch2.closed;
  });

  it("a :run is answered through a channel worker, and stop ends leasing", async () => {
    const got: LeasedTask[] = [];
    const ch = await open(got);
    ch.want(4);
    const run = fetch(`${url}/v1/namespaces/default/functions/echo:run`, { method: "POST", body: '{"x":7}', headers: auth });
    const t = await until("the run's task", () => got[0]);
    const [ack] = await ch.results([resultItem(t.id, t.leaseId, { output: '{"y":8}' })], [t.id]);
    assert.equal(ack?.status, 200);
    const res = await run;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { y: 8 });
    ch.stop();
    // The gateway answers the stop ({"stopped":true}); a draining worker waits for it.
    await Promise.race([ch.stopAnswered, sleep(5000).then(() => assert.fail("the stop was not answered"))]);
    await sleep(100);
    const id = await push({ after: "stop" });
    await sleep(300);
    assert.equal(got.length, 1, "no task after stop");
    ch.close();
    await ch.closed;
    // Still queued: a lease request takes it.
    const stats = (await (await fetch(`${url}/v1/namespaces/default/functions/echo/stats`, { headers: auth })).json()) as { queueDepth: number };
    assert.equal(stats.queueDepth, 1, `task ${id} is still queued`);
    const other: LeasedTask[] = [];
    const ch2 = await open(other);
    ch2.want(1);
    await until("the queued task", () => other[0]);
    ch2.destroy();
  });

  it("answers a stop with {\"stopped\":true} after every grant it made, so a draining worker runs what is on its way", async () => {
    const { request } = await import("node:http");
    const u = new URL(`${url}/v1/workers/channel?function=default/echo&workerId=w-raw-stop`);
    const req = request(u, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson", "transfer-encoding": "chunked" } });
    const lines: string[] = [];
    req.on("response", (res) => {
      let partial = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        partial += chunk;
        const parts = partial.split("\n");
        partial = parts.pop() ?? "";
        lines.push(...parts.filter((l) => l !== ""));
      });
    });
    req.flushHeaders();
    req.write('{"want":1}\n');
    const id = await push({ raw: "stop" });
    await until("the grant", () => lines.find((l) => l.includes(id)));
    req.write('{"stop":true}\n');
    await until("the stop's answer", () => lines.find((l) => l === '{"stopped":true}'));
    const grant = lines.findIndex((l) => l.includes(id));
    assert.ok(grant >= 0 && grant < lines.indexOf('{"stopped":true}'), lines.join("\n"));
    req.destroy();
  });

  it("a task granted to a channel that hung up runs again on another worker, the attempt not counted", async () => {
    const got: LeasedTask[] = [];
    const ch = await open(got, "w-gone");
    ch.want(1);
    const id = await push({ z: 1 });
    await until("the task", () => got[0]);
    ch.destroy();
    await sleep(300);
    // The worker's next heartbeat does not list it: the lease answer never arrived → re-queued.
    await heartbeatHoldingNothing("w-gone");
    const other: LeasedTask[] = [];
    const ch2 = await open(other);
    ch2.want(1);
    const again = await until("the task again", () => other[0]);
    assert.equal(again.id, id);
    assert.equal(again.attempt, 1, "a lost lease is not an attempt");
    ch2.destroy();
  });

  it("a grant the worker never received (its heartbeat does not list it) is queued again and its credit given back to the channel", async () => {
    const got: LeasedTask[] = [];
    const ch = await open(got, "w-lossy");
    ch.want(1);
    const id = await push({ lost: 1 });
    await until("the grant", () => got[0]);
    await sleep(300);
    // The worker says it holds nothing (as if that grant had been lost on the way); it sends no new credit.
    await heartbeatHoldingNothing("w-lossy");
    // Without the credit back, the channel's one credit stays spent and the task waits for another worker.
    const again = await until("the task granted again on the same channel", () => got[1], 5_000);
    assert.equal(again.id, id);
    assert.equal(again.attempt, 1, "a lost lease is not an attempt");
    assert.notEqual(again.leaseId, got[0]?.leaseId);
    ch.destroy();
  });

  it("refuses a wrong worker token before reading anything, and a token for another Function", async () => {
    await assert.rejects(WorkerChannel.open(url, "nope", "default/echo", "w", { tasks: () => undefined, ended: () => undefined }), (err: unknown) => err instanceof WorkerApiError && err.status === 401);
    await assert.rejects(WorkerChannel.open(url, token, "default/other", "w", { tasks: () => undefined, ended: () => undefined }), (err: unknown) => err instanceof WorkerApiError && err.status === 401);
    await assert.rejects(WorkerChannel.open(url, token, "default/echo", "", { tasks: () => undefined, ended: () => undefined }), (err: unknown) => err instanceof WorkerApiError && err.status === 400);
  });

  it("reads lines leniently: unknown fields ignored, non-objects refused", () => {
    assert.deepEqual(parseChannelLine('{"want":3,"future":1}'), { want: 3, results: undefined, stop: false, progress: [] });
    assert.deepEqual(parseChannelLine('{"want":1.5,"stop":true}'), { want: 0, results: undefined, stop: true, progress: [] });
    assert.deepEqual(parseChannelLine('{"progress":[{"id":"a","leaseId":"l","value":0.5},{"id":"b","leaseId":"l","value":2}]}')?.progress, [{ id: "a", leaseId: "l", value: 0.5, message: undefined }], "a value outside 0..1 is dropped");
    assert.equal(parseChannelLine("[1]"), undefined);
    assert.equal(parseChannelLine("{nope"), undefined);
  });
});

describe("worker channel on an upgraded connection (direct mode)", () => {
  let gw: Gateway;
  const token = workerToken(KEY, "default", "echo");

  before(async () => {
    gw = await startGateway();
  });
  // Also checks that stopping the gateway ends channels it no longer tracks as HTTP requests.
  after(async () => gw.stop());

  const upgrade = async (got: LeasedTask[], cancelled: string[] = []): Promise<WorkerChannel> => {
    const conn = await WorkerChannel.upgrade(gw.url, token, "default/echo", `u-${Math.random()}`);
    assert.ok(typeof conn === "object", `upgrade: ${typeof conn === "string" ? conn : ""}`);
    return WorkerChannel.fromSocket(conn, { tasks: (t) => got.push(...t), ended: () => undefined, cancel: (ids) => cancelled.push(...ids) });
  };

  it("carries credit, grants, progress and results as the streaming channel does", async () => {
    const got: LeasedTask[] = [];
    const cancelled: string[] = [];
    const ch = await upgrade(got, cancelled);
    const res = fetch(`${gw.url}/v1/namespaces/default/functions/echo:run`, { method: "POST", body: JSON.stringify({ x: "é" }), headers: auth });
    ch.want(1);
    const t = await until("the grant", () => got[0]);
    assert.deepEqual(t.input, { x: "é" });
    // Progress rides on the same connection, before the outcome: the task shows it at once.
    ch.progress(t.id, t.leaseId, 0.5, "half");
    const acks = await ch.results([resultItem(t.id, t.leaseId, { output: '{"ok":true}' })], [t.id]);
    assert.deepEqual(acks.map((a) => a.status), [200]);
    const answer = await res;
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { ok: true });
    // Progress for a lease that is gone is answered with a cancel line.
    ch.progress(t.id, t.leaseId, 0.9, undefined);
    await until("the cancel", () => (cancelled.length > 0 ? true : undefined));
    assert.deepEqual(cancelled, [t.id]);
    ch.close();
    await ch.closed;
  });

  it("progress on the channel is what callers see", async () => {
    const got: LeasedTask[] = [];
    const ch = await upgrade(got);
    const pushed = await fetch(`${gw.url}/v1/namespaces/default/functions/echo:push`, { method: "POST", body: "1", headers: auth });
    const id = ((await pushed.json()) as { id: string }).id;
    ch.want(1);
    const t = await until("the grant", () => got[0]);
    ch.progress(t.id, t.leaseId, 0.25, "a quarter");
    let seen: unknown;
    for (let i = 0; i < 500 && seen === undefined; i++) {
      const doc = (await (await fetch(`${gw.url}/v1/tasks/${id}`, { headers: auth })).json()) as { progress?: unknown };
      seen = doc.progress;
      if (seen === undefined) await sleep(20);
    }
    assert.deepEqual(seen, { value: 0.25, message: "a quarter" });
    ch.destroy();
  });

  it("refuses a wrong token with an HTTP answer; an upgrade elsewhere is an ordinary request", async () => {
    await assert.rejects(WorkerChannel.upgrade(gw.url, "nope", "default/echo", "w"), (err: unknown) => err instanceof WorkerApiError && err.status === 401);
    await assert.rejects(WorkerChannel.upgrade(gw.url, token, "default/other", "w"), (err: unknown) => err instanceof WorkerApiError && err.status === 401);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/healthz`, { headers: { connection: "upgrade", upgrade: "hearth-channel" }, agent: false });
      req.once("upgrade", () => reject(new Error("/healthz was upgraded")));
      req.once("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once("error", reject);
      req.end();
    });
    assert.equal(status, 200);
  });
});

describe("worker channel lifetime", () => {
  it("the gateway ends a channel before its request timeout; the worker's acknowledgements still arrive", async () => {
    const gw = await Gateway.start({
      storePath: ":memory:",
      registry: new StaticRegistry([staticFunction({ namespace: "default", name: "echo" })]),
      auth: { callerTokens: [CALLER], workerSigningKey: KEY },
      limits: { requestTimeoutMs: 2000 },
    });
    try {
      const got: LeasedTask[] = [];
      let ended = false;
      const ch = await WorkerChannel.open(gw.url, workerToken(KEY, "default", "echo"), "default/echo", "w1", { tasks: (t) => got.push(...t), ended: () => (ended = true) });
      assert.ok(ch !== "unsupported");
      ch.want(1);
      await fetch(`${gw.url}/v1/namespaces/default/functions/echo:push`, { method: "POST", body: "1", headers: auth });
      const t = await until("the task", () => got[0]);
      const acked = ch.results([resultItem(t.id, t.leaseId, { output: "2" })], [t.id]);
      assert.equal((await acked)[0]?.status, 200);
      await until("the end line (lifetime = half the request timeout)", () => (ended ? true : undefined), 10_000);
      assert.equal(ch.writable, false);
      await ch.closed;
    } finally {
      await gw.stop();
    }
  });
});
