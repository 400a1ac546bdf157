// `hearth run`, `hearth push` and `hearth get task` as a user runs them, against `hearth gateway`
// and `hearth worker` processes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MAIN, startGatewayProcess, startWorker, tempDir, type GatewayProcess, type WorkerProcess } from "./harness.ts";
import { NODE_HANDLERS } from "./protocol-cases.ts";

function hearth(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env["PATH"] ?? "" }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

describe("hearth run / push / get", () => {
  const dir = tempDir("cli");
  let gw: GatewayProcess;
  let workers: WorkerProcess[];
  before(async () => {
    gw = await startGatewayProcess(dir.path, join(dir.path, "gw.db"), [{ name: "add" }, { name: "fail" }, { name: "sleep", timeoutSeconds: 1 }]);
    workers = [
      startWorker({ gatewayUrl: gw.url, fn: "default/add", handler: "binding:add", codePath: NODE_HANDLERS }),
      startWorker({ gatewayUrl: gw.url, fn: "default/fail", handler: "failures:raise_error", codePath: NODE_HANDLERS }),
      startWorker({ gatewayUrl: gw.url, fn: "default/sleep", handler: "timing:sleep", codePath: NODE_HANDLERS }),
    ];
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await gw.kill("SIGTERM");
    dir.remove();
  });

  it("run prints the output", async () => {
    const r = await hearth(["run", "default/add", '{"a": 40, "b": 2}', "--url", gw.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "42");
  });

  it("run reads stdin with -", async () => {
    const r = await hearth(["run", "default/add", "-", "--url", gw.url], "[1, 2]");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "3");
  });

  it("run exits with the task's exit code and names its class", async () => {
    const bad = await hearth(["run", "default/add", '{"a": 1}', "--url", gw.url]);
    assert.equal(bad.code, 65);
    assert.match(bad.stderr, /InputRejected \(task [-0-9a-f]+, attempt 1\): input does not match/);
    const user = await hearth(["run", "default/fail", '{"message": "boom"}', "--url", gw.url]);
    assert.equal(user.code, 1);
    assert.match(user.stderr, /UserError .*Error: boom/);
    const slow = await hearth(["run", "default/sleep", '{"seconds": 5}', "--url", gw.url]);
    assert.equal(slow.code, 124);
    assert.match(slow.stderr, /Timeout/);
  });

  it("run reports request errors: unknown function, unreachable gateway, malformed input", async () => {
    const missing = await hearth(["run", "default/nope", "1", "--url", gw.url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NotFound: function default\/nope not found/);
    const nowhere = await hearth(["run", "default/add", "1", "--url", "http://127.0.0.1:9"]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /Unavailable: cannot reach the gateway/);
    const malformed = await hearth(["run", "default/add", "{oops", "--url", gw.url]);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /input must be JSON/);
  });

  it("push prints a task id that get task shows, waiting for it", async () => {
    const pushed = await hearth(["push", "default/add", "[2, 3]", "--url", gw.url]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const id = pushed.stdout.trim();
    assert.match(id, /^[-0-9a-f]{36}$/);
    const got = await hearth(["get", "task", id, "--wait", "10s", "--url", gw.url]);
    assert.equal(got.code, 0, got.stderr);
    const doc = JSON.parse(got.stdout) as { id: string; status: string; output: unknown };
    assert.equal(doc.id, id);
    assert.equal(doc.status, "succeeded");
    assert.equal(doc.output, 5);
    const waited = await hearth(["push", "default/add", "[5, 5]", "--wait", "--url", gw.url]);
    assert.equal(waited.stdout.trim(), "10");
  });
});
