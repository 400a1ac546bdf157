// The task journal (src/runtime/task-journal.ts): its slots' encoding, a real file shared by a
// writer and a reader, and real processes — a supervisor, its child on a worker channel from a
// scripted gateway, a real handler — where the supervisor learns of the child's tasks only from
// the journal: a deadline kills the child (Timeout), progress moves the deadline, a killed child
// fails the task it was running, and a task that just runs is reported by the child alone.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SystemClock } from "../../src/kube/clock.ts";
import type { FromChild } from "../../src/runtime/ipc.ts";
import { forkChild, Supervisor, type AdoptedOutcome, type ChildHandle } from "../../src/runtime/supervisor.ts";
import { createJournal, decodeJournal, decodeSlot, encodeSlot, encodeSlotAt, fdJournalWriter, SLOT_BYTES, type JournalEntry } from "../../src/runtime/task-journal.ts";
import { WorkerChannel } from "../../src/runtime/worker-channel.ts";
import { until } from "../support/until.ts";

const HANDLERS = fileURLToPath(new URL("../protocol/handlers/node/", import.meta.url));

const entry = (id: string, deadline = 1_700_000_000_000): JournalEntry => ({ id, leaseId: `l-${id}`, attempt: 2, timeoutSeconds: 30, deadline });

describe("task journal slots", () => {
  it("an entry reads back as written; a cleared slot is free", () => {
    const bytes = encodeSlot(entry("a"));
    assert.ok(bytes !== undefined && bytes.length <= SLOT_BYTES);
    assert.deepEqual(decodeSlot(bytes), entry("a"));
    assert.equal(decodeSlot(Buffer.alloc(SLOT_BYTES)), undefined);
  });

  it("an entry too large for a slot is refused (the child then says `started`)", () => {
    assert.equal(encodeSlot({ ...entry("a"), id: "x".repeat(SLOT_BYTES) }), undefined);
    // Across the slot's end with 3-byte characters: refused, or whole — never cut short of the end.
    for (let k = 400; k < 520; k++) {
      const e = { ...entry("a"), id: `${"x".repeat(k)}日日` };
      const bytes = encodeSlot(e);
      if (bytes !== undefined) assert.deepEqual(decodeSlot(bytes), e, `id of ${k} + 2`);
    }
  });

  it("a slot caught mid-write is torn, never a wrong entry, and makes the read incomplete", () => {
    const bytes = encodeSlot(entry("abc"));
    assert.ok(bytes !== undefined);
    const slots = Buffer.alloc(3 * SLOT_BYTES);
    bytes.copy(slots, 0);
    const half = Buffer.from(bytes);
    // A new entry's header over an older text (the copy reached the header first).
    half.write("z", half.length - 5);
    half.copy(slots, SLOT_BYTES);
    const read = decodeJournal(slots, 3);
    assert.deepEqual(read.entries, [entry("abc")]);
    assert.equal(read.complete, false);
    // A length past the slot is torn too.
    const long = Buffer.alloc(SLOT_BYTES);
    long.writeUInt32LE(SLOT_BYTES * 2, 0);
    assert.equal(decodeSlot(long), "torn");
  });

  it("a slot encoded in place (the writer's image) is byte for byte encodeSlot's, touches nothing else, and leaves everything as it was when it does not fit", () => {
    // Printable ASCII most of the time, any UTF-16 unit (lone surrogates too) now and then.
    const text = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(Math.random() < 0.8 ? 32 + Math.floor(Math.random() * 95) : Math.floor(Math.random() * 0x10000))).join("");
    let fitted = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const e: JournalEntry = { id: text(i % 600), leaseId: text(i % 17), attempt: i, timeoutSeconds: 1 + i, deadline: 1_700_000_000_000 + i };
      const image = Buffer.alloc(3 * SLOT_BYTES, 7);
      const before = Buffer.from(image);
      const n = encodeSlotAt(image, SLOT_BYTES, e);
      const expected = encodeSlot(e);
      if (expected === undefined) {
        refused++;
        assert.equal(n, undefined);
        assert.ok(image.equals(before), "unchanged when it does not fit");
        continue;
      }
      fitted++;
      assert.equal(n, expected.length);
      assert.ok(image.subarray(SLOT_BYTES, SLOT_BYTES + expected.length).equals(expected), `entry ${i}`);
      assert.deepEqual(decodeSlot(image.subarray(SLOT_BYTES, 2 * SLOT_BYTES)), e);
      assert.ok(image.subarray(0, SLOT_BYTES).equals(before.subarray(0, SLOT_BYTES)), "the slot before untouched");
      assert.ok(image.subarray(SLOT_BYTES + expected.length).equals(before.subarray(SLOT_BYTES + expected.length)), "the rest untouched");
    }
    assert.ok(fitted > 1000 && refused > 100, `both cases ran (${fitted} fitted, ${refused} refused)`);
  });

  it("a short file: the slots past its end are free", () => {
    const bytes = encodeSlot(entry("a"));
    assert.ok(bytes !== undefined);
    assert.deepEqual(decodeJournal(bytes, 8), { entries: [entry("a")], complete: true });
  });

  it("a real file: what the writer puts and clears on its descriptor, the reader sees", () => {
    const { fd, reader } = createJournal();
    try {
      const w = fdJournalWriter(fd);
      assert.deepEqual(reader.read(4), { entries: [], complete: true });
      assert.equal(w.put(0, entry("a")), true);
      assert.equal(w.put(3, entry("d")), true);
      assert.deepEqual(reader.read(4).entries, [entry("a"), entry("d")]);
      w.clear(0);
      assert.equal(w.put(3, entry("d", 5)), true);
      assert.deepEqual(reader.read(4), { entries: [entry("d", 5)], complete: true });
      // Only the first `slots` slots are read (the concurrency).
      assert.deepEqual(reader.read(2).entries, []);
      // Several at once: one write of the range; an entry too large is left out, the others recorded.
      const big = { ...entry("x"), id: "x".repeat(SLOT_BYTES) };
      assert.deepEqual([...w.putMany([{ slot: 0, entry: entry("a") }, { slot: 2, entry: big }, { slot: 1, entry: entry("b") }])], [0, 1]);
      assert.deepEqual(reader.read(4), { entries: [entry("a"), entry("b"), entry("d", 5)], complete: true });
      w.clearMany([0, 3]);
      assert.deepEqual(reader.read(4), { entries: [entry("b")], complete: true }, "slot 1, inside the range written, as it was");
      w.clearMany([]);
      assert.deepEqual(reader.read(4).entries, [entry("b")]);
    } finally {
      reader.close();
    }
  });
});

interface Grant {
  id: string;
  input: unknown;
  timeoutSeconds: number;
}

/** A gateway that upgrades channels and answers each unit of credit with the next queued grant. */
class ScriptedGateway {
  readonly server: Server;
  readonly lines: string[] = [];
  readonly queue: Grant[] = [];
  private readonly sockets = new Set<Duplex>();

  constructor() {
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on("upgrade", (_req: IncomingMessage, socket: Duplex) => {
      this.sockets.add(socket);
      socket.on("error", () => undefined);
      socket.write("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: hearth-channel\r\n\r\n");
      let partial = "";
      socket.on("data", (chunk: Buffer) => {
        partial += chunk.toString("utf8");
        for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
          const line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          this.lines.push(line);
          const doc = JSON.parse(line) as { want?: number; results?: { id: string }[] };
          for (let i = 0; i < (doc.want ?? 0); i++) {
            const g = this.queue.shift();
            if (g === undefined) break;
            const task = { id: g.id, attempt: 1, leaseId: `l-${g.id}`, encoding: "json", deadline: Date.now() + g.timeoutSeconds * 1000, timeoutSeconds: g.timeoutSeconds, input: g.input };
            socket.write(`${JSON.stringify({ tasks: [task] })}\n`);
          }
          if (doc.results !== undefined) socket.write(`${JSON.stringify({ results: doc.results.map((r) => ({ id: r.id, status: 200 })) })}\n`);
        }
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The results line that carries `id`'s outcome, once it arrived. */
  result(id: string): string | undefined {
    return this.lines.find((l) => l.startsWith('{"results":') && l.includes(`"id":"${id}"`));
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}


describe("the supervisor knows the child's tasks from its journal alone (real processes)", () => {
  const cleanups: (() => void)[] = [];
  after(() => {
    for (const c of cleanups) c();
  });

  /** A ready supervisor (timing handlers) whose child holds a channel to a fresh scripted gateway. */
  async function worker(handler: string) {
    const gw = new ScriptedGateway();
    await new Promise<void>((resolve) => gw.server.listen(0, "127.0.0.1", resolve));
    const outcomes = new Map<string, Promise<AdoptedOutcome>>();
    const messages: FromChild[] = [];
    const env = { PATH: process.env["PATH"] ?? "", HEARTH_HANDLER: handler, HEARTH_FUNCTION: "default/timing", HEARTH_CODE_PATH: HANDLERS };
    const spawn = forkChild(env);
    let child: ChildHandle | undefined;
    const sup = new Supervisor({
      spawn: () => {
        child = spawn();
        // What the child tells the supervisor (besides the journal), for the assertions below.
        child.onMessage((m) => {
          for (const one of Array.isArray(m) ? m : [m]) messages.push(one as FromChild);
        });
        return child;
      },
      clock: new SystemClock(),
      concurrency: 2,
      restartOnError: false,
      retrySetup: false,
      respawn: false,
      onStarted: (task, outcome) => outcomes.set(task.id, outcome),
    });
    sup.start();
    assert.equal(await sup.settled(), "ready", `setup: ${JSON.stringify(sup.setupError)}`);
    assert.ok(child?.journal !== undefined, "the child has a journal");
    const conn = await WorkerChannel.upgrade(gw.url, undefined, "default/timing", "w-journal");
    assert.ok(typeof conn === "object");
    assert.equal(sup.handOver(conn), true);
    cleanups.push(() => {
      sup.stop();
      gw.close();
    });
    const outcome = async (id: string): Promise<AdoptedOutcome> => {
      await until(`the supervisor to know ${id}`, () => outcomes.has(id), 20_000);
      const o = outcomes.get(id);
      assert.ok(o !== undefined);
      return o;
    };
    return { gw, sup, outcome, messages, pid: () => sup.childPid };
  }

  it("a task that just runs is reported by the child; the supervisor gets no message for it", async () => {
    const w = await worker("timing:sleep");
    w.gw.queue.push({ id: "quick", input: [0.05], timeoutSeconds: 5 });
    await until("quick's outcome on the channel", () => w.gw.result("quick") !== undefined, 20_000);
    assert.match(w.gw.result("quick") ?? "", /"output":\{"slept":0.05\}/);
    assert.deepEqual(w.messages.filter((m) => m.t !== "ready"), [], "no started/ended/progress messages");
    w.sup.refresh();
    assert.equal(w.sup.inFlight, 0);
  });

  it("a handler spinning past its deadline: the supervisor, reading the journal, kills the child (Timeout)", async () => {
    const w = await worker("timing:busy");
    const t0 = Date.now();
    w.gw.queue.push({ id: "spin", input: [30], timeoutSeconds: 1 });
    assert.deepEqual(await w.outcome("spin"), { kind: "failed", error: { type: "Timeout", message: "the attempt exceeded timeoutSeconds=1 without progress" } });
    // Killed long before the 30 s spin would end (the journal poll is at most 1 s behind a start).
    assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
    assert.equal(w.gw.result("spin"), undefined, "the child never reported it");
  });

  it("progress moves the deadline in the journal: three 0.6 s steps under timeoutSeconds=1 finish", async () => {
    const w = await worker("timing:steps");
    w.gw.queue.push({ id: "steps", input: [3, 0.6], timeoutSeconds: 1 });
    await until("steps' outcome on the channel", () => w.gw.result("steps") !== undefined, 30_000);
    assert.match(w.gw.result("steps") ?? "", /"output":\{"steps":3\}/);
    assert.equal(w.sup.state, "ready");
    assert.equal(w.messages.filter((m) => m.t === "progress").length, 0, "progress went on the channel and into the journal only");
  });

  it("a child killed while it runs a task fails that task as UserError, read from the journal after the exit", async () => {
    const w = await worker("timing:sleep");
    w.gw.queue.push({ id: "long", input: [30], timeoutSeconds: 60 });
    await until("the grant", () => w.gw.lines.some((l) => l.startsWith('{"want":')), 20_000);
    // The child records the task before its handler runs; give the grant time to arrive.
    await sleep(300);
    const pid = w.pid();
    assert.ok(pid !== undefined);
    process.kill(pid, "SIGKILL");
    assert.deepEqual(await w.outcome("long"), { kind: "failed", error: { type: "UserError", message: "the worker process was killed by SIGKILL while running the task" } });
  });
});
