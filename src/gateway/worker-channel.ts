// The worker channel (docs/protocol.md, "Worker channel"): one long-lived request per worker
// carries credits and results up (newline-delimited JSON in the request body) and leases and
// result acknowledgements down (newline-delimited JSON in the response), in place of a lease
// long-poll and a results request per batch. The gateway grants at most the credit the worker
// gave; every message is one line.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { Clock, TimerHandle } from "../kube/clock.ts";
import type { LeaseGrant } from "./tasks.ts";
import { hop } from "../trace/hops.ts";

export interface ChannelDeps {
  clock: Clock;
  /** engine.lease for this worker: up to `max` grants, waiting up to `waitMs`. */
  lease(max: number, waitMs: number, signal: AbortSignal): Promise<LeaseGrant[]>;
  /** engine.unlease: grants that could not be delivered go back to the front of the queue. */
  unlease(grants: readonly LeaseGrant[]): void;
  /** The answers of a results message, once the outcomes are durable (server.ts applyResults). */
  applyResults(items: readonly unknown[]): Promise<unknown[]>;
  /**
   * A progress update of a task leased to this worker (as POST /v1/tasks/{id}/progress); false
   * when its lease is gone (the worker is told to cancel it).
   */
  progress(update: ProgressUpdate): boolean;
  renderGrants(grants: readonly LeaseGrant[]): string;
  /** Longest line a worker may send (a results message with outputs). */
  maxLineBytes: number;
  /** Most tasks granted at once. */
  maxBatch: number;
  /** The channel is ended (`{"end":true}`, the worker reconnects) after this long: under the server's request timeout. */
  lifetimeMs: number;
  /**
   * Ends the channel as its lifetime's end does, earlier, when what it fires on happens (the pod
   * the worker's token is bound to was deleted); returns how to stop watching. Absent: never.
   */
  endWhen?: ((end: () => void) => () => void) | undefined;
  /**
   * Credit given back: grants of this worker that its heartbeat showed never arrived (they are
   * queued again); `giveBack(n)` adds n to the channel's credit. Returns how to stop listening.
   */
  creditBack?: ((giveBack: (n: number) => void) => () => void) | undefined;
  /** One lease wait; the lease is asked again after it (and so the worker stays known). */
  leaseWaitMs: number;
  /**
   * How long acknowledgements may wait to ride on the next line (a grant) instead of a write and
   * a wake-up of the worker of their own. Default 5 ms.
   */
  ackDelayMs?: number;
}

const RELEASED = "released";

/** `{"progress":{…}}`: a running task's progress, in order with the results on the same channel. */
export interface ProgressUpdate {
  id: string;
  leaseId: string;
  value: number;
  message: string | undefined;
}

/** What a worker's line says; unknown fields are ignored. */
export interface ChannelMessage {
  want: number;
  results: unknown[] | undefined;
  stop: boolean;
  /** Malformed updates are dropped (like a 400 on the progress route). */
  progress: ProgressUpdate[];
}

function parseProgress(v: unknown): ProgressUpdate[] {
  const out: ProgressUpdate[] = [];
  for (const p of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
    if (typeof p !== "object" || p === null) continue;
    const { id, leaseId, value, message } = p as Record<string, unknown>;
    if (typeof id !== "string" || typeof leaseId !== "string" || typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) continue;
    out.push({ id, leaseId, value, message: typeof message === "string" ? message.slice(0, 4096) : undefined });
  }
  return out;
}

/** Parses one line of the worker's side; undefined when it is not a JSON object. */
export function parseChannelLine(line: string): ChannelMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const want = typeof o["want"] === "number" && Number.isInteger(o["want"]) ? o["want"] : 0;
  return { want, results: Array.isArray(o["results"]) ? o["results"] : undefined, stop: o["stop"] === true, progress: parseProgress(o["progress"]) };
}

/**
 * The two directions of one channel: the body and the response of a streaming POST, or the raw
 * connection after an upgrade (`Upgrade: hearth-channel`: the supervisor hands the connection
 * to its child process, which then speaks to the gateway directly).
 */
export interface ChannelIo {
  /** Text from the worker, in chunks; `end` once the worker ended its side. */
  onData(fn: (chunk: string) => void): void;
  onEnd(fn: () => void): void;
  /** The connection is gone. */
  onClose(fn: () => void): void;
  write(text: string): void;
  end(): void;
  /** Our side was ended. */
  readonly ended: boolean;
  /** Cuts the connection (a line over the limit). */
  destroy(): void;
}

/** The streaming POST: the 200 head is written at once. */
export function httpChannelIo(req: IncomingMessage, res: ServerResponse): ChannelIo {
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache", "x-accel-buffering": "no" });
  res.flushHeaders();
  req.setEncoding("utf8");
  return {
    onData: (fn) => req.on("data", fn),
    onEnd: (fn) => req.on("end", fn),
    onClose: (fn) => res.on("close", fn),
    write: (text) => res.write(text),
    end: () => res.end(),
    get ended() {
      return res.writableEnded;
    },
    destroy: () => req.destroy(),
  };
}

/** What the gateway answers an accepted channel upgrade with. */
export const CHANNEL_UPGRADE = "hearth-channel";

/**
 * An upgraded connection: the 101 answer is written at once; `head` is what the worker sent
 * after its request head (nothing, normally).
 */
export function socketChannelIo(socket: Duplex, head: Buffer): ChannelIo {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${CHANNEL_UPGRADE}\r\n\r\n`);
  // A reset connection ends in "close"; unhandled, its "error" would end the gateway.
  socket.on("error", () => {});
  // The HTTP server's sockets refuse setEncoding: a decoder keeps characters split across chunks whole.
  const text = new StringDecoder("utf8");
  const first = head.length > 0 ? text.write(head) : "";
  return {
    onData: (fn) => {
      if (first !== "") queueMicrotask(() => fn(first));
      socket.on("data", (chunk: Buffer) => fn(text.write(chunk)));
    },
    onEnd: (fn) => socket.on("end", fn),
    onClose: (fn) => socket.on("close", fn),
    write: (text) => socket.write(text),
    end: () => socket.end(),
    get ended() {
      return socket.writableEnded;
    },
    destroy: () => socket.destroy(),
  };
}

/** Serves one channel until the worker hangs up (or, after `end`, has sent everything). */
export function serveChannel(io: ChannelIo, deps: ChannelDeps): Promise<void> {
  return new Promise((resolveServed) => {
    let credit = 0;
    let leasing: AbortController | undefined;
    /** No more grants: the worker said stop, or the gateway said end. */
    let stopping = false;
    /** The worker ended its side. */
    let upDone = false;
    /** The socket is gone: nothing more can be delivered. */
    let gone = false;
    let acking = 0;
    let partial = "";
    /**
     * Acknowledgement lines not written yet: with sequential calls the next grant comes within
     * a millisecond, and one write and one wake-up of the worker carry both.
     */
    let acks = "";
    let ackTimer: TimerHandle | undefined;

    /** Writes `line` (after any acknowledgements waiting); `line` "" writes only those. */
    const send = (line: string): void => {
      ackTimer?.cancel();
      ackTimer = undefined;
      const text = line === "" ? acks : `${acks}${line}\n`;
      acks = "";
      if (text !== "" && !gone && !io.ended) io.write(text);
    };
    const sendAck = (line: string): void => {
      acks += `${line}\n`;
      ackTimer ??= deps.clock.setTimer(deps.ackDelayMs ?? 5, () => {
        ackTimer = undefined;
        send("");
      });
    };
    const finishIfDone = (): void => {
      if (gone) return;
      if (upDone && acking === 0 && leasing === undefined && !io.ended) {
        send("");
        io.end();
      }
    };
    /** The worker said stop: answered once no lease is pending, so that every grant precedes it. */
    let stopUnanswered = false;
    const answerStop = (): void => {
      if (!stopUnanswered || leasing !== undefined) return;
      stopUnanswered = false;
      send('{"stopped":true}');
    };
    const pump = (): void => {
      if (leasing !== undefined || gone || stopping || credit <= 0) return;
      const ac = new AbortController();
      leasing = ac;
      deps.lease(Math.min(credit, deps.maxBatch), deps.leaseWaitMs, ac.signal).then(
        (grants) => {
          leasing = undefined;
          if (gone) {
            deps.unlease(grants);
            return;
          }
          if (grants.length > 0) {
            credit -= grants.length;
            hop("g.grant");
            send(deps.renderGrants(grants));
          }
          answerStop();
          pump();
          finishIfDone();
        },
        () => {
          leasing = undefined;
          answerStop();
          finishIfDone();
        },
      );
    };
    /**
     * The credit shrank or leasing must stop: a waiting lease is asked again (or not). Aborted
     * with a reason: a bare abort() builds a DOMException with a stack, per task finished.
     */
    const releaseLease = (): void => leasing?.abort(RELEASED);

    /** No more grants; the worker is told to end the channel (and opens a new one if it may). */
    let endSent = false;
    const endChannel = (): void => {
      if (endSent) return;
      endSent = true;
      stopping = true;
      releaseLease();
      send('{"end":true}');
    };
    const lifetime = deps.clock.setTimer(deps.lifetimeMs, endChannel);
    const unwatch = deps.endWhen?.(() => {
      lifetime.cancel();
      endChannel();
    });
    const unCredit = deps.creditBack?.((n) => {
      if (gone || stopping || n <= 0) return;
      credit = Math.min(credit + n, 1_000_000);
      pump();
    });

    const onLine = (line: string): void => {
      if (line.trim() === "") return;
      const msg = parseChannelLine(line);
      if (msg === undefined) {
        send(JSON.stringify({ error: { type: "BadRequest", message: "each line must be a JSON object" } }));
        return;
      }
      // Before the results of the same line: an update never arrives after its task's outcome.
      if (msg.progress.length > 0) {
        const gone = msg.progress.filter((p) => !deps.progress(p)).map((p) => p.id);
        if (gone.length > 0) send(JSON.stringify({ cancel: gone }));
      }
      if (msg.results !== undefined && msg.results.length > 0) {
        acking++;
        hop("g.results");
        deps.applyResults(msg.results).then(
          (answers) => sendAck(`{"results":${JSON.stringify(answers)}}`),
          (err: unknown) => send(JSON.stringify({ error: { type: "Unavailable", message: err instanceof Error ? err.message : String(err) } })),
        ).finally(() => {
          acking--;
          finishIfDone();
        });
      }
      if (msg.stop) {
        stopping = true;
        credit = 0;
        releaseLease();
        stopUnanswered = true;
        answerStop();
      } else if (msg.want < 0) {
        credit = Math.max(0, credit + msg.want);
        // A waiting lease may grant more than the credit now allows: it is asked again.
        releaseLease();
        pump();
      } else if (msg.want > 0) {
        credit = Math.min(credit + msg.want, 1_000_000);
        // A waiting lease grants at most the smaller credit it was asked with, still allowed: it
        // goes on waiting (aborting and asking again cost more than a task), and once it answers
        // pump() asks for the rest. Only with no lease waiting does this start one.
        pump();
      }
    };

    io.onData((chunk: string) => {
      partial += chunk;
      let nl = partial.indexOf("\n");
      while (nl >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        onLine(line);
        nl = partial.indexOf("\n");
      }
      if (partial.length > deps.maxLineBytes) {
        send(JSON.stringify({ error: { type: "TooLarge", message: `a line is over ${deps.maxLineBytes} bytes` } }));
        io.end();
        io.destroy();
      }
    });
    io.onEnd(() => {
      if (partial !== "") onLine(partial);
      partial = "";
      upDone = true;
      stopping = true;
      releaseLease();
      finishIfDone();
    });
    io.onClose(() => {
      gone = true;
      stopping = true;
      lifetime.cancel();
      unwatch?.();
      unCredit?.();
      ackTimer?.cancel();
      releaseLease();
      resolveServed();
    });
  });
}
