// The result cache of cacheable Functions with real worker processes: a hit returns the stored
// output without running (the handler records every call), direct calls and workflow steps alike,
// bounded by TTL and size, counted in metrics; failures and non-cacheable Functions always run.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { workflowSpec } from "../../src/api/v1alpha1/workflow.ts";
import { HearthError, type RunHandle } from "../../src/client/index.ts";
import { compile, StaticWorkflowRegistry } from "../../src/gateway/workflows/registry.ts";
import { startGateway, startWorker, tempDir, type TestGateway, type WorkerProcess } from "./harness.ts";

function calls(file: string, what: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith(`${what} `))
    .map((l) => l.split(" ")[1] ?? "");
}

async function withCacheGateway(cache: { maxBytes?: number; ttlMs?: number } | undefined, body: (gw: TestGateway, record: string) => Promise<void>): Promise<void> {
  const dir = tempDir("cache");
  const record = join(dir.path, "record.txt");
  writeFileSync(record, "");
  const workflows = new StaticWorkflowRegistry([compile("default", "twice", workflowSpec.parse({ start: "a", steps: [{ name: "a", functionRef: { name: "tally" }, next: ["b"] }, { name: "b", functionRef: { name: "tally" } }] }))]);
  const gw = await startGateway([{ name: "tally", cache: { identity: "tally-v1" } }, { name: "plain" }], { workflows, ...(cache === undefined ? {} : { cache }) });
  const env = { HEARTH_E2E_RECORD: record };
  const workers: WorkerProcess[] = [
    startWorker({ gatewayUrl: gw.gateway.url, fn: "default/tally", handler: "wf:tally", env }),
    startWorker({ gatewayUrl: gw.gateway.url, fn: "default/plain", handler: "wf:tally", env }),
  ];
  try {
    await body(gw, record);
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await gw.stop();
    dir.remove();
  }
}

describe("result cache", () => {
  let gw: TestGateway;
  let record: string;
  let release: () => void = () => {};
  let finished: Promise<void> = Promise.resolve();

  before(async () => {
    await new Promise<void>((ready) => {
      finished = withCacheGateway(undefined, async (g, r) => {
        gw = g;
        record = r;
        ready();
        await new Promise<void>((resolve) => (release = resolve));
      });
    });
  });

  after(async () => {
    release();
    await finished;
  });

  it("a repeated call of a cacheable Function returns the stored output without running", async () => {
    const fn = gw.client.function("default/tally");
    assert.equal(await fn.run(21), 42);
    assert.equal(await fn.run(21), 42);
    const task = await fn.push(21);
    assert.equal(await task.result(), 42);
    const doc = await task.status();
    assert.equal(doc.cached, true);
    assert.deepEqual(calls(record, "tally").filter((x) => x === "21"), ["21"], "the handler ran once for three calls");
    // Different input bytes are a different entry.
    assert.equal(await fn.run(22), 44);
    assert.deepEqual(calls(record, "tally").filter((x) => x === "22"), ["22"]);
  });

  it("failures are not cached, and Functions without cacheable always run", async () => {
    const fn = gw.client.function("default/tally");
    for (let i = 0; i < 2; i++) await assert.rejects(fn.run(-1), (err: unknown) => err instanceof HearthError && err.type === "UserError");
    assert.equal(calls(record, "tally").filter((x) => x === "-1").length, 2);
    const plain = gw.client.function("default/plain");
    assert.equal(await plain.run(500), 1000);
    assert.equal(await plain.run(500), 1000);
    assert.equal(calls(record, "tally").filter((x) => x === "500").length, 2);
  });

  it("workflow steps use the cache too: a second run runs nothing", async () => {
    const wf = gw.client.workflow("default/twice");
    assert.equal(await wf.run(100), 400);
    const run: RunHandle = await wf.push(100);
    assert.equal(await run.result(), 400);
    const steps = [...(await run.step("a")), ...(await run.step("b"))];
    assert.deepEqual(
      steps.map((s) => s.cached),
      [true, true],
    );
    assert.deepEqual(calls(record, "tally").filter((x) => x === "100" || x === "200"), ["100", "200"]);
  });

  it("counts hits and misses in metrics", async () => {
    const text = await (await fetch(`${gw.gateway.url}/metrics`)).text();
    const hits = /hearth_gateway_cache_requests_total\{namespace="default",function="tally",result="hit"\} (\d+)/.exec(text);
    const misses = /hearth_gateway_cache_requests_total\{namespace="default",function="tally",result="miss"\} (\d+)/.exec(text);
    assert.ok(Number(hits?.[1]) >= 4, `hits: ${hits?.[1]}`);
    assert.ok(Number(misses?.[1]) >= 4, `misses: ${misses?.[1]}`);
  });
});

describe("result cache bounds", () => {
  it("an entry older than the TTL is not used", async () => {
    await withCacheGateway({ ttlMs: 300 }, async (gw, record) => {
      const fn = gw.client.function("default/tally");
      await fn.run(7);
      await fn.run(7);
      assert.equal(calls(record, "tally").length, 1);
      await sleep(600);
      await fn.run(7);
      assert.equal(calls(record, "tally").length, 2);
    });
  });

  it("past the size bound the oldest entries go first", async () => {
    // Outputs are 2 bytes each ("42", "44", "46"): 5 bytes hold two.
    await withCacheGateway({ maxBytes: 5 }, async (gw, record) => {
      const fn = gw.client.function("default/tally");
      for (const x of [21, 22, 23]) await fn.run(x);
      await fn.run(23);
      await fn.run(22);
      assert.equal(calls(record, "tally").length, 3, "22 and 23 still cached");
      await fn.run(21);
      assert.deepEqual(calls(record, "tally"), ["21", "22", "23", "21"], "21 was evicted and ran again");
    });
  });
});
