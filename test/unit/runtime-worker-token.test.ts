// The Node runtime's gateway credential: the projected ServiceAccount token file (re-read when
// asked fresh, and every minute), HEARTH_WORKER_TOKEN as the fallback, and the worker API's one
// retry with a fresh read after a 401, against a real HTTP server.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { childEnv, configFromEnv } from "../../src/runtime/config.ts";
import { WorkerApi } from "../../src/runtime/worker-api.ts";
import { WorkerTokenSource, workerTokenSource } from "../../src/runtime/worker-token.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-token-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("worker token source", () => {
  it("reads the file, re-reads it when asked fresh or after a minute", () => {
    const file = join(dir, "a");
    writeFileSync(file, "one\n");
    let now = 0;
    const src = new WorkerTokenSource({ file, fallback: "env", now: () => now });
    assert.equal(src.current(), "one");
    writeFileSync(file, "two");
    assert.equal(src.current(), "one", "cached");
    assert.equal(src.current(true), "two");
    writeFileSync(file, "three");
    now = 60_000;
    assert.equal(src.current(), "three");
  });

  it("falls back to HEARTH_WORKER_TOKEN, and keeps the last good token when the file goes", () => {
    const file = join(dir, "b");
    assert.equal(new WorkerTokenSource({ fallback: "env" }).current(), "env");
    const src = new WorkerTokenSource({ file, fallback: "env" });
    assert.equal(src.current(), "env");
    assert.match(src.problem ?? "", /cannot read/);
    writeFileSync(file, "sa");
    assert.equal(src.current(true), "sa");
    unlinkSync(file);
    assert.equal(src.current(true), "sa");
  });

  it("the config carries HEARTH_WORKER_TOKEN_FILE; user code never sees it", () => {
    const config = configFromEnv({ HEARTH_HANDLER: "m:f", HEARTH_FUNCTION: "ns/fn", HEARTH_GATEWAY_URL: "http://127.0.0.1:1", HEARTH_WORKER_TOKEN_FILE: "/var/run/hearth/worker-token/token" });
    assert.equal(config.workerTokenFile, "/var/run/hearth/worker-token/token");
    assert.equal(workerTokenSource(config).current(), undefined, "an unreadable file and no env token: none");
    const env = childEnv({ HEARTH_WORKER_TOKEN_FILE: "/x", HEARTH_WORKER_TOKEN: "y", KEEP: "1" }, config);
    assert.equal(env["HEARTH_WORKER_TOKEN_FILE"], undefined);
    assert.equal(env["HEARTH_WORKER_TOKEN"], undefined);
    assert.equal(env["KEEP"], "1");
  });

  it("a 401 re-reads the rotated file and retries once", async () => {
    const file = join(dir, "c");
    writeFileSync(file, "old");
    const seen: string[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push(req.headers.authorization ?? "");
        const ok = req.headers.authorization === "Bearer new";
        res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
        res.end(JSON.stringify(ok ? { cancel: [] } : { error: { type: "Unauthorized", message: "expired" } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const addr = server.address();
    const port = typeof addr === "object" && addr !== null ? addr.port : 0;
    const src = new WorkerTokenSource({ file });
    const api = new WorkerApi(`http://127.0.0.1:${port}`, src.provider, "ns/fn", "w1");
    try {
      assert.equal(src.current(), "old");
      writeFileSync(file, "new"); // the kubelet rotated it
      assert.deepEqual(await api.heartbeat({ busy: 0, ready: true, state: "ready", tasks: [] }), []);
      assert.deepEqual(seen, ["Bearer old", "Bearer new"]);
      // A fixed token gets no second try.
      const fixed = new WorkerApi(`http://127.0.0.1:${port}`, "stale", "ns/fn", "w1");
      await assert.rejects(fixed.heartbeat({ busy: 0, ready: true, state: "ready", tasks: [] }), /Unauthorized/);
      assert.equal(seen.length, 3);
      fixed.close();
    } finally {
      api.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
