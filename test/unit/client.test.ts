// The TypeScript SDK against an in-process gateway, with the runtime's worker-API client playing
// the worker.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { workerToken } from "../../src/auth/worker-token.ts";
import { createClient, HearthError, type HearthClient } from "../../src/client/index.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";
import type { LeasedTask } from "../../src/protocol/index.ts";
import { WorkerApi } from "../../src/runtime/worker-api.ts";

const KEY = "client-test-signing-key";

describe("client SDK", () => {
  let gw: Gateway;
  let client: HearthClient;
  let worker: WorkerApi;

  before(async () => {
    gw = await Gateway.start({
      storePath: ":memory:",
      registry: new StaticRegistry([staticFunction({ namespace: "ml", name: "echo" })]),
      auth: { callerTokens: ["t0k"], workerSigningKey: KEY },
      // A short cap on server-side waits makes run()/result() go through their polling loops.
      limits: { maxWaitMs: 150 },
    });
    client = createClient({ url: gw.url, token: "t0k" });
    worker = new WorkerApi(gw.url, workerToken(KEY, "ml", "echo"), "ml/echo", "w1");
  });
  after(async () => {
    client.close();
    worker.close();
    await gw.stop();
  });

  async function leaseOne(): Promise<LeasedTask> {
    const { tasks: [t] } = await worker.lease(1, 5000);
    assert.ok(t !== undefined, "a task");
    return t;
  }

  it("run() returns the output, waiting past the gateway's wait cap", async () => {
    const result = client.function("ml/echo").run({ n: 2 });
    const t = await leaseOne();
    await new Promise((r) => setTimeout(r, 400));
    await worker.complete(t.id, t.leaseId, JSON.stringify({ doubled: 4 }));
    assert.deepEqual(await result, { doubled: 4 });
  });

  it("a failed task throws HearthError with its class, exit code, attempt and task id", async () => {
    const result = client.function("ml/echo").run(1);
    const t = await leaseOne();
    // The caller hears of the failure once it is durable, possibly before the worker's answer.
    const rejected = assert.rejects(result, (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.type, "UserError");
      assert.equal(err.exitCode, 1);
      assert.equal(err.status, 500);
      assert.equal(err.attempt, 1);
      assert.equal(err.taskId, t.id);
      assert.equal(err.message, "ValueError: nope");
      return true;
    });
    await worker.fail(t.id, t.leaseId, "UserError", 1, "ValueError: nope");
    await rejected;
  });

  it("run({timeoutMs}) gives up with Timeout and the task id, leaving the task queued", async () => {
    await assert.rejects(client.function("ml/echo").run(1, { timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.type, "Timeout");
      assert.equal(err.exitCode, 124);
      assert.ok(err.taskId !== undefined);
      return true;
    });
    const t = await leaseOne();
    await worker.complete(t.id, t.leaseId, "0");
  });

  it("push() returns a future: status(), progress() as an async iterator, result()", async () => {
    const task = await client.function("ml/echo").push("in");
    assert.equal((await task.status()).status, "queued");
    const seen: unknown[] = [];
    const consumed = (async () => {
      for await (const p of task.progress()) seen.push(p);
    })();
    const t = await leaseOne();
    assert.equal(t.input, "in");
    await new Promise((r) => setTimeout(r, 50));
    await worker.progress(t.id, t.leaseId, 0.3, "loading");
    await worker.progress(t.id, t.leaseId, 0.9, undefined);
    await worker.complete(t.id, t.leaseId, '"out"');
    await consumed;
    assert.deepEqual(seen, [{ value: 0.3, message: "loading" }, { value: 0.9 }]);
    assert.equal(await task.result(), "out");
    const doc = await task.status();
    assert.equal(doc.status, "succeeded");
    assert.equal(doc.output, "out");
  });

  it("cancel() ends a queued task; result() then throws Cancelled", async () => {
    const task = await client.function("ml/echo").push(null);
    assert.equal((await task.cancel()).status, "cancelled");
    await assert.rejects(task.result(), (err: unknown) => err instanceof HearthError && err.type === "Cancelled" && err.exitCode === undefined);
  });

  it("reports request errors as HearthError too", async () => {
    await assert.rejects(client.function("ml/missing").run(1), (err: unknown) => err instanceof HearthError && err.type === "NotFound" && err.status === 404);
    await assert.rejects(client.task("nope").status(), (err: unknown) => err instanceof HearthError && err.type === "NotFound");
    const anonymous = createClient({ url: gw.url, token: "" });
    await assert.rejects(anonymous.function("ml/echo").push(1), (err: unknown) => err instanceof HearthError && err.type === "Unauthorized" && err.status === 401);
    anonymous.close();
    assert.throws(() => client.function("no-slash"), (err: unknown) => err instanceof HearthError && err.type === "BadRequest");
  });

  it("says when the gateway cannot be reached", async () => {
    const nowhere = createClient({ url: "http://127.0.0.1:9" });
    await assert.rejects(nowhere.function("ml/echo").run(1), (err: unknown) => err instanceof HearthError && err.type === "Unavailable" && err.status === 0);
    nowhere.close();
  });
});
