// Calls from inside a handler (docs/workflows.md, "Calls from inside a handler") on a real
// gateway with authentication on, and real Node and Python worker processes: `ctx.function(…)`
// with the task-scoped token of the lease, the parent recorded on the child, the caller's own
// namespace only, the depth limit, and cancellation of the parent reaching its children.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { workerToken } from "../../src/auth/worker-token.ts";
import { createClient, HearthError, type HearthClient } from "../../src/client/index.ts";
import type { TaskDocument } from "../../src/protocol/index.ts";
import { startGateway, startPythonWorker, startWorker, tempDir, until, type TestGateway, type WorkerProcess } from "./harness.ts";

const KEY = "handler-calls-signing-key";
const TOKEN = "handler-calls-caller-token";
const MAX_DEPTH = 3;

const dir = tempDir("calls");
const record = join(dir.path, "record.txt");
let gw: TestGateway;
let client: HearthClient;
const workers: WorkerProcess[] = [];

function recorded(what: string): Record<string, unknown>[] {
  let text = "";
  try {
    text = readFileSync(record, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${what} `))
    .map((l) => JSON.parse(l.slice(what.length + 1)) as Record<string, unknown>);
}

async function doc(id: string): Promise<TaskDocument> {
  return (await client.getJson(`/v1/tasks/${encodeURIComponent(id)}`)) as TaskDocument;
}

async function failure(p: Promise<unknown>): Promise<HearthError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HearthError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

before(async () => {
  writeFileSync(record, "");
  gw = await startGateway([{ name: "node-calls" }, { name: "py-calls" }, { name: "elsewhere", namespace: "other" }, { name: "manual" }], {
    auth: { callerTokens: [TOKEN], workerSigningKey: KEY },
    maxCallDepth: MAX_DEPTH,
  });
  client = createClient({ url: gw.gateway.url, token: TOKEN });
  const env = (fn: string): Record<string, string> => ({ HEARTH_WORKER_TOKEN: workerToken(KEY, "default", fn), HEARTH_CONCURRENCY: "16", HEARTH_E2E_RECORD: record });
  workers.push(startWorker({ gatewayUrl: gw.gateway.url, fn: "default/node-calls", handler: "calls:main", env: env("node-calls") }));
  workers.push(startPythonWorker({ gatewayUrl: gw.gateway.url, fn: "default/py-calls", handler: "calls_py:main", env: env("py-calls") }));
  for (const fn of ["node-calls", "py-calls"]) {
    await until(() => gw.gateway.engine.stats("default", fn).warmWorkers > 0 || undefined, `${fn}'s worker`, 60_000);
  }
});

after(async () => {
  client.close();
  await Promise.all(workers.map((w) => w.stop()));
  await gw.stop();
  dir.remove();
});

for (const [runtime, self, other] of [
  ["node", "node-calls", "py-calls"],
  ["python", "py-calls", "node-calls"],
] as const) {
  describe(`ctx.function in the ${runtime} runtime`, () => {
    it("calls another Function with the task's token; the child records its parent and depth", async () => {
      const handle = await client.function(`default/${self}`).push({ op: "call", target: `default/${other}`, payload: { op: "echo", value: [1, "two"] } });
      const out = (await handle.result({ timeoutMs: 60_000 })) as { self: string; name: string; task: string; got: { echo: unknown; task: string } };
      assert.equal(out.self, `default/${self}`);
      assert.equal(out.name, `default/${self}`);
      assert.equal(out.task, handle.id);
      assert.deepEqual(out.got.echo, [1, "two"]);
      const child = await doc(out.got.task);
      assert.equal(child.parent, handle.id);
      assert.equal(child.depth, 1);
      assert.equal((await doc(handle.id)).parent, undefined);
    });

    it("a bare name calls in the caller's own namespace; another namespace is refused", async () => {
      const out = (await client.function(`default/${self}`).run({ op: "call", target: other, payload: { op: "echo", value: "x" } }, { timeoutMs: 60_000 })) as { got: { echo: unknown } };
      assert.equal(out.got.echo, "x");
      const err = await failure(client.function(`default/${self}`).run({ op: "call", target: "other/elsewhere", payload: null }, { timeoutMs: 60_000 }));
      assert.equal(err.type, "UserError");
      assert.match(err.message, /may not invoke functions\/elsewhere in namespace other \(a task's token may call only in its own namespace\)/);
    });

    it("a handler calling itself is stopped at the depth limit with a clear error", async () => {
      const before = recorded("recurse").length;
      const err = await failure(client.function(`default/${self}`).run({ op: "recurse", n: 0 }, { timeoutMs: 90_000 }));
      assert.match(err.message, new RegExp(`call depth limit reached: task \\S+ is ${MAX_DEPTH} calls deep and may not call default/${self} \\(the gateway's limit is ${MAX_DEPTH}`));
      const runs = recorded("recurse").slice(before);
      assert.deepEqual(runs.map((r) => r["n"]).sort(), [0, 1, 2, 3]);
      const deepest = runs.find((r) => r["n"] === MAX_DEPTH);
      assert.equal((await doc(String(deepest?.["task"]))).depth, MAX_DEPTH);
    });

    it("cancelling the parent cancels the child it started", async () => {
      const parent = await client.function(`default/${self}`).push({ op: "parent", target: other, payload: { op: "sleep", ms: 120_000 } });
      const link = await until(() => recorded("child").find((r) => r["parent"] === parent.id), "the parent's child", 60_000);
      const childId = String(link["child"]);
      await until(async () => (await doc(childId)).status === "running" || undefined, "the child running", 60_000);
      await parent.cancel();
      const child = await until(async () => {
        const d = await doc(childId);
        return d.status === "cancelled" ? d : undefined;
      }, "the child cancelled", 30_000);
      assert.equal(child.parent, parent.id);
      assert.match(child.error?.message ?? "", new RegExp(`its parent task ${parent.id} was cancelled`));
      assert.equal((await doc(parent.id)).status, "cancelled");
    });
  });
}

describe("task-scoped tokens", () => {
  it("come with the lease, call as the task while it runs, and stop working when it ends", async () => {
    const manual = await client.function("default/manual").push({ n: 1 });
    const post = (path: string, body: unknown, token: string): Promise<Response> =>
      fetch(`${gw.gateway.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const lease = (await (await post("/v1/workers/lease", { function: "default/manual", workerId: "by-hand", max: 1, waitMs: 5000 }, workerToken(KEY, "default", "manual"))).json()) as { tasks: { id: string; leaseId: string; token?: string }[] };
    const grant = lease.tasks[0];
    assert.equal(grant?.id, manual.id);
    const token = grant.token ?? "";
    assert.match(token, /^hct2\./, "a warm lease carries a lease-bound token");
    const asTask = createClient({ url: gw.gateway.url, token });
    try {
      const pushed = await asTask.function("default/node-calls").push({ op: "echo", value: 2 });
      assert.equal((await doc(pushed.id)).parent, manual.id);
      // The worker API does not take it.
      assert.equal((await post("/v1/workers/lease", { function: "default/manual", workerId: "x", max: 1, waitMs: 0 }, token)).status, 401);
      assert.equal((await post(`/v1/tasks/${manual.id}/complete`, { leaseId: grant.leaseId, output: 7 }, workerToken(KEY, "default", "manual"))).status, 200);
      const err = await failure(asTask.function("default/node-calls").push({ op: "echo", value: 3 }));
      assert.equal(err.status, 401);
      assert.match(err.message, new RegExp(`belongs to task ${manual.id}, which has succeeded`));
    } finally {
      asTask.close();
    }
  });
});
