// The worker's end of the worker channel (docs/protocol.md, "Worker channel"): one long-lived
// POST whose body carries credits (`{"want":n}`) and results up and whose response carries
// leases (`{"tasks":[…]}`) and acknowledgements (`{"results":[…]}`) down, one JSON object a line.
// Lines written in one turn (one callback of the event loop and its microtasks) leave as one chunk.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import type { LeasedTask, ResultAck } from "../protocol/index.ts";
import { parseAcks, parseTask, WorkerApiError } from "./worker-api.ts";
import { hop } from "../trace/hops.ts";

export interface ChannelEvents {
  tasks(tasks: LeasedTask[]): void;
  /** The gateway asked for a new channel (`{"end":true}`); this one takes no more lines. */
  ended(): void;
  /** The leases of these tasks are gone (`{"cancel":[…]}`, the answer to a progress line). */
  cancel?(ids: string[]): void;
}

/** Our direction of a channel: the streaming request's body, or the upgraded connection. */
interface Up {
  write(text: string): void;
  end(): void;
  destroy(): void;
  /** Ended or destroyed: nothing more can be written. */
  readonly done: boolean;
}

/** Our direction on a writable stream: the streaming request (ClientRequest) or the upgraded socket. */
function upOf(w: Writable): Up {
  return {
    write: (text) => void w.write(text),
    end: () => void w.end(),
    destroy: () => void w.destroy(),
    get done() {
      return w.writableEnded || w.destroyed;
    },
  };
}

/** What the gateway answers a channel upgrade with (src/gateway/worker-channel.ts). */
export const CHANNEL_UPGRADE = "hearth-channel";

/** An upgraded connection before it becomes a channel (it may be handed to another process). */
export interface UpgradedChannel {
  socket: Socket;
  /** What the gateway sent after its 101 answer (nothing, normally). */
  head: Buffer;
}

/**
 * One outcome sent on the channel (sendResults): told its acknowledgement, or that none will come
 * (the channel closed, the gateway could not take it, or the task was reported again).
 */
export interface SentResult {
  readonly id: string;
  /** The resultItem() text. */
  readonly item: string;
  acked(ack: ResultAck): void;
  lost(err: unknown): void;
}

export class WorkerChannel {
  private readonly up: Up;
  /** hop() marks of this end: "s" in the supervisor, "k" in the child (direct mode). */
  private readonly role: string;
  /** The hop() marks of this end, built once. */
  private readonly tasksMark: string;
  private readonly writeMark: string;
  private readonly events: ChannelEvents;
  /** Results sent and not yet acknowledged, by task id. */
  private readonly pending = new Map<string, SentResult>();
  private queued: string[] = [];
  private flushScheduled = false;
  private open = true;
  /** Resolves when the channel is closed, for whatever reason. */
  readonly closed: Promise<void>;
  /**
   * Resolves when the gateway answered our stop (`{"stopped":true}`, written after every grant it
   * made) or the channel closed. Older gateways never answer: wait for it with a bound.
   */
  readonly stopAnswered: Promise<void>;
  private readonly onStopped: () => void;
  private readonly markClosed: () => void;

  private constructor(up: Up, down: Readable, events: ChannelEvents, head = "", role = "s") {
    this.up = up;
    this.role = role;
    this.tasksMark = `${role}.tasks`;
    this.writeMark = `${role}.write`;
    this.events = events;
    let closedResolve = (): void => {};
    this.closed = new Promise((r) => (closedResolve = r));
    let stoppedResolve = (): void => {};
    this.stopAnswered = new Promise((r) => (stoppedResolve = r));
    this.onStopped = stoppedResolve;
    let partial = head;
    const feed = (chunk: string): void => {
      partial += chunk;
      let nl = partial.indexOf("\n");
      while (nl >= 0) {
        this.onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
        nl = partial.indexOf("\n");
      }
    };
    down.setEncoding("utf8");
    down.on("data", feed);
    if (head.includes("\n")) queueMicrotask(() => feed(""));
    const done = (): void => {
      this.open = false;
      this.loseAll(new Error("the worker channel closed"));
      this.queued = [];
      closedResolve();
      stoppedResolve();
    };
    this.markClosed = done;
    down.on("end", done);
    down.on("close", done);
    down.on("error", done);
  }

  /** The channel on a streaming request (`req`) and its response (`res`). */
  private static onRequest(req: ClientRequest, res: Readable, events: ChannelEvents): WorkerChannel {
    const ch = new WorkerChannel(upOf(req), res, events);
    req.on("error", () => ch.markClosed());
    return ch;
  }

  /** The channel on an upgraded connection (upgrade()), in this process or the one it was handed to. */
  static fromSocket(conn: UpgradedChannel, events: ChannelEvents, role = "s"): WorkerChannel {
    const { socket } = conn;
    socket.setNoDelay(true);
    return new WorkerChannel(
      upOf(socket),
      socket,
      events,
      conn.head.length > 0 ? conn.head.toString("utf8") : "",
      role,
    );
  }

  /**
   * Opens a channel on a connection of its own (`Upgrade: hearth-channel`), to be handed to the
   * child process. "unsupported": the gateway does not upgrade (it is older): open() then.
   * "none": it has no worker channel at all (lease/results requests). Refusals throw WorkerApiError.
   */
  static upgrade(gatewayUrl: string, token: string | undefined, fn: string, workerId: string, timeoutMs = 10_000): Promise<UpgradedChannel | "unsupported" | "none"> {
    return new Promise((resolve, reject) => {
      const { req, answered } = channelRequest(channelUrl(gatewayUrl, fn, workerId), token, { connection: "upgrade", upgrade: CHANNEL_UPGRADE, "content-length": "0" }, timeoutMs, reject);
      req.once("upgrade", (_res, socket: Socket, head: Buffer) => {
        answered();
        // Not stopped from reading here: the stream reads ahead again on the next tick (after the
        // 101 arrived). handOff() stops it in the turn the connection leaves this process. A reset
        // before then must not end this process (the HTTP client no longer listens for errors).
        socket.on("error", () => undefined);
        resolve({ socket, head });
      });
      req.once("response", (res) => {
        answered();
        readRefusal(req, res, (status, err) => {
          // An older gateway serves the request as a streaming channel (that ends at once).
          if (status === 200) resolve("unsupported");
          else if (status === 404 || status === 405) resolve("none");
          else reject(err);
        });
      });
      req.end();
    });
  }

  /**
   * Opens a channel; "unsupported" when the gateway does not know the route (an older gateway:
   * use lease/results requests). Other refusals throw WorkerApiError.
   */
  static open(gatewayUrl: string, token: string | undefined, fn: string, workerId: string, events: ChannelEvents, timeoutMs = 10_000): Promise<WorkerChannel | "unsupported"> {
    return new Promise((resolve, reject) => {
      const { req, answered } = channelRequest(channelUrl(gatewayUrl, fn, workerId), token, { "content-type": "application/x-ndjson", "transfer-encoding": "chunked" }, timeoutMs, reject);
      req.once("response", (res) => {
        answered();
        if (res.statusCode === 200) {
          resolve(WorkerChannel.onRequest(req, res, events));
          return;
        }
        readRefusal(req, res, (status, err) => {
          if (status === 404 || status === 405) resolve("unsupported");
          else reject(err);
        });
      });
      req.flushHeaders();
    });
  }

  /** True while lines can be sent (not ended by either side). */
  get writable(): boolean {
    return this.open;
  }

  /** Gives the gateway `delta` more (or, negative, fewer) tasks' credit. */
  want(delta: number): void {
    if (delta !== 0) this.write(`{"want":${delta}}`);
  }

  /** A running task's progress; it reaches the gateway before the task's outcome. */
  progress(id: string, leaseId: string, value: number, message: string | undefined): void {
    this.write(`{"progress":${JSON.stringify(message === undefined ? { id, leaseId, value } : { id, leaseId, value, message })}}`);
  }

  /** No more tasks on this channel (draining); results may still be sent. */
  stop(): void {
    this.write('{"stop":true}');
  }

  /**
   * Several outcomes (resultItem() texts), answered per id once durable. `now`: written at once
   * with the lines before it, not at the end of the turn (the caller batched the turn already).
   */
  results(items: readonly string[], ids: readonly string[], now = false): Promise<ResultAck[]> {
    if (!this.open) return Promise.reject(new Error("the worker channel is closed"));
    const acks = ids.map(
      (id, i) =>
        new Promise<ResultAck>((resolve, reject) => {
          this.expect({ id, item: items[i] ?? "", acked: resolve, lost: reject });
        }),
    );
    this.write(`{"results":[${items.join(",")}]}`);
    if (now) this.flush();
    return Promise.all(acks);
  }

  /**
   * Several outcomes as one results line, written at once with the lines before it (the caller
   * batched the turn); each is told its own answer. No promise per outcome: the child's path
   * (child-channel.ts). A closed channel: each is told lost, now.
   */
  sendResults(results: readonly SentResult[]): void {
    if (!this.open) {
      const err = new Error("the worker channel is closed");
      for (const r of results) r.lost(err);
      return;
    }
    let line = '{"results":[';
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (r === undefined) continue;
      this.expect(r);
      line += i === 0 ? r.item : `,${r.item}`;
    }
    this.write(`${line}]}`);
    this.flush();
  }

  private expect(r: SentResult): void {
    const before = this.pending.get(r.id);
    this.pending.set(r.id, r);
    before?.lost(new Error(`task ${r.id} was reported again`));
  }

  /** Every result still waiting is told it will not be answered. */
  private loseAll(err: Error): void {
    if (this.pending.size === 0) return;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const r of all) r.lost(err);
  }

  /** Ends our side; acknowledgements still due arrive before the gateway ends its side. */
  close(): void {
    if (this.up.done) return;
    this.flush();
    this.open = false;
    this.up.end();
  }

  /** Hangs up at once (fatal exit). */
  destroy(): void {
    this.open = false;
    this.up.destroy();
  }

  private write(line: string): void {
    if (!this.open) return;
    this.queued.push(line);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.queued.length === 0 || this.up.done) return;
    const text = `${this.queued.join("\n")}\n`;
    this.queued = [];
    hop(this.writeMark);
    this.up.write(text);
  }

  private onLine(line: string): void {
    if (line.trim() === "") return;
    let doc: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v !== "object" || v === null) return;
      doc = v as Record<string, unknown>;
    } catch {
      return;
    }
    if (doc["stopped"] === true) this.onStopped();
    const tasks = doc["tasks"];
    if (Array.isArray(tasks)) {
      const out: LeasedTask[] = [];
      for (const t of tasks) {
        const task = parseTask(t);
        if (task !== undefined) out.push(task);
      }
      hop(this.tasksMark);
      if (out.length > 0) this.events.tasks(out);
    }
    if (Array.isArray(doc["results"])) {
      for (const a of parseAcks(doc["results"])) {
        const p = this.pending.get(a.id);
        if (p === undefined) continue;
        this.pending.delete(a.id);
        p.acked(a);
      }
    }
    const cancel = doc["cancel"];
    if (Array.isArray(cancel)) this.events.cancel?.(cancel.filter((c): c is string => typeof c === "string"));
    if (doc["end"] === true) {
      this.flush();
      this.open = false;
      this.events.ended();
      if (!this.up.done) this.up.end();
    }
    const error = doc["error"];
    if (typeof error === "object" && error !== null) {
      // A results message the gateway could not take (its store failed): those reports are retried.
      const m = (error as Record<string, unknown>)["message"];
      this.loseAll(new Error(typeof m === "string" ? m : "worker channel error"));
    }
  }
}

/**
 * Readies an upgraded connection to be sent to another process; call it in the same turn as the
 * send (child_process `send(msg, socket)`). Until that send the socket is read by this process,
 * and until the child acknowledges the handle Node keeps reading it here too, dropping what it
 * reads: each such read would lose a grant, and with it the channel's credit. So reading stops
 * now — stopping it any earlier does not hold, as the stream reads ahead again on its own (on the
 * tick after each chunk, e.g. the 101's) — and what was read already goes along: returns `head`
 * and that, for the child to read first; undefined when the connection is gone already.
 */
export function handOff(conn: UpgradedChannel): Buffer | undefined {
  const { socket, head } = conn;
  // Closed while it waited (the gateway ended it, a reset): there is nothing to send.
  if (socket.destroyed) return undefined;
  // read() may start the reads underneath again: it comes first.
  const buffered: unknown = socket.readableLength > 0 ? socket.read() : null;
  stopReading(socket);
  return Buffer.isBuffer(buffered) ? Buffer.concat([head, buffered]) : head;
}

/** fold=1: this runtime folds workflow reducer batches (docs/protocol.md, lease `fold`). */
/**
 * The POST that opens a channel (streaming or upgraded), bounded by `timeoutMs` until
 * `answered()`; a connection error goes to `reject`.
 */
function channelRequest(url: URL, token: string | undefined, headers: Record<string, string>, timeoutMs: number, reject: (err: unknown) => void): { req: ClientRequest; answered: () => void } {
  const req = httpRequest(url, { method: "POST", headers: token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` }, agent: false });
  const timer = setTimeout(() => req.destroy(new Error(`the gateway did not answer the worker channel within ${timeoutMs} ms`)), timeoutMs);
  req.setNoDelay(true);
  req.once("error", (err) => {
    clearTimeout(timer);
    reject(err);
  });
  return { req, answered: () => clearTimeout(timer) };
}

/** Reads an answer that opened no channel to its end, closes the request, then `settle(status, the refusal as an error)`. */
function readRefusal(req: ClientRequest, res: IncomingMessage, settle: (status: number, err: WorkerApiError) => void): void {
  const status = res.statusCode ?? 0;
  const chunks: Buffer[] = [];
  res.on("data", (c: Buffer) => chunks.push(c));
  res.on("end", () => {
    req.destroy();
    settle(status, new WorkerApiError(status, `worker channel refused: HTTP ${status}: ${Buffer.concat(chunks).toString("utf8").slice(0, 500)}`));
  });
}

function channelUrl(gatewayUrl: string, fn: string, workerId: string): URL {
  return new URL(`/v1/workers/channel?function=${encodeURIComponent(fn)}&workerId=${encodeURIComponent(workerId)}&fold=1`, gatewayUrl);
}

/**
 * Stops `socket` reading from the kernel (a later read() or "data" listener starts it again).
 * Node has no public call for it: pause() stops only the stream, not the reads underneath.
 */
function stopReading(socket: Socket): void {
  const handle: unknown = Reflect.get(socket, "_handle");
  if (typeof handle !== "object" || handle === null) return;
  const readStop: unknown = Reflect.get(handle, "readStop");
  if (typeof readStop !== "function") return;
  Reflect.set(handle, "reading", false);
  readStop.call(handle);
}
