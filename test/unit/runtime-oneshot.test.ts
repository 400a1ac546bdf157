import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { configFromEnv, ConfigError, flagsToEnv } from "../../src/runtime/config.ts";
import { failureDocument, successDocument } from "../../src/runtime/oneshot.ts";
import { TaskChannel } from "../../src/runtime/oneshot-task.ts";
import { classify, encodeOutput } from "../../src/runtime/outcome.ts";
import { BindError, HandlerConfigError } from "../../src/runtime/errors.ts";
import { FatalError, InputRejected } from "../../src/runtime/index.ts";

describe("termination documents", () => {
  it("keeps a short failure whole", () => {
    assert.equal(failureDocument({ type: "UserError", message: "boom" }), '{"error":{"type":"UserError","message":"boom"}}');
  });

  it("cuts a long message so the document is exactly within the limit, multi-byte characters intact", () => {
    for (const ch of ["e", "é", "😀", '"']) {
      const doc = failureDocument({ type: "UserError", message: ch.repeat(5000) }, 4096);
      const size = Buffer.byteLength(doc);
      assert.ok(size <= 4096, `${ch}: ${size}`);
      assert.ok(size > 4096 - 16, `${ch}: ${size} wastes room`);
      const parsed = JSON.parse(doc) as { error: { message: string } };
      assert.ok(parsed.error.message.endsWith("…"));
    }
  });

  it("accepts output up to the limit and turns a larger one into BadConfiguration (exit 2)", () => {
    const fits = successDocument(JSON.stringify("x".repeat(4096 - 13)));
    assert.equal(fits.exitCode, 0);
    assert.equal(Buffer.byteLength(fits.doc), 4096);
    const big = successDocument(JSON.stringify("x".repeat(4096 - 12)));
    assert.equal(big.exitCode, 2);
    assert.match(big.doc, /output is 4097 bytes; isolated Jobs return at most 4096 bytes/);
  });
});

describe("classify", () => {
  it("maps thrown values to classes", () => {
    assert.equal(classify(new FatalError("x")).type, "Fatal");
    assert.equal(classify(new InputRejected("x")).type, "InputRejected");
    assert.equal(classify(new BindError("x")).type, "InputRejected");
    assert.equal(classify(new HandlerConfigError("x")).type, "BadConfiguration");
    assert.equal(classify(new TypeError("x")).type, "UserError");
    assert.equal(classify("a string").type, "UserError");
  });

  it("recognises a FatalError from another copy of the runtime by its brand", () => {
    const foreign = Object.assign(new Error("gpu"), { [Symbol.for("hearth.FatalError")]: true });
    assert.equal(classify(foreign).type, "Fatal");
  });

  it("names the error and where user code threw it", () => {
    const failure = classify(new RangeError("too big"));
    assert.match(failure.message, /^RangeError: too big \(at .*runtime-oneshot\.test\.ts/);
  });

  it("encodes undefined as null and refuses BigInt", () => {
    assert.equal(encodeOutput(undefined), "null");
    assert.throws(() => encodeOutput({ n: 1n }), /not JSON-serializable/);
  });
});

describe("worker configuration", () => {
  const base = { HEARTH_HANDLER: "app:Model", HEARTH_FUNCTION: "ns/fn", HEARTH_GATEWAY_URL: "http://127.0.0.1:8080/" };

  it("reads the protocol's variables with their defaults", () => {
    const c = configFromEnv(base);
    assert.equal(c.mode, "warm");
    assert.equal(c.concurrency, 1);
    assert.equal(c.timeoutSeconds, 300);
    assert.equal(c.restartOnError, true);
    assert.equal(c.healthPort, 8081);
    assert.equal(c.gatewayUrl, "http://127.0.0.1:8080");
    assert.equal(c.terminationLog, "/dev/termination-log");
    // The child holds the worker channel unless told otherwise.
    assert.equal(c.workerChannel, true);
    assert.equal(c.directChannel, true);
  });

  it("HEARTH_WORKER_CHANNEL: on and direct hand the channel to the child, relay keeps it in the supervisor, off uses requests", () => {
    const mode = (v: string): [boolean | undefined, boolean | undefined] => {
      const c = configFromEnv({ ...base, HEARTH_WORKER_CHANNEL: v });
      return [c.workerChannel, c.directChannel];
    };
    assert.deepEqual(mode("on"), [true, true]);
    assert.deepEqual(mode("direct"), [true, true]);
    assert.deepEqual(mode("relay"), [true, false]);
    assert.deepEqual(mode("off"), [false, false]);
  });

  it("rejects what a pod could not run, naming the variable", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ HEARTH_CONCURRENCY: "0" }, /HEARTH_CONCURRENCY must be between 1 and 1024/],
      [{ HEARTH_RESTART_ON_ERROR: "maybe" }, /HEARTH_RESTART_ON_ERROR must be true or false/],
      [{ HEARTH_MODE: "hot" }, /HEARTH_MODE must be warm or oneshot/],
      [{ HEARTH_GATEWAY_URL: "" }, /HEARTH_GATEWAY_URL is not set/],
      [{ HEARTH_FUNCTION: "nope" }, /HEARTH_FUNCTION must be <namespace>\/<name>/],
      [{ HEARTH_HANDLER: "" }, /HEARTH_HANDLER is not set/],
      [{ HEARTH_TIMEOUT_SECONDS: "-1" }, /HEARTH_TIMEOUT_SECONDS must be a number/],
      [{ HEARTH_WORKER_CHANNEL: "sideways" }, /HEARTH_WORKER_CHANNEL must be on, direct, relay or off, got "sideways"/],
    ];
    for (const [env, message] of bad) assert.throws(() => configFromEnv({ ...base, ...env }), (e: unknown) => e instanceof ConfigError && message.test(e.message));
  });

  it("oneshot needs no gateway", () => {
    assert.equal(configFromEnv({ HEARTH_MODE: "oneshot", HEARTH_HANDLER: "a:b" }).mode, "oneshot");
  });

  it("turns flags into variables", () => {
    assert.deepEqual(flagsToEnv(["--timeout-seconds", "5", "--mode=oneshot"]), { HEARTH_TIMEOUT_SECONDS: "5", HEARTH_MODE: "oneshot" });
    assert.throws(() => flagsToEnv(["--handler"]), /needs a value/);
    assert.throws(() => flagsToEnv(["stray"]), /unexpected argument/);
  });
});

describe("isolated call: progress to the task (TaskChannel)", () => {
  it("posts the latest progress with the task token and lease, the last one before the output", async () => {
    const seen: { path: string; auth: string | undefined; body: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c.toString()));
      req.on("end", () => {
        seen.push({ path: req.url ?? "", auth: req.headers.authorization, body: JSON.parse(raw) as Record<string, unknown> });
        // Slow answers: updates made meanwhile collapse into the latest.
        setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end("{}");
        }, 30);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const addr = server.address();
    const port = typeof addr === "object" && addr !== null ? addr.port : 0;
    const channel = new TaskChannel({ gatewayUrl: `http://127.0.0.1:${port}`, taskId: "t-1", token: "task-token", workerId: "pod-a", log: () => {} });
    try {
      channel.progress("lease-1", 0.1, "one");
      channel.progress("lease-1", 0.2, "two");
      channel.progress("lease-1", 0.3, undefined);
      const delivered = await channel.deliver("lease-1", '{"ok":true}');
      assert.equal(delivered.exitCode, 0);
      const progress = seen.filter((s) => s.path === "/v1/tasks/t-1/progress");
      assert.deepEqual(progress.map((s) => s.body), [{ leaseId: "lease-1", value: 0.1, message: "one" }, { leaseId: "lease-1", value: 0.3 }], "the middle update collapsed into the latest");
      assert.ok(progress.every((s) => s.auth === "Bearer task-token"));
      assert.equal(seen[seen.length - 1]?.path, "/v1/tasks/t-1/complete", "the output goes out after the last progress");
    } finally {
      channel.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("never fails the call when the gateway refuses or cannot be reached", async () => {
    const logs: string[] = [];
    const channel = new TaskChannel({ gatewayUrl: "http://127.0.0.1:1", taskId: "t-2", token: undefined, workerId: "pod-a", log: (m) => logs.push(m), patienceMs: 0 });
    try {
      channel.progress("lease-1", 0.5, undefined);
      const delivered = await channel.deliver("lease-1", '"x"');
      assert.equal(delivered.exitCode, 0, "falls back to the termination message");
      assert.ok(logs.some((l) => l.includes("cannot post progress")), logs.join("\n"));
    } finally {
      channel.close();
    }
  });
});
