// Outcomes on the worker channel without a promise per outcome (WorkerChannel.sendResults, and the
// child's ChildChannel on top of it), on a real loopback connection whose gateway side is scripted
// here: each outcome hears its own acknowledgement, or that none will come (the channel closed, an
// error line, the task reported again) — and then the child hands it to its supervisor.
import assert from "node:assert/strict";
import { createServer, Socket, type AddressInfo, type Server } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { SystemClock } from "../../src/kube/clock.ts";
import type { ResultAck } from "../../src/protocol/index.ts";
import { ChildChannel } from "../../src/runtime/child-channel.ts";
import type { ChildOutcome, TaskToRun } from "../../src/runtime/child.ts";
import type { FromChild } from "../../src/runtime/ipc.ts";
import { resultItem } from "../../src/runtime/worker-api.ts";
import { WorkerChannel, type SentResult } from "../../src/runtime/worker-channel.ts";
import { until } from "../support/until.ts";

/** Waits for `find` to find something, and returns it. */
async function found<T>(what: string, find: () => T | undefined): Promise<T> {
  let v: T | undefined;
  await until(what, () => (v = find()) !== undefined);
  if (v === undefined) throw new Error(`${what}: not found`);
  return v;
}

describe("outcomes on the worker channel, one answer each", () => {
  let server: Server;
  let gatewaySide: Socket | undefined;
  let received: string[] = [];
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
  beforeEach(() => {
    gatewaySide?.destroy();
    gatewaySide = undefined;
    received = [];
  });

  const connect = async (): Promise<Socket> => {
    const socket = new Socket();
    await new Promise<void>((resolve) => socket.connect((server.address() as AddressInfo).port, "127.0.0.1", resolve));
    await until("the gateway side", () => gatewaySide !== undefined);
    return socket;
  };

  /** A result that records what it was told. */
  const sent = (id: string, told: string[]): SentResult => ({
    id,
    item: resultItem(id, `l-${id}`, { output: "1" }),
    acked: (a: ResultAck) => void told.push(`${id} acked ${a.status}`),
    lost: (err: unknown) => void told.push(`${id} lost: ${err instanceof Error ? err.message : String(err)}`),
  });

  it("writes one results line at once; each result hears its own acknowledgement, a repeat and an error line end the waits", async () => {
    const socket = await connect();
    const ch = WorkerChannel.fromSocket({ socket, head: Buffer.alloc(0) }, { tasks: () => undefined, ended: () => undefined });
    const told: string[] = [];
    ch.sendResults([sent("a", told), sent("b", told)]);
    // Written in this turn, not at its end.
    assert.equal(socket.writableLength + socket.bytesWritten > 0, true);
    await until("the results line", () => received.some((l) => l.startsWith('{"results"')));
    assert.deepEqual((JSON.parse(received[0] ?? "") as { results: { id: string }[] }).results.map((r) => r.id), ["a", "b"]);
    gatewaySide?.write('{"results":[{"id":"b","status":200},{"id":"x","status":200}]}\n');
    await until("b's answer", () => told.length > 0);
    assert.deepEqual(told, ["b acked 200"], "only b was answered; an unknown id is ignored");
    // a reported again: the first report will hear nothing more.
    ch.sendResults([sent("a", told)]);
    assert.deepEqual(told.slice(1), ["a lost: task a was reported again"]);
    // The gateway could not take a results message: every result waiting hears it.
    gatewaySide?.write('{"error":{"type":"Unavailable","message":"the store failed"}}\n');
    await until("the error", () => told.length === 3);
    assert.deepEqual(told.slice(2), ["a lost: the store failed"]);
    // Waiting when the channel closes; and sent after it closed.
    ch.sendResults([sent("c", told)]);
    gatewaySide?.destroy();
    await ch.closed;
    assert.deepEqual(told.slice(3), ["c lost: the worker channel closed"]);
    ch.sendResults([sent("d", told)]);
    assert.deepEqual(told.slice(4), ["d lost: the worker channel is closed"]);
    socket.destroy();
  });

  it("the child: an outcome answered 200 is done; one the gateway refused is logged; one left unanswered when the channel closes goes to the supervisor", async () => {
    const messages: FromChild[] = [];
    const logs: string[] = [];
    const done = new Map<string, (o: ChildOutcome) => void>();
    const channel = new ChildChannel({
      runtime: {
        run: (task: TaskToRun, finish: (o: ChildOutcome) => void) => {
          done.set(task.id, finish);
          return Promise.resolve();
        },
        cancel: () => undefined,
      },
      clock: new SystemClock(),
      notify: (m) => messages.push(m),
      notifyNow: (m) => messages.push(m),
      exit: () => undefined,
      supervised: () => true,
      log: (l) => logs.push(l),
    });
    const socket = await connect();
    channel.attach(socket, Buffer.alloc(0), { concurrency: 4, restartOnError: false });
    await until("credit", () => received.some((l) => l.startsWith('{"want":')));
    const grant = (id: string): string => JSON.stringify({ id, attempt: 1, leaseId: `l-${id}`, input: null, timeoutSeconds: 30, deadline: Date.now() + 30_000 });
    gatewaySide?.write(`{"tasks":[${grant("a")},${grant("b")},${grant("c")}]}\n`);
    await until("three tasks run", () => done.size === 3);
    const started = messages.filter((m) => m.t === "started");
    assert.equal(started.length, 1, "no journal: the supervisor is told the grant's tasks once");
    // Outcomes of one turn leave as one results line.
    done.get("a")?.({ output: '"A"' });
    done.get("b")?.({ output: '"B"' });
    done.get("c")?.({ error: { type: "UserError", message: "boom" } });
    const line = await found("the results line", () => received.find((l) => l.startsWith('{"results"')));
    const items = (JSON.parse(line) as { results: { id: string; output?: unknown; error?: { type: string; exitCode: number } }[] }).results;
    assert.deepEqual(items.map((r) => r.id), ["a", "b", "c"]);
    assert.equal(items[0]?.output, "A");
    assert.equal(items[2]?.error?.type, "UserError");
    assert.equal(items[2]?.error?.exitCode, 1);
    gatewaySide?.write('{"results":[{"id":"a","status":200},{"id":"b","status":404,"message":"no such task"}]}\n');
    await until("b's refusal logged", () => logs.some((l) => l.includes("reporting task b failed: HTTP 404: no such task")));
    assert.equal(channel.running, 0);
    // c is still unanswered when the gateway goes: the supervisor sends it (and retries).
    gatewaySide?.destroy();
    const report = await found("c handed to the supervisor", () => messages.find((m) => m.t === "report"));
    assert.deepEqual(report, { t: "report", id: "c", item: items[2] === undefined ? "" : JSON.stringify(items[2]) });
    assert.equal(messages.filter((m) => m.t === "report").length, 1, "a and b were answered: not sent again");
    await until("the channel closed", () => messages.some((m) => m.t === "channelClosed"));
    socket.destroy();
  });
});
