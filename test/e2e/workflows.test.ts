// Workflows on a real gateway with real Node worker processes: one test per rule of
// docs/workflows.md, plus kill -9 of the gateway mid-fan-out.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { workflowSpec } from "../../src/api/v1alpha1/workflow.ts";
import { createClient, HearthError, type RunHandle } from "../../src/client/index.ts";
import { compile, StaticWorkflowRegistry } from "../../src/gateway/workflows/registry.ts";
import { freePort, MAIN, startGateway, startGatewayProcess, startWorker, tempDir, until, type TestGateway, type WorkerProcess } from "./harness.ts";

const HANDLERS: Record<string, { handler: string; concurrency?: number }> = {
  split: { handler: "wf:split" },
  embed: { handler: "wf:embed", concurrency: 8 },
  add: { handler: "wf:add" },
  router: { handler: "wf:router" },
  shout: { handler: "wf:shout" },
};

const WORKFLOWS: Record<string, unknown> = {
  linear: {
    start: "a",
    steps: [
      { name: "a", functionRef: { name: "shout" }, next: ["b"] },
      { name: "b", functionRef: { name: "shout" }, next: ["c"] },
      { name: "c", functionRef: { name: "embed" } },
    ],
  },
  sum: {
    start: "split",
    steps: [
      { name: "split", functionRef: { name: "split" }, map: true, next: ["embed"] },
      { name: "embed", functionRef: { name: "embed" }, next: ["total"] },
      { name: "total", functionRef: { name: "add" }, accumulate: { initial: 0 } },
    ],
  },
  collect: {
    start: "split",
    steps: [
      { name: "split", functionRef: { name: "split" }, map: true, next: ["embed"] },
      { name: "embed", functionRef: { name: "embed" }, next: ["all"] },
      { name: "all", functionRef: { name: "add" }, accumulate: { initial: [] } },
    ],
  },
  route: {
    start: "pick",
    steps: [
      { name: "pick", functionRef: { name: "router" }, routes: ["loud", "count"] },
      { name: "loud", functionRef: { name: "shout" } },
      { name: "count", functionRef: { name: "embed" } },
    ],
  },
  quick: {
    start: "split",
    timeoutSeconds: 300,
    steps: [
      { name: "split", functionRef: { name: "split" }, map: true, next: ["embed"] },
      { name: "embed", functionRef: { name: "embed" }, timeoutSeconds: 1 },
    ],
  },
  loop: {
    start: "a",
    steps: [
      { name: "a", functionRef: { name: "shout" }, next: ["b"] },
      { name: "b", functionRef: { name: "shout" }, next: ["a"] },
    ],
  },
};

function registry(): StaticWorkflowRegistry {
  return new StaticWorkflowRegistry(Object.entries(WORKFLOWS).map(([name, spec]) => compile("default", name, workflowSpec.parse(spec))));
}

function records(file: string, what: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith(`${what} `))
    .map((l) => l.slice(what.length + 1, l.lastIndexOf(" ")));
}

describe("workflows on real workers", () => {
  let gw: TestGateway;
  let workers: WorkerProcess[] = [];
  const dir = tempDir("wf");
  const record = join(dir.path, "record.txt");

  before(async () => {
    writeFileSync(record, "");
    gw = await startGateway(
      Object.keys(HANDLERS).map((name) => ({ name })),
      { workflows: registry() },
    );
    workers = Object.entries(HANDLERS).map(([name, h]) =>
      startWorker({ gatewayUrl: gw.gateway.url, fn: `default/${name}`, handler: h.handler, env: { HEARTH_E2E_RECORD: record, HEARTH_CONCURRENCY: String(h.concurrency ?? 1) } }),
    );
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await gw.stop();
    dir.remove();
  });

  it("start and next: the request body goes to start, each output to the next step", async () => {
    const wf = gw.client.workflow("default/linear");
    assert.equal(await wf.run("hello"), 5);
    const run = await wf.push("abc");
    assert.equal(await run.result(), 3);
    const a = await run.step("a");
    assert.deepEqual(
      a.map((i) => [i.path, i.status, i.output]),
      [[[], "succeeded", "ABC"]],
    );
    const doc = (await run.status()) as unknown as { kind: string; workflow: { name: string }; steps: Record<string, { succeeded?: number }> };
    assert.equal(doc.kind, "workflow");
    assert.equal(doc.workflow.name, "linear");
    assert.deepEqual(Object.fromEntries(Object.entries(doc.steps).map(([k, v]) => [k, v.succeeded])), { a: 1, b: 1, c: 1 });
  });

  it("map and accumulate: every item travels alone; the reducer sums them", async () => {
    const run = await gw.client.workflow("default/sum").push("a bb ccc dddd");
    assert.equal(await run.result(), 10);
    const embeds = await run.step("embed");
    assert.deepEqual(
      embeds.map((i) => [i.path, i.output]),
      [
        [[0], 1],
        [[1], 2],
        [[2], 3],
        [[3], 4],
      ],
    );
    // Paginated: two at a time, with a cursor.
    const page = await run.stepPage("embed", { limit: 2 });
    assert.equal(page.items.length, 2);
    assert.ok(page.next !== undefined);
    const rest = await run.stepPage("embed", { limit: 2, after: page.next });
    assert.deepEqual(
      rest.items.map((i) => i.path),
      [[2], [3]],
    );
    assert.equal(rest.next, undefined);
  });

  it("accumulate reduces in item order while items finish out of order", async () => {
    // late words finish in reverse order of their position (shorter = slower).
    const words = ["late1", "late12", "late123", "late1234", "late12345", "late123456"];
    const before = records(record, "add").length;
    const out = await gw.client.workflow("default/collect").run(words.join(" "));
    assert.deepEqual(out, [5, 6, 7, 8, 9, 10]);
    const items = records(record, "add")
      .slice(before)
      .map((l) => (JSON.parse(l) as [unknown, number])[1]);
    assert.deepEqual(items, [5, 6, 7, 8, 9, 10], "the reducer saw items in item order, once each");
  });

  it("settled items are folded by the reducer's worker in one task, still once each in item order", async () => {
    // The first item pauses 400 ms: every other item settles meanwhile, then one task folds them.
    const words = ["pause", ...Array.from({ length: 30 }, (_, i) => "w".repeat((i % 5) + 1))];
    const before = records(record, "add").length;
    const run = await gw.client.workflow("default/sum").push(words.join(" "));
    assert.equal(await run.result(), words.reduce((s, w) => s + w.length, 0));
    const seen = records(record, "add")
      .slice(before)
      .map((l) => JSON.parse(l) as [number, number]);
    assert.deepEqual(
      seen.map(([, item]) => item),
      words.map((w) => w.length),
      "the reducer saw every item once, in item order",
    );
    let acc = 0;
    for (const [a, item] of seen) {
      assert.equal(a, acc, "each call got the accumulator of the calls before");
      acc += item;
    }
    const reductions = await run.step("total");
    assert.ok(reductions.length < words.length, `${reductions.length} reducer tasks for ${words.length} items: settled items were folded`);
    assert.ok(reductions.every((r) => r.status === "succeeded"));
  });

  it("an empty fan-out reduces to initial", async () => {
    assert.equal(await gw.client.workflow("default/sum").run(""), 0);
    assert.deepEqual(await gw.client.workflow("default/collect").run(" "), []);
  });

  it("routes: the chosen steps get the router's input; one value is the output, several are keyed by step", async () => {
    const wf = gw.client.workflow("default/route");
    assert.equal(await wf.run({ route: "loud", text: "hi" }), "HI");
    assert.deepEqual(await wf.run({ route: ["loud", "count"], text: "hey" }), { loud: ["HEY"], count: [3] });
    assert.deepEqual(await wf.run({ route: [], text: "x" }), {});
  });

  it("a router choosing a name outside its routes, or garbage, fails the run naming the router", async () => {
    const wf = gw.client.workflow("default/route");
    await assert.rejects(wf.run({ route: "nope", text: "x" }), (err: unknown) => err instanceof HearthError && /router "pick" chose "nope", not one of its routes \(loud, count\)/.test(err.message));
    await assert.rejects(wf.run({ route: 42, text: "x" }), (err: unknown) => err instanceof HearthError && /router "pick" must return a route name or a list of route names/.test(err.message));
  });

  it("a map step returning a non-list fails the run naming the step", async () => {
    await assert.rejects(gw.client.workflow("default/sum").run({ x: 1 }), (err: unknown) => err instanceof HearthError && err.type === "UserError" && /step "split" has map: true but returned an object, not a list/.test(err.message));
  });

  it("a reducer raising fails the run naming the reducer, the item and the attempt", async () => {
    await assert.rejects(gw.client.workflow("default/sum").run("a abcdefghijklm"), (err: unknown) => err instanceof HearthError && /reducer "total" on item 1 failed on attempt 1: UserError: .*13 is unlucky/.test(err.message));
  });

  it("a failing step fails the run naming the step and the item", async () => {
    await assert.rejects(gw.client.workflow("default/sum").run("ok failing"), (err: unknown) => err instanceof HearthError && /step "embed" item \[1\] failed on attempt 1: UserError: .*cannot embed failing/.test(err.message));
  });

  it("a step's own timeoutSeconds wins over the workflow's and the Function's", async () => {
    const started = Date.now();
    await assert.rejects(gw.client.workflow("default/quick").run("slowpoke"), (err: unknown) => err instanceof HearthError && err.type === "Timeout" && /step "embed" item \[0\]/.test(err.message));
    assert.ok(Date.now() - started < 30_000, "the Function's 300 s timeout was not the one applied");
  });

  it("cancelling a run cancels every step task in flight", async () => {
    const run = await gw.client.workflow("default/sum").push("slow1 slow2 slow3");
    await until(async () => (await run.step("embed")).filter((i) => i.status === "running").length === 3, "three embeds running", 20_000);
    const doc = await run.cancel();
    assert.equal(doc.status, "cancelled");
    const steps = await run.step("embed");
    assert.deepEqual(
      steps.map((i) => i.status),
      ["cancelled", "cancelled", "cancelled"],
    );
    await assert.rejects(run.result(), (err: unknown) => err instanceof HearthError && err.type === "Cancelled");
  });

  it("streams step events: queued, started, finished per step", async () => {
    const run = await gw.client.workflow("default/linear").push("pause");
    const seen: string[] = [];
    for await (const ev of run.stepEvents()) seen.push(`${ev.step}:${ev.event}`);
    for (const step of ["a", "b", "c"]) assert.ok(seen.includes(`${step}:finished`), `${step} events in ${seen.join(",")}`);
    // Live (not replayed) events of a fan-out: a run that is still going when the stream opens.
    const slow = await gw.client.workflow("default/sum").push("pause1 pause2");
    const live: string[] = [];
    for await (const ev of slow.stepEvents()) live.push(`${ev.step}${JSON.stringify(ev.path)}:${ev.event}`);
    for (const e of ["split[]:finished", "embed[0]:started", "embed[0]:finished", "embed[1]:finished", "total[0]:finished", "total[1]:finished"]) {
      assert.ok(live.includes(e), `${e} in ${live.join(",")}`);
    }
  });

  it("a graph that cannot run is refused (409) with the reason", async () => {
    await assert.rejects(gw.client.workflow("default/loop").run("x"), (err: unknown) => err instanceof HearthError && err.status === 409 && /cycle: a → b → a/.test(err.message));
    await assert.rejects(gw.client.workflow("default/missing").run("x"), (err: unknown) => err instanceof HearthError && err.status === 404);
  });

  it("hearth run wf/ns/name runs a workflow from the CLI; push prints the run id", async () => {
    const cli = (args: string[]): Promise<{ code: number; stdout: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [MAIN, ...args, "--url", gw.gateway.url], { env: { PATH: process.env["PATH"] ?? "" }, timeout: 30_000 }, (err, stdout) => {
          resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout });
        });
      });
    const out = await cli(["run", "wf/default/sum", '"a bb ccc"']);
    assert.equal(out.code, 0);
    assert.equal(out.stdout.trim(), "6");
    const pushed = await cli(["push", "wf/default/linear", '"abcd"']);
    assert.equal(pushed.code, 0);
    assert.match(pushed.stdout, /wf-[0-9a-f-]+/);
  });

  it("an idempotency key returns the same run", async () => {
    const wf = gw.client.workflow("default/linear");
    const a: RunHandle = await wf.push("same", { idempotencyKey: "k-1" });
    const b: RunHandle = await wf.push("same", { idempotencyKey: "k-1" });
    assert.equal(a.id, b.id);
    assert.equal(await a.result(), 4);
  });

  it("function(...).map(items): one batched push, results in input order, errors per item", async () => {
    const fn = gw.client.function("default/embed");
    const out: unknown[] = [];
    for await (const v of fn.map(["late1", "a", "late123456", "bb"])) out.push(v);
    assert.deepEqual(out, [5, 1, 10, 2]);
    const mixed: unknown[] = [];
    for await (const v of fn.map(["a", "failx", "ccc"], { returnExceptions: true })) mixed.push(v);
    assert.equal(mixed[0], 1);
    assert.ok(mixed[1] instanceof HearthError && mixed[1].type === "UserError");
    assert.equal(mixed[2], 3);
  });
});

describe("workflow durability", () => {
  it("kill -9 of the gateway mid-fan-out loses nothing and never re-runs a finished step", async () => {
    const dir = tempDir("wf-kill");
    const store = join(dir.path, "gateway.db");
    const record = join(dir.path, "record.txt");
    writeFileSync(record, "");
    const port = await freePort();
    const docs = [{ apiVersion: "hearth.dev/v1alpha1", kind: "Workflow", metadata: { name: "sum", namespace: "default" }, spec: WORKFLOWS["sum"] }];
    const fns = ["split", "embed", "add"].map((name) => ({ name }));
    let gw = await startGatewayProcess(dir.path, store, fns, port, docs);
    const env = { HEARTH_E2E_RECORD: record };
    const workers = [
      startWorker({ gatewayUrl: gw.url, fn: "default/split", handler: "wf:split", env }),
      startWorker({ gatewayUrl: gw.url, fn: "default/embed", handler: "wf:embed", env: { ...env, HEARTH_CONCURRENCY: "2" } }),
      startWorker({ gatewayUrl: gw.url, fn: "default/add", handler: "wf:add", env }),
    ];
    const client = createClient({ url: gw.url });
    try {
      const words = Array.from({ length: 24 }, (_, i) => `pause${i}`);
      const expected = words.reduce((s, w) => s + w.length, 0);
      const run = await client.workflow("default/sum").push(words.join(" "));
      // Some embeds committed, most not started: mid-fan-out.
      const done = await until(async () => {
        const items = await run.step("embed");
        const ok = items.filter((i) => i.status === "succeeded");
        return ok.length >= 4 && ok.length <= 16 ? ok : false;
      }, "a few embeds to finish", 30_000);
      await gw.kill("SIGKILL");
      gw = await startGatewayProcess(dir.path, store, fns, port, docs);
      assert.equal(await run.result({ timeoutMs: 60_000 }), expected);
      const embeds = records(record, "embed").map((w) => JSON.parse(w) as string);
      assert.equal(records(record, "split").length, 1, "split ran once");
      // Items whose embed had finished (committed) before the kill ran exactly once.
      const items = await run.step("embed");
      assert.equal(items.length, 24);
      for (const d of done) {
        const word = words[d.path[0] ?? -1];
        assert.equal(embeds.filter((w) => w === word).length, 1, `${word} finished before the kill and ran again`);
      }
      const finishedIds = new Set(done.map((d) => d.taskId));
      const after = new Map(items.map((i) => [i.taskId, i]));
      for (const id of finishedIds) assert.equal(after.get(id)?.attempts, 1, `finished step task ${id} ran again`);
      // Every embed task ran at most once more than once (only the ones in flight at the kill).
      assert.ok(embeds.length <= 24 + 2, `${embeds.length} embed executions for 24 items (at most 2 in flight at the kill)`);
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      await gw.kill("SIGTERM");
      client.close();
      dir.remove();
    }
  });
});
