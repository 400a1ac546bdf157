// Pure parts of the signature and console API: the signature check, the Function/Job/Workflow
// documents, and the Node runtime's signature from parameter lists.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { entryOf, SignatureBook } from "../../src/gateway/signatures.ts";
import { functionDetail, functionSummary, jobView, readmeRef, runSummary, stepState } from "../../src/gateway/views.ts";
import type { Unstructured } from "../../src/kube/objects.ts";
import { adapt } from "../../src/runtime/handler.ts";
import { defaultTexts } from "../../src/runtime/params.ts";
import { literalDefault, signatureOf } from "../../src/runtime/signature.ts";

const stats = { queueDepth: 2, inFlight: 1, warmWorkers: 3, busyWorkers: 1 };

function fn(spec: Record<string, unknown>, status: Record<string, unknown> = {}): Unstructured {
  return { apiVersion: "hearth.dev/v1alpha1", kind: "Function", metadata: { name: "whisper", namespace: "ml", creationTimestamp: "2026-01-01T00:00:00Z" }, spec, status };
}

describe("signature book", () => {
  it("keeps a valid signature and acknowledges it", () => {
    const book = new SignatureBook(() => 1000);
    assert.equal(book.observe("ml", "whisper", "w1", undefined), false, "nothing known yet");
    assert.equal(book.observe("ml", "whisper", "w1", { source: "parameters", inputSchema: { type: "object", properties: { a: {} } } }), true);
    assert.equal(book.get("ml", "whisper")?.signature?.source, "parameters");
    assert.equal(book.observe("ml", "whisper", "w2", undefined), true, "later heartbeats without one stay acknowledged");
  });

  it("records why a malformed signature was refused (and stops the worker resending it)", () => {
    const e = entryOf({ source: "guess", inputSchema: {} }, "w1", 0);
    assert.equal(e.signature, undefined);
    assert.match(e.rejected ?? "", /not a signature/);
    const big = entryOf({ source: "exported", inputSchema: { type: "object", properties: { a: { description: "x".repeat(70_000) } } } }, "w1", 0);
    assert.match(big.rejected ?? "", /over 65536/);
  });
});

describe("views", () => {
  it("summarises a Function: metadata, readiness, GPU, live numbers", () => {
    const s = functionSummary(
      fn({ title: "Whisper", description: "Speech to text", tags: ["audio"], runtime: "python", gpu: { type: "t4", split: 4 }, warmPool: { minReplicas: 1, maxReplicas: 4 } }, { readyReplicas: 2, replicas: 2, gpu: { fraction: "0.25", resource: "nvidia.com/gpu.shared", strategy: "timeSlicing" }, conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "2 warm" }] }),
      stats,
      undefined,
    );
    assert.equal(s.title, "Whisper");
    assert.deepEqual(s.gpu, { type: "t4", split: 4, fraction: "0.25", resource: "nvidia.com/gpu.shared", strategy: "timeSlicing" });
    assert.deepEqual(s.replicas, { desired: 2, ready: 2, min: 1, max: 4 });
    assert.equal(s.ready?.status, "True");
    assert.equal(s.queueDepth, 2);
    assert.equal(s.signatureKnown, false);
    assert.equal(s.createdAt, "2026-01-01T00:00:00Z");
    assert.equal(functionSummary(fn({}), stats, undefined).title, "whisper", "title defaults to the name");
  });

  it("a detail carries the signature or says it is unknown", () => {
    const sig = entryOf({ source: "type-hints", inputSchema: { type: "object", properties: { audio: { type: "string" } } } }, "w", 5);
    const d = functionDetail(fn({}), stats, sig, { source: "none" });
    assert.deepEqual(d.signature, { known: true, reportedAt: new Date(5).toISOString(), source: "type-hints", inputSchema: { type: "object", properties: { audio: { type: "string" } } } });
    assert.deepEqual(functionDetail(fn({}), stats, undefined, { source: "none" }).signature, { known: false });
  });

  it("finds the readme inline or in a ConfigMap", () => {
    assert.deepEqual(readmeRef(fn({ readme: { inline: "# x" } })), { inline: "# x" });
    assert.deepEqual(readmeRef(fn({ readme: { configMapKeyRef: { name: "cm", key: "k" } } })), { configMap: { name: "cm", key: "k" } });
    assert.equal(readmeRef(fn({})), undefined);
  });

  it("a Job's state comes from its conditions", () => {
    const job = (status: Record<string, unknown>) => jobView({ apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name: "j", namespace: "ml" }, spec: { functionRef: { name: "whisper" } }, status });
    assert.equal(job({}).state, "Pending");
    assert.equal(job({ conditions: [{ type: "Complete", status: "True" }] }).state, "Complete");
    assert.equal(job({ conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] }).state, "Failed");
    assert.equal(job({ taskId: "t1", conditions: [] }).state, "Running");
  });
});

describe("Node runtime signature", () => {
  it("reads defaults' source text aligned with the parameters", () => {
    assert.deepEqual(defaultTexts("function f(a, b = 2, c = 'x,y', { d } = {}, ...rest) {}"), [undefined, "2", "'x,y'", "{}", undefined]);
    assert.deepEqual(defaultTexts("x => x"), [undefined]);
    assert.deepEqual(defaultTexts("async (a = [1, 2], b = a >= 1) => a"), ["[1, 2]", "a >= 1"]);
  });

  it("turns literal defaults into JSON values and leaves expressions out", () => {
    assert.deepEqual(literalDefault("'it\\'s'"), { value: "it's" });
    assert.deepEqual(literalDefault("[1, 2]"), { value: [1, 2] });
    assert.deepEqual(literalDefault("`plain`"), { value: "plain" });
    assert.equal(literalDefault("Date.now()"), undefined);
  });

  it("a function's signature: names, required ones, typed defaults; ctx left out", async () => {
    const h = adapt(function f(prompt: string, steps = 3, mode = "fast", when = Date.now(), ctx?: unknown) {
      return [prompt, steps, mode, when, ctx];
    }, "m:f");
    await h.setup();
    assert.deepEqual(signatureOf(h.inputShape()), {
      source: "parameters",
      inputSchema: { type: "object", properties: { prompt: {}, steps: { default: 3, type: "integer" }, mode: { default: "fast", type: "string" }, when: {} }, required: ["prompt"], additionalProperties: false },
    });
  });

  it("a class's predict after setup; a destructured parameter or a runner has none", async () => {
    class C {
      predict(text: string, ...more: unknown[]) {
        return [text, more];
      }
    }
    const h = adapt(C, "m:C");
    assert.equal(signatureOf(h.inputShape()), undefined, "unknown before setup");
    await h.setup();
    assert.deepEqual(signatureOf(h.inputShape())?.inputSchema, { type: "object", properties: { text: {} }, required: ["text"] });
    const d = adapt(({ a }: { a: number }) => a, "m:d");
    assert.equal(signatureOf(d.inputShape()), undefined);
    class R {
      load_model() {
        return 1;
      }
      predict(data: unknown) {
        return data;
      }
    }
    const r = adapt(R, "m:R");
    await r.setup();
    assert.equal(signatureOf(r.inputShape()), undefined);
  });
});

describe("workflow runs in the console", () => {
  it("names one state per step: failed, then running, queued, cancelled, succeeded", () => {
    assert.equal(stepState({ succeeded: 3, failed: 1 }), "failed");
    assert.equal(stepState({ succeeded: 3, running: 1, queued: 2 }), "running");
    assert.equal(stepState({ succeeded: 2 }), "succeeded");
    assert.equal(stepState({}), undefined);
  });

  it("summarises a run: times as RFC 3339, the error, each step's counts and state", () => {
    const r = runSummary({ id: "run-1", status: "failed", createdAt: 0, finishedAt: 1500, error: { type: "UserError", message: "map step plan: not a list" } }, { plan: { succeeded: 1 }, paint: { failed: 1, succeeded: 2 } });
    assert.deepEqual(r, {
      id: "run-1",
      status: "failed",
      createdAt: "1970-01-01T00:00:00.000Z",
      finishedAt: "1970-01-01T00:00:01.500Z",
      error: { type: "UserError", message: "map step plan: not a list" },
      steps: { plan: { counts: { succeeded: 1 }, state: "succeeded" }, paint: { counts: { failed: 1, succeeded: 2 }, state: "failed" } },
    });
    assert.equal(runSummary({ id: "r", status: "running", createdAt: 0, finishedAt: null, error: null }, {}).finishedAt, undefined);
  });
});
