// Calls from inside a handler: task-scoped tokens (src/auth/task-token.ts), the gateway's
// verifier and depth limit (src/gateway/calls.ts), and the engine's parent/child bookkeeping.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkTaskToken, mintTaskToken, taskTokenKey } from "../../src/auth/task-token.ts";
import { workerToken } from "../../src/auth/worker-token.ts";
import { CallTokens, parentOf } from "../../src/gateway/calls.ts";
import { HttpError } from "../../src/gateway/http.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";
import { TaskStore } from "../../src/gateway/store.ts";
import { renderTask, TaskEngine } from "../../src/gateway/tasks.ts";
import { FakeClock } from "../../src/kube/clock.ts";

const KEY = "a-signing-key-of-some-length";

describe("task-scoped tokens", () => {
  const key = taskTokenKey(KEY);
  const claims = { taskId: "t-1", namespace: "team-a", depth: 2, exp: 10_000 };

  it("round-trip their claims until they expire", () => {
    const token = mintTaskToken(key, claims);
    assert.deepEqual(checkTaskToken(key, token, 9_999), { ok: true, claims });
    assert.deepEqual(checkTaskToken(key, token, 10_000), { ok: false, reason: "expired" });
  });

  it("refuse a changed payload, another key and other kinds of token", () => {
    const token = mintTaskToken(key, claims);
    const [prefix, payload, mac] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ t: "t-1", n: "team-b", d: 0, e: 10_000 })).toString("base64url");
    assert.equal(checkTaskToken(key, `${prefix}.${forged}.${mac}`, 0).ok, false);
    assert.equal(checkTaskToken(taskTokenKey("another-signing-key-123"), token, 0).ok, false);
    assert.deepEqual(checkTaskToken(key, workerToken(KEY, "team-a", "fn"), 0), { ok: false, reason: "notTaskToken" });
    assert.deepEqual(checkTaskToken(key, `${prefix}.${payload}`, 0), { ok: false, reason: "malformed" });
  });
});

describe("CallTokens", () => {
  it("verifies tokens of unfinished tasks only, with a clear refusal otherwise", () => {
    let status: "running" | "cancelled" = "running";
    const calls = new CallTokens({ signingKey: KEY, now: () => 0, task: (id) => (id === "t-1" ? { status, finishing: undefined, namespace: "ns", depth: 0, lease: undefined } : undefined) });
    const token = calls.mint({ id: "t-1", namespace: "ns", depth: 0 }, 1000);
    assert.deepEqual(calls.verify(token), { taskId: "t-1", namespace: "ns", depth: 0 });
    assert.equal(calls.verify("some-static-token"), undefined);
    status = "cancelled";
    assert.throws(() => calls.verify(token), (err: unknown) => err instanceof HttpError && err.status === 401 && /t-1, which has cancelled/.test(err.message));
    const unknown = calls.mint({ id: "t-2", namespace: "ns", depth: 0 }, 1000);
    assert.throws(() => calls.verify(unknown), /which has expired/);
  });

  it("without a signing key signs with a random key of its own", () => {
    const running = { status: "running" as const, finishing: undefined, namespace: "ns", depth: 0, lease: undefined };
    const a = new CallTokens({ now: () => 0, task: () => running });
    const b = new CallTokens({ now: () => 0, task: () => running });
    const token = a.mint({ id: "t", namespace: "ns", depth: 0 }, 1000);
    assert.notEqual(a.verify(token), undefined);
    assert.equal(b.verify(token), undefined);
  });

  it("a lease-bound token (a warm lease's) is honoured only while that lease is its task's", () => {
    const lease = { leaseId: "l.1", workerId: "w", deadline: 1000, leasedAt: 0, timeoutSeconds: 1 };
    const task = { id: "t-1", status: "running" as "running" | "queued" | "succeeded", finishing: undefined, namespace: "team-a", depth: 2, lease: lease as typeof lease | undefined };
    const calls = new CallTokens({ signingKey: KEY, now: () => 0, task: (id) => (id === "t-1" ? task : undefined) });
    const token = calls.leaseToken(task, lease);
    assert.match(token, /^hct2\.t-1\.[0-9a-f-]{36}$/);
    assert.equal(calls.leaseToken(task, lease), token, "one secret per lease");
    // The namespace and depth are the task's own: nothing in the token can claim others.
    assert.deepEqual(calls.verify(token), { taskId: "t-1", namespace: "team-a", depth: 2 });
    const wrong = `hct2.t-1.${"0".repeat(36)}`;
    assert.throws(() => calls.verify(wrong), (err: unknown) => err instanceof HttpError && err.status === 401 && /not the one of task t-1's current attempt/.test(err.message));
    assert.throws(() => calls.verify("hct2.t-9.x"), /task t-9, which has expired/);
    assert.throws(() => calls.verify("hct2.garbage"), (err: unknown) => err instanceof HttpError && err.status === 401);
    // The attempt ends (its lease is dropped, the task queued again): the old token stops at once.
    task.lease = undefined;
    task.status = "queued";
    assert.throws(() => calls.verify(token), /current attempt/);
    // A new lease gets a new secret; the old token does not work for it.
    const next = { leaseId: "l.2", workerId: "w", deadline: 2000, leasedAt: 1, timeoutSeconds: 1 };
    task.lease = next;
    task.status = "running";
    const token2 = calls.leaseToken(task, next);
    assert.notEqual(token2, token);
    assert.throws(() => calls.verify(token), /current attempt/);
    assert.deepEqual(calls.verify(token2), { taskId: "t-1", namespace: "team-a", depth: 2 });
    task.status = "succeeded";
    assert.throws(() => calls.verify(token2), /t-1, which has succeeded/);
  });

  it("parentOf: a task caller's child is one deeper; past the limit a 400 names the chain", () => {
    assert.equal(parentOf({ kind: "static", user: "s" }, 3, "ns/f"), undefined);
    assert.deepEqual(parentOf({ kind: "task", user: "task:p", namespace: "ns", parentTaskId: "p", depth: 2 }, 3, "ns/f"), { taskId: "p", depth: 3 });
    assert.throws(
      () => parentOf({ kind: "task", user: "task:p", namespace: "ns", parentTaskId: "p", depth: 3 }, 3, "ns/f"),
      (err: unknown) => err instanceof HttpError && err.status === 400 && /call depth limit reached: task p is 3 calls deep and may not call ns\/f/.test(err.message),
    );
  });
});

describe("TaskEngine: parents and children", () => {
  function setup(storePath = ":memory:", told: string[] = []) {
    const clock = new FakeClock();
    const settings = staticFunction({ namespace: "ns", name: "fn", timeoutSeconds: 10 });
    const registry = new StaticRegistry([settings]);
    const store = new TaskStore(storePath);
    const calls = new CallTokens({ signingKey: KEY, now: () => clock.now(), task: (id) => engine.get(id) });
    const engine: TaskEngine = new TaskEngine({ store, registry, clock, mintToken: calls.mint, leaseToken: calls.leaseToken, onChildCancelled: (t) => told.push(t.id) });
    return { clock, settings, store, engine, calls };
  }

  it("a lease carries a token naming the task; the child records its parent and depth", async () => {
    const { engine, settings, calls } = setup();
    const { task: parent } = await engine.submit(settings, "1", "json");
    const [grant] = await engine.lease(settings, "w", 1, 0);
    assert.equal(grant?.id, parent.id);
    const claims = calls.verify(grant?.token ?? "");
    assert.deepEqual(claims, { taskId: parent.id, namespace: "ns", depth: 0 });
    const { task: child } = await engine.submit(settings, "2", "json", { parent: { taskId: parent.id, depth: 1 } });
    const doc = JSON.parse(renderTask(child)) as Record<string, unknown>;
    assert.equal(doc["parent"], parent.id);
    assert.equal(doc["depth"], 1);
    assert.deepEqual(engine.childrenOf(parent.id), [child.id]);
  });

  it("cancelling the parent cancels its unfinished children, and theirs", async () => {
    const told: string[] = [];
    const { engine, settings } = setup(":memory:", told);
    const { task: parent } = await engine.submit(settings, "1", "json");
    const { task: child } = await engine.submit(settings, "2", "json", { parent: { taskId: parent.id, depth: 1 } });
    const { task: grandchild } = await engine.submit(settings, "3", "json", { parent: { taskId: child.id, depth: 2 } });
    const { task: done } = await engine.submit(settings, "4", "json", { parent: { taskId: parent.id, depth: 1 } });
    await engine.cancel(done.id);
    await engine.cancel(parent.id);
    const gc = await engine.waitForTerminal(grandchild.id, 1000);
    assert.equal(engine.get(child.id)?.status, "cancelled");
    assert.match(engine.get(child.id)?.error?.message ?? "", new RegExp(`parent task ${parent.id} was cancelled`));
    assert.equal(gc?.status, "cancelled");
    assert.deepEqual(engine.childrenOf(parent.id), []);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(told.sort(), [child.id, grandchild.id].sort(), "the gateway hears of each (an isolated child's Job is deleted)");
  });

  it("a child accepted after its parent was cancelled is cancelled at once", async () => {
    const { engine, settings } = setup();
    const { task: parent } = await engine.submit(settings, "1", "json");
    await engine.cancel(parent.id);
    const { task: child } = await engine.submit(settings, "2", "json", { parent: { taskId: parent.id, depth: 1 } });
    assert.equal((await engine.waitForTerminal(child.id, 1000))?.status, "cancelled");
  });

  it("parent, depth and cached survive a restart; children are still cancelled with their parent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hearth-calls-"));
    try {
      const path = join(dir, "store.db");
      const a = setup(path);
      const { task: parent } = await a.engine.submit(a.settings, "1", "json");
      const { task: child } = await a.engine.submit(a.settings, "2", "json", { parent: { taskId: parent.id, depth: 1 } });
      const cachedTask = a.engine.submitCached(a.settings, "3", "json", "42");
      await a.engine.waitForTerminal(cachedTask.id, 1000);
      await a.store.close();
      const b = setup(path);
      assert.equal(b.engine.recover(), 2);
      assert.equal(b.engine.get(child.id)?.parentId, parent.id);
      assert.equal(b.engine.get(child.id)?.depth, 1);
      assert.equal((JSON.parse(renderTask(b.engine.get(cachedTask.id) ?? child)) as Record<string, unknown>)["cached"], true);
      await b.engine.cancel(parent.id);
      assert.equal((await b.engine.waitForTerminal(child.id, 1000))?.status, "cancelled");
      await b.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
