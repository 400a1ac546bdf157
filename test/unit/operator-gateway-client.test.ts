// The operator's road to the gateway (src/controllers/gateway-client.ts) and the warm-Job invoker
// on top of it, against a real in-process gateway with caller tokens.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { workerToken } from "../../src/auth/worker-token.ts";
import { GatewayClient } from "../../src/controllers/gateway-client.ts";
import { clientWarmInvoker } from "../../src/controllers/job/gateway.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";
import { WorkerApi } from "../../src/runtime/worker-api.ts";

const KEY = "gateway-client-signing-key";

describe("operator gateway client", () => {
  let gw: Gateway;
  let dir: string;
  let tokenFile: string;

  before(async () => {
    gw = await Gateway.start({
      storePath: ":memory:",
      registry: new StaticRegistry([staticFunction({ namespace: "ml", name: "echo" }), staticFunction({ namespace: "ml", name: "pickled", encoding: "pickle" })]),
      auth: { callerTokens: ["first-token", "second-token"], workerSigningKey: KEY },
    });
    dir = mkdtempSync(join(tmpdir(), "hearth-gwc-"));
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "first-token\n");
  });
  after(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pushes a warm Job's task once per idempotency key and reads its state", async () => {
    const gateway = new GatewayClient({ url: gw.url, callerTokenFile: tokenFile });
    const invoker = clientWarmInvoker(gateway);
    const req = { namespace: "ml", function: "echo", idempotencyKey: "uid-1", input: { x: 1 } };
    const first = await invoker.enqueue(req, new AbortController().signal);
    assert.equal(first.state, "task");
    assert.ok(first.state === "task");
    assert.equal(first.task.status, "queued");
    const again = await invoker.enqueue(req, new AbortController().signal);
    assert.ok(again.state === "task");
    assert.equal(again.task.id, first.task.id, "same key, same task");

    const worker = new WorkerApi(gw.url, workerToken(KEY, "ml", "echo"), "ml/echo", "w1");
    const { tasks: [t] } = await worker.lease(1, 5000);
    assert.ok(t !== undefined);
    await worker.complete(t.id, t.leaseId, JSON.stringify({ y: 2 }));
    worker.close();
    const done = await invoker.enqueue(req, new AbortController().signal);
    assert.ok(done.state === "task");
    assert.equal(done.task.status, "succeeded");
    assert.deepEqual(done.task.output, { y: 2 });
    gateway.close();
  });

  it("picks up a rotated token file, and reports a refused or unknown Function as unavailable", async () => {
    const gateway = new GatewayClient({ url: gw.url, callerTokenFile: tokenFile });
    const invoker = clientWarmInvoker(gateway);
    writeFileSync(tokenFile, "second-token\n");
    const ok = await invoker.enqueue({ namespace: "ml", function: "echo", idempotencyKey: "uid-2", input: null }, new AbortController().signal);
    assert.equal(ok.state, "task");
    writeFileSync(tokenFile, "wrong-token\n");
    const refused = await invoker.enqueue({ namespace: "ml", function: "echo", idempotencyKey: "uid-3", input: null }, new AbortController().signal);
    assert.ok(refused.state === "unavailable");
    assert.match(refused.message, /^the gateway refused the task: /);
    writeFileSync(tokenFile, "first-token\n");
    const unknown = await invoker.enqueue({ namespace: "ml", function: "nope", idempotencyKey: "uid-4", input: null }, new AbortController().signal);
    assert.ok(unknown.state === "unavailable");
    assert.match(unknown.message, /^the gateway refused the task: /);
    gateway.close();
  });

  it("sends the Job's own timeoutSeconds and retries with the task", async () => {
    const gateway = new GatewayClient({ url: gw.url, callerTokenFile: tokenFile });
    const invoker = clientWarmInvoker(gateway);
    const retries = { maxRetries: 4, initialBackoffSeconds: 2, maxBackoffSeconds: 30, multiplier: 3 };
    const view = await invoker.enqueue({ namespace: "ml", function: "echo", idempotencyKey: "uid-own", input: 1, timeoutSeconds: 17, retries }, new AbortController().signal);
    assert.ok(view.state === "task");
    const task = gw.engine.get(view.task.id);
    assert.equal(task?.timeoutSeconds, 17);
    assert.deepEqual(task?.retries, retries);
    const worker = new WorkerApi(gw.url, workerToken(KEY, "ml", "echo"), "ml/echo", "w-own");
    const { tasks } = await worker.lease(10, 5000);
    assert.equal(tasks.find((t) => t.id === view.task.id)?.timeoutSeconds, 17, "the lease carries the Job's deadline");
    for (const t of tasks) await worker.complete(t.id, t.leaseId, "0");
    worker.close();
    gateway.close();
  });

  it("reports a 4xx that retrying cannot change as refused (final), not unavailable", async () => {
    const gateway = new GatewayClient({ url: gw.url, callerTokenFile: tokenFile });
    const invoker = clientWarmInvoker(gateway);
    const view = await invoker.enqueue({ namespace: "ml", function: "pickled", idempotencyKey: "uid-json", input: { a: 1 } }, new AbortController().signal);
    assert.ok(view.state === "refused");
    assert.match(view.message, /HTTP 400 BadRequest.*uses encoding pickle/);
    gateway.close();
  });

  it("reports an unreachable gateway as unavailable, never throwing", async () => {
    const invoker = clientWarmInvoker(new GatewayClient({ url: "http://127.0.0.1:1" }));
    const view = await invoker.enqueue({ namespace: "ml", function: "echo", idempotencyKey: "k", input: 1 }, new AbortController().signal);
    assert.ok(view.state === "unavailable");
    assert.match(view.message, /^cannot reach the gateway at http:\/\/127\.0\.0\.1:1/);
  });
});
