import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { batchingSender, parseFromChild, unbatch } from "../../src/runtime/ipc.ts";

describe("runtime IPC batches", () => {
  it("sends the messages of one turn as one array, a lone message as itself, in order", async () => {
    const sent: unknown[] = [];
    const send = batchingSender<{ n: number }>((m) => sent.push(m));
    send({ n: 1 });
    send({ n: 2 });
    send({ n: 3 });
    assert.deepEqual(sent, [], "nothing leaves before the turn ends");
    await Promise.resolve();
    assert.deepEqual(sent, [[{ n: 1 }, { n: 2 }, { n: 3 }]]);
    send({ n: 4 });
    await Promise.resolve();
    assert.deepEqual(sent, [[{ n: 1 }, { n: 2 }, { n: 3 }], { n: 4 }]);
  });

  it("reads a batch or a single message, and each element is still checked", () => {
    assert.deepEqual(unbatch({ t: "ready", kind: "sync" }), [{ t: "ready", kind: "sync" }]);
    const batch = unbatch([{ t: "done", id: "a", output: "1" }, { t: "bogus" }, { t: "done", id: "b", output: "2" }]);
    assert.deepEqual(batch.map(parseFromChild), [{ t: "done", id: "a", output: "1" }, undefined, { t: "done", id: "b", output: "2" }]);
  });
});
