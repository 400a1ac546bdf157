// The gateway's HTTP API on loopback, in-process: a real Gateway (in-memory store) and the
// runtime's real worker-API client standing in for a worker process.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { workerToken } from "../../src/auth/worker-token.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";
import { WorkerApi, WorkerApiError } from "../../src/runtime/worker-api.ts";

const KEY = "signing-key-0123456789";
const CALLER = "caller-secret";

describe("gateway HTTP API", () => {
  let gw: Gateway;
  let url: string;
  const registry = new StaticRegistry([
    staticFunction({ namespace: "default", name: "echo", timeoutSeconds: 30 }),
    staticFunction({ namespace: "default", name: "other" }),
    staticFunction({ namespace: "default", name: "pickled", encoding: "pickle" }),
    staticFunction({ namespace: "default", name: "batch", invocation: "isolated" }),
  ]);

  before(async () => {
    gw = await Gateway.start({
      storePath: ":memory:",
      registry,
      auth: { callerTokens: [CALLER], workerSigningKey: KEY },
      limits: { maxInputBytes: 1024, maxOutputBytes: 1024, maxWaitMs: 2000 },
      engine: { maxQueue: 50 },
    });
    url = gw.url;
  });
  after(async () => gw.stop());

  it("answers 503 with Retry-After, not 404, until its Function registry is loaded", async () => {
    let release = (): void => {};
    const loaded = new Promise<void>((r) => (release = r));
    const slow = new StaticRegistry([staticFunction({ namespace: "default", name: "echo" })]);
    slow.start = () => loaded;
    let listening = (_url: string): void => {};
    const urlP = new Promise<string>((r) => (listening = r));
    const starting = Gateway.start({ storePath: ":memory:", registry: slow, auth: { callerTokens: [CALLER] }, onListen: listening });
    const early = await urlP;
    const res = await fetch(`${early}/v1/namespaces/default/functions/echo:push`, { method: "POST", body: "1", headers: auth });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.match((await errorOf(res)).message, /registry is not loaded/);
    assert.equal((await fetch(`${early}/readyz`)).status, 503);
    release();
    const g = await starting;
    assert.equal((await fetch(`${early}/v1/namespaces/default/functions/echo:push`, { method: "POST", body: "1", headers: auth })).status, 202);
    await g.stop();
  });

  const auth = { authorization: `Bearer ${CALLER}` };
  const call = (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${url}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
  const worker = (fn = "default/echo", token = workerToken(KEY, "default", fn.split("/")[1] ?? "")): WorkerApi => new WorkerApi(url, token, fn, `w-${Math.random()}`);
  const errorOf = async (res: Response): Promise<{ type: string; message: string; taskId?: string; attempt?: number }> => ((await res.json()) as { error: { type: string; message: string } }).error;

  it("requires the caller token on the caller API", async () => {
    const res = await fetch(`${url}/v1/namespaces/default/functions/echo:push`, { method: "POST", body: "1" });
    assert.equal(res.status, 401);
    assert.equal((await errorOf(res)).type, "Unauthorized");
    const wrong = await fetch(`${url}/v1/namespaces/default/functions/echo:push`, { method: "POST", body: "1", headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
  });

  it("binds worker tokens to their function", async () => {
    await assert.rejects(worker("default/echo", "bad").lease(1, 0), (e: unknown) => e instanceof WorkerApiError && e.status === 401);
    await assert.rejects(worker("default/echo", workerToken(KEY, "default", "other")).lease(1, 0), (e: unknown) => e instanceof WorkerApiError && e.status === 401);
    assert.deepEqual((await worker().lease(1, 0)).tasks, []);
    // A caller token is not a worker token.
    await assert.rejects(worker("default/echo", CALLER).heartbeat({ busy: 0, ready: true, state: "ready", tasks: [] }), (e: unknown) => e instanceof WorkerApiError && e.status === 401);
  });

  it("answers honest errors: 404, 400, 413, 409, 429", async () => {
    assert.equal((await call("/v1/namespaces/default/functions/nope:run", { method: "POST", body: "1" })).status, 404);
    assert.equal((await call("/v1/nothing")).status, 404);
    assert.equal((await call("/v1/tasks/nope")).status, 404);
    assert.equal((await call("/v1/tasks/%E0%A4%A")).status, 400);
    // A route that exists for another method: 405 with the methods it has.
    const wrongMethod = await call("/v1/workers/lease");
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    assert.equal((await errorOf(wrongMethod)).type, "MethodNotAllowed");
    assert.equal((await call("/v1/tasks/nope", { method: "PUT" })).headers.get("allow"), "GET, DELETE");
    const bad = await call("/v1/namespaces/default/functions/echo:push", { method: "POST", body: "{nope" });
    assert.equal(bad.status, 400);
    assert.match((await errorOf(bad)).message, /not valid JSON/);
    const big = await call("/v1/namespaces/default/functions/echo:push", { method: "POST", body: JSON.stringify("x".repeat(2000)) });
    assert.equal(big.status, 413);
    assert.equal((await errorOf(big)).type, "TooLarge");
    const isolated = await call("/v1/namespaces/default/functions/batch:run", { method: "POST", body: "1" });
    assert.equal(isolated.status, 409);
    assert.equal((await errorOf(isolated)).type, "NotReady");
    const badWait = await call("/v1/namespaces/default/functions/echo:run?timeout=soon", { method: "POST", body: "1" });
    assert.equal(badWait.status, 400);
    for (let i = 0; i < 50; i++) assert.equal((await call("/v1/namespaces/default/functions/other:push", { method: "POST", body: "1" })).status, 202);
    const full = await call("/v1/namespaces/default/functions/other:push", { method: "POST", body: "1" });
    assert.equal(full.status, 429);
    assert.equal((await errorOf(full)).type, "QueueFull");
    assert.deepEqual(await (await call("/v1/namespaces/default/functions/other/tasks", { method: "DELETE" })).json(), { cancelled: 50 });
  });

  it("push answers 202 with an id, 200 with the same id for a repeated Idempotency-Key", async () => {
    const headers = { "idempotency-key": "abc" };
    const first = await call("/v1/namespaces/default/functions/echo:push", { method: "POST", body: "1", headers });
    assert.equal(first.status, 202);
    const { id } = (await first.json()) as { id: string };
    assert.equal(first.headers.get("hearth-task-id"), id);
    const again = await call("/v1/namespaces/default/functions/echo:push", { method: "POST", body: "1", headers });
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { id: string }).id, id);
    const w = worker();
    const { tasks: [t] } = await w.lease(1, 0);
    assert.equal(t?.id, id);
    await w.complete(id, t.leaseId, "2");
  });

  it("Idempotency-Key: another input is 409, an over-long or empty key is 400", async () => {
    const push = (body: string, key: string): Promise<Response> => call("/v1/namespaces/default/functions/echo:push", { method: "POST", body, headers: { "idempotency-key": key } });
    assert.equal((await push("1", "conflict-key")).status, 202);
    const conflict = await push("2", "conflict-key");
    assert.equal(conflict.status, 409);
    assert.match((await errorOf(conflict)).message, /different input/);
    const long = await push("1", "k".repeat(257));
    assert.equal(long.status, 400);
    assert.match((await errorOf(long)).message, /limit is 256/);
    assert.equal((await push("1", "k".repeat(256))).status, 202);
    assert.deepEqual(await (await call("/v1/namespaces/default/functions/echo/tasks", { method: "DELETE" })).json(), { cancelled: 2 });
  });

  it("per-task timeoutSeconds and retries ride on the push as query parameters; bad ones are 400", async () => {
    const bad = await call("/v1/namespaces/default/functions/echo:push?timeoutSeconds=0", { method: "POST", body: "1" });
    assert.equal(bad.status, 400);
    assert.match((await errorOf(bad)).message, /timeoutSeconds must be an integer from 1/);
    assert.equal((await call("/v1/namespaces/default/functions/echo:push?maxRetries=x", { method: "POST", body: "1" })).status, 400);
    const res = await call("/v1/namespaces/default/functions/echo:push?timeoutSeconds=7&maxRetries=2", { method: "POST", body: "1" });
    assert.equal(res.status, 202);
    const { tasks: [t] } = await worker().lease(1, 0);
    assert.equal(t?.timeoutSeconds, 7);
    assert.equal(gw.engine.get(t.id)?.retries?.maxRetries, 2);
    await worker().fail(t.id, t.leaseId, "UserError", 1, "x").catch(() => undefined);
    await call(`/v1/tasks/${t.id}`, { method: "DELETE" });
  });

  it("run waits for the result; past ?timeout it answers 504 with the task id and the task goes on", async () => {
    const w = worker();
    const pending = call("/v1/namespaces/default/functions/echo:run?timeout=100ms", { method: "POST", body: '{"q":1}' });
    const res = await pending;
    assert.equal(res.status, 504);
    const err = await errorOf(res);
    assert.equal(err.type, "Timeout");
    assert.equal(err.attempt, undefined);
    assert.ok(err.taskId !== undefined);
    const { tasks: [t] } = await w.lease(5, 1000);
    assert.equal(t?.id, err.taskId);
    assert.deepEqual(t.input, { q: 1 });
    await w.progress(t.id, t.leaseId, 0.5, "half");
    const running = (await (await call(`/v1/tasks/${t.id}`)).json()) as { status: string; progress: unknown };
    assert.equal(running.status, "running");
    assert.deepEqual(running.progress, { value: 0.5, message: "half" });
    const waited = call(`/v1/tasks/${t.id}?wait=2s`);
    await w.complete(t.id, t.leaseId, '{"a":1}');
    const doc = (await (await waited).json()) as { status: string; output: unknown };
    assert.equal(doc.status, "succeeded");
    assert.deepEqual(doc.output, { a: 1 });
    await assert.rejects(w.complete(t.id, t.leaseId, "3"), (e: unknown) => e instanceof WorkerApiError && e.status === 409);
  });

  it("a failed task answers :run with its class's status and attempt", async () => {
    const w = worker();
    const pending = call("/v1/namespaces/default/functions/echo:run", { method: "POST", body: "1" });
    const { tasks: [t] } = await w.lease(1, 2000);
    assert.ok(t !== undefined);
    await w.fail(t.id, t.leaseId, "InputRejected", 65, "x must be positive");
    const res = await pending;
    assert.equal(res.status, 400);
    assert.deepEqual(await errorOf(res), { type: "InputRejected", message: "x must be positive", attempt: 1, taskId: t.id });
  });

  it("an oversized output fails the task as BadConfiguration (413 to the worker)", async () => {
    const w = worker();
    const pending = call("/v1/namespaces/default/functions/echo:run", { method: "POST", body: "1" });
    const { tasks: [t] } = await w.lease(1, 2000);
    assert.ok(t !== undefined);
    await assert.rejects(w.complete(t.id, t.leaseId, JSON.stringify("y".repeat(8000))), (e: unknown) => e instanceof WorkerApiError && e.status === 413);
    const res = await pending;
    assert.equal(res.status, 500);
    assert.equal((await errorOf(res)).type, "BadConfiguration");
  });

  it("a worker may give a task back (Disrupted): it runs again without counting an attempt", async () => {
    const w = worker();
    const push = (await (await call("/v1/namespaces/default/functions/echo:push", { method: "POST", body: "1" })).json()) as { id: string };
    const { tasks: [t] } = await w.lease(1, 0);
    assert.equal(t?.id, push.id);
    await w.fail(t.id, t.leaseId, "Disrupted", undefined, "shutting down");
    const { tasks: [again] } = await w.lease(1, 0);
    assert.equal(again?.id, push.id);
    assert.equal(again.attempt, 1);
    await w.complete(again.id, again.leaseId, "1");
  });

  it("speaks pickle as raw bytes for pickle functions and refuses JSON there", async () => {
    const bytes = Buffer.from([0x80, 0x04, 0x4b, 0x07, 0x2e]);
    const json = await call("/v1/namespaces/default/functions/pickled:run", { method: "POST", body: "1" });
    assert.equal(json.status, 400);
    const pending = call("/v1/namespaces/default/functions/pickled:run", { method: "POST", body: bytes, headers: { "content-type": "application/x-python-pickle" } });
    const w = worker("default/pickled");
    const res = await fetch(`${url}/v1/workers/lease`, {
      method: "POST",
      headers: { authorization: `Bearer ${workerToken(KEY, "default", "pickled")}`, "content-type": "application/json" },
      body: JSON.stringify({ function: "default/pickled", workerId: "p1", max: 1, waitMs: 2000 }),
    });
    const { tasks } = (await res.json()) as { tasks: { id: string; leaseId: string; inputB64: string; encoding: string }[] };
    const t = tasks[0];
    assert.ok(t !== undefined);
    assert.equal(t.encoding, "pickle");
    assert.deepEqual(Buffer.from(t.inputB64, "base64"), bytes);
    const done = await fetch(`${url}/v1/tasks/${t.id}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${workerToken(KEY, "default", "pickled")}` },
      body: JSON.stringify({ leaseId: t.leaseId, outputB64: Buffer.from("out").toString("base64") }),
    });
    assert.equal(done.status, 200);
    const out = await pending;
    assert.equal(out.headers.get("content-type"), "application/x-python-pickle");
    assert.equal(Buffer.from(await out.arrayBuffer()).toString(), "out");
    w.close();
  });

  it("validates worker requests", async () => {
    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${workerToken(KEY, "default", "echo")}` }, body: JSON.stringify(body) });
    assert.equal((await post("/v1/workers/lease", { function: "default/echo" })).status, 400);
    assert.equal((await post("/v1/workers/lease", { function: "echo", workerId: "w" })).status, 400);
    assert.equal((await post("/v1/workers/lease", { function: "default/echo", workerId: "w", max: 0 })).status, 400);
    assert.equal((await post("/v1/workers/heartbeat", { function: "default/echo", workerId: "w", state: "dancing" })).status, 400);
    assert.equal((await post("/v1/tasks/nope/complete", { leaseId: "x", output: 1 })).status, 404);
  });

  it("serves health, readiness and per-function metrics", async () => {
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /hearth_gateway_queue_depth\{namespace="default",function="echo"\} \d+/);
    assert.match(text, /hearth_gateway_tasks_total\{namespace="default",function="echo",outcome="succeeded"\} \d+/);
    assert.match(text, /hearth_gateway_tasks_total\{namespace="default",function="echo",outcome="InputRejected"\} 1/);
    assert.match(text, /hearth_gateway_task_seconds_bucket/);
    assert.match(text, /hearth_gateway_warm_workers\{namespace="default",function="echo"\} \d+/);
  });
});
