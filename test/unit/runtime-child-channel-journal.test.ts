// The child's side of the task journal (src/runtime/child-channel.ts) on a real loopback
// connection: a granted task's slot is written before its handler runs, and cleared only after its
// outcome line was written to the connection (off the outcome's way out, never before it left);
// a grant's tasks are recorded with one write;
// the supervisor hears no message for it. A task whose outcome is not sent is cleared when it ends.
import assert from "node:assert/strict";
import { createServer, Socket, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { SystemClock } from "../../src/kube/clock.ts";
import { ChildChannel } from "../../src/runtime/child-channel.ts";
import type { ChildOutcome, TaskToRun } from "../../src/runtime/child.ts";
import type { FromChild } from "../../src/runtime/ipc.ts";
import type { JournalEntry, JournalWriter } from "../../src/runtime/task-journal.ts";
import { until } from "../support/until.ts";


describe("the child's task journal on a real connection", () => {
  let server: Server;
  let gatewaySide: Socket | undefined;
  const received: string[] = [];
  before(async () => {
    server = createServer((s) => {
      gatewaySide = s;
      s.setEncoding("utf8");
      s.on("data", (chunk: string) => received.push(...chunk.split("\n").filter((l) => l !== "")));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  after(() => {
    gatewaySide?.destroy();
    server.close();
  });

  it("writes the slot before the handler runs, clears it after the outcome line was written; no message to the supervisor", async () => {
    const ops: string[] = [];
    const journal: JournalWriter = {
      put: (slot: number, e: JournalEntry) => {
        ops.push(`put ${slot} ${e.id}`);
        return true;
      },
      clear: (slot: number) => void ops.push(`clear ${slot}`),
      putMany: (items) => {
        ops.push(`putMany ${items.map(({ slot, entry }) => `${slot} ${entry.id}`).join(", ")}`);
        return new Set(items.map((i) => i.slot));
      },
      clearMany: (slots) => void ops.push(`clearMany ${slots.join(", ")}`),
    };
    const messages: FromChild[] = [];
    const pending = new Map<string, (o: ChildOutcome) => void>();
    const channel = new ChildChannel({
      runtime: {
        run: (task: TaskToRun, done: (o: ChildOutcome) => void) => {
          ops.push(`run ${task.id}`);
          pending.set(task.id, done);
          return Promise.resolve();
        },
        cancel: () => undefined,
      },
      clock: new SystemClock(),
      notify: (m) => messages.push(m),
      notifyNow: (m) => messages.push(m),
      exit: () => undefined,
      supervised: () => true,
      log: () => undefined,
      journal,
    });
    const socket = new Socket();
    await new Promise<void>((resolve) => socket.connect((server.address() as AddressInfo).port, "127.0.0.1", resolve));
    // Every write to the connection, in order with the journal's operations.
    const write = (chunk: string): boolean => Socket.prototype.write.call(socket, chunk);
    Object.defineProperty(socket, "write", {
      value: (chunk: string): boolean => {
        ops.push(`write ${chunk.trim()}`);
        return write(chunk);
      },
    });
    channel.attach(socket, Buffer.alloc(0), { concurrency: 2, restartOnError: false, journal: true });
    await until("the gateway side", () => gatewaySide !== undefined);
    await until("credit", () => received.some((l) => l.startsWith('{"want":')));
    const grant = (id: string): string => JSON.stringify({ id, attempt: 1, leaseId: `l-${id}`, input: null, timeoutSeconds: 30, deadline: Date.now() + 30_000 });
    gatewaySide?.write(`{"tasks":[${grant("a")},${grant("b")}]}\n`);
    await until("both tasks run", () => pending.size === 2);
    assert.deepEqual(ops.filter((o) => !o.startsWith("write")), ["putMany 0 a, 1 b", "run a", "run b"], "one write for the grant, before any handler");
    // b's outcome is sent; a is abandoned (its lease gone), so no line: its slot is cleared at once.
    channel.cancel("a");
    ops.length = 0;
    pending.get("a")?.({ output: "1" });
    pending.get("b")?.({ output: "2" });
    await until("b's outcome at the gateway", () => received.some((l) => l.includes('"id":"b"')));
    // Credit lines may leave on their own; what matters is the results line and the clears.
    const seq = ops.filter((o) => !o.startsWith("write") || o.includes('"results"'));
    const writeAt = seq.findIndex((o) => o.includes('"results":[{"id":"b"'));
    assert.ok(writeAt >= 0, ops.join("\n"));
    assert.deepEqual(seq.slice(0, writeAt), ["clear 0"], "a's slot at once, b's not before its line");
    assert.deepEqual(seq.slice(writeAt + 1), ["clearMany 1"]);
    assert.equal(received.some((l) => l.includes('"id":"a"')), false);
    assert.deepEqual(messages, [], "no started/ended/progress messages");
    socket.destroy();
  });
});
