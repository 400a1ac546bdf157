// Every case of test/protocol/cases.json against the Node runtime in oneshot mode, each as a
// real `hearth worker` process: exit code, termination-log document and its size limit.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { expectedOutput, loadCases, NODE_HANDLERS } from "./protocol-cases.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "hearth-oneshot-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  doc: string;
  stderr: string;
}

function runWorker(env: Record<string, string>, args: string[] = []): Promise<Run> {
  const log = join(dir, `log-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, "worker", ...args],
      { env: { PATH: process.env["PATH"] ?? "", HEARTH_MODE: "oneshot", HEARTH_CODE_PATH: NODE_HANDLERS, HEARTH_TERMINATION_LOG: log, ...env }, timeout: 30_000 },
      (err, _stdout, stderr) => {
        let doc = "";
        try {
          doc = readFileSync(log, "utf8");
        } catch {
          // asserted by the caller
        }
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
        resolve({ code, doc, stderr });
      },
    );
  });
}

describe("protocol cases, Node runtime, oneshot", { concurrency: 3 }, () => {
  for (const c of loadCases("oneshot")) {
    it(c.name, async () => {
      const input = join(dir, `in-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(input, JSON.stringify(c.input));
      const env: Record<string, string> = { HEARTH_HANDLER: c.handler, HEARTH_INPUT_FILE: input };
      if (c.timeoutSeconds !== undefined) env["HEARTH_TIMEOUT_SECONDS"] = String(c.timeoutSeconds);
      const started = Date.now();
      const run = await runWorker(env);
      const elapsed = Date.now() - started;
      assert.equal(run.code, c.expect.exitCode, `exit code (stderr: ${run.stderr})`);
      assert.ok(Buffer.byteLength(run.doc) <= 4096, `document is ${Buffer.byteLength(run.doc)} bytes`);
      const doc = JSON.parse(run.doc) as { output?: unknown; error?: { type: string; message: string } };
      if (c.expect.exitCode === 0) {
        assert.deepEqual(doc, { output: expectedOutput(c.expect.output) });
      } else {
        const error = doc.error;
        assert.ok(error !== undefined, run.doc);
        assert.equal(error.type, c.expect.errorType);
        assert.equal(typeof error.message, "string");
        if (c.expect.messageContains !== undefined) assert.ok(error.message.includes(c.expect.messageContains), error.message);
      }
      if (c.expect.errorType === "Timeout" && c.timeoutSeconds !== undefined) {
        // The deadline is enforced, not waited out: long before the handler's own 30 s (the
        // slack is for process start on a loaded machine).
        assert.ok(elapsed < c.timeoutSeconds * 1000 + 10_000, `took ${elapsed} ms`);
      }
    });
  }
});

describe("oneshot configuration and input", () => {
  it("no input file means null input", async () => {
    const run = await runWorker({ HEARTH_HANDLER: "binding:identity" });
    assert.equal(run.code, 0);
    assert.equal(run.doc, '{"output":null}');
  });

  it("input that is not JSON is InputRejected (65)", async () => {
    const input = join(dir, "bad.json");
    writeFileSync(input, "{not json");
    const run = await runWorker({ HEARTH_HANDLER: "binding:identity", HEARTH_INPUT_FILE: input });
    assert.equal(run.code, 65);
    assert.match(run.doc, /"InputRejected"/);
  });

  it("a missing input file is BadConfiguration (2)", async () => {
    const run = await runWorker({ HEARTH_HANDLER: "binding:identity", HEARTH_INPUT_FILE: join(dir, "absent.json") });
    assert.equal(run.code, 2);
    assert.match(run.doc, /cannot read HEARTH_INPUT_FILE/);
  });

  it("an invalid environment is BadConfiguration (2), written to the termination log", async () => {
    const run = await runWorker({ HEARTH_HANDLER: "binding:identity", HEARTH_CONCURRENCY: "lots" });
    assert.equal(run.code, 2);
    assert.match(run.doc, /HEARTH_CONCURRENCY must be an integer/);
  });

  it("pickle encoding is refused by the Node runtime", async () => {
    const run = await runWorker({ HEARTH_HANDLER: "binding:identity", HEARTH_ENCODING: "pickle" });
    assert.equal(run.code, 2);
    assert.match(run.doc, /json only/);
  });

  it("flags override the environment", async () => {
    const run = await runWorker({ HEARTH_HANDLER: "binding:nothing" }, ["--handler", "shapes:double", "--input-file", join(dir, "absent.json")]);
    assert.equal(run.code, 2);
    assert.match(run.doc, /absent\.json/);
  });
});
