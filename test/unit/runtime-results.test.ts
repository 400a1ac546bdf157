import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ResultBatcher, toWireState } from "../../src/runtime/warm.ts";
import type { ResultAck } from "../../src/protocol/index.ts";
import { resultItem } from "../../src/runtime/worker-api.ts";

class FakeApi {
  calls: string[][] = [];
  fail = false;
  async results(items: readonly string[]): Promise<ResultAck[]> {
    this.calls.push([...items]);
    if (this.fail) throw new Error("connection refused");
    return items.map((i) => {
      const id = (JSON.parse(i) as { id: string }).id;
      return id === "lost" ? { id, status: 409, message: "lease lost" } : { id, status: 200 };
    });
  }
}

describe("ResultBatcher", () => {
  it("sends the outcomes of one turn in one call and answers each", async () => {
    const api = new FakeApi();
    const b = new ResultBatcher(api);
    const answers = await Promise.all(["a", "b", "lost"].map((id) => b.submit(id, resultItem(id, `l-${id}`, { output: "1" }))));
    assert.equal(api.calls.length, 1);
    assert.deepEqual(answers, [{ status: 200 }, { status: 200 }, { status: 409, message: "lease lost" }]);
  });

  it("splits a turn's outcomes by size", async () => {
    const api = new FakeApi();
    const b = new ResultBatcher(api, 100);
    const big = JSON.stringify("x".repeat(80));
    await Promise.all(["a", "b", "c"].map((id) => b.submit(id, resultItem(id, "l", { output: big }))));
    assert.deepEqual(
      api.calls.map((c) => c.length),
      [1, 1, 1],
    );
  });

  it("hands pending outcomes to a lease and takes them back if that lease fails", async () => {
    const api = new FakeApi();
    const b = new ResultBatcher(api);
    const answer = b.submit("a", resultItem("a", "l", { error: { type: "UserError", exitCode: 1, message: "boom" } }));
    const riding = b.takePending();
    assert.equal(riding.length, 1);
    b.resend(riding);
    assert.deepEqual(await answer, { status: 200 });
    assert.equal(api.calls.length, 1);
    const again = b.submit("z", resultItem("z", "l", { output: "2" }));
    const taken = b.takePending();
    b.settle(taken, [{ id: "z", status: 200 }]);
    assert.deepEqual(await again, { status: 200 });
  });

  it("rejects every outcome of a call that failed, so the caller can retry", async () => {
    const api = new FakeApi();
    api.fail = true;
    const b = new ResultBatcher(api);
    await assert.rejects(b.submit("a", resultItem("a", "l", { output: "1" })), /connection refused/);
  });

  it("renders items with the output spliced and errors as JSON", () => {
    assert.equal(resultItem("t", "l", { output: '{"a":1}' }), '{"id":"t","leaseId":"l","output":{"a":1}}');
    assert.deepEqual(JSON.parse(resultItem("t", "l", { error: { type: "Disrupted", exitCode: undefined, message: "m" } })), { id: "t", leaseId: "l", error: { type: "Disrupted", message: "m" } });
  });

  it("maps supervisor states to the wire's", () => {
    assert.deepEqual(
      (["starting", "ready", "restarting", "failed", "fatal", "stopped"] as const).map(toWireState),
      ["setup", "ready", "setup", "failed", "failed", "draining"],
    );
  });
});
