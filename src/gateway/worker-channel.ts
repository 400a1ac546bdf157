// The worker channel (docs/protocol.md, "Worker channel"): one long-lived request per worker
// carries credits and results up (newline-delimited JSON in the request body) and leases and
// result acknowledgements down (newline-delimited JSON in the response), in place of a lease
// long-poll and a results request per batch. The gateway grants at most the credit the worker
// gave; every message is one line.
import type { IncomingMessage, ServerResponse } from "node:http";
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
  renderGrants(grants: readonly LeaseGrant[]): string;
  /** Longest line a worker may send (a results message with outputs). */
  maxLineBytes: number;
  /** Most tasks granted at once. */
  maxBatch: number;
  /** The channel is ended (`{"end":true}`, the worker reconnects) after this long: under the server's request timeout. */
  lifetimeMs: number;
  /** One lease wait; the lease is asked again after it (and so the worker stays known). */
  leaseWaitMs: number;
  /**
   * How long acknowledgements may wait to ride on the next line (a grant) instead of a write and
   * a wake-up of the worker of their own. Default 5 ms.
   */
  ackDelayMs?: number;
}

const RELEASED = "released";

/** What a worker's line says; unknown fields are ignored. */
export interface ChannelMessage {
  want: number;
  results: unknown[] | undefined;
  stop: boolean;
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
  return { want, results: Array.isArray(o["results"]) ? o["results"] : undefined, stop: o["stop"] === true };
}

/** Serves one channel until the worker hangs up (or, after `end`, has sent everything). */
export function serveChannel(req: IncomingMessage, res: ServerResponse, deps: ChannelDeps): Promise<void> {
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

    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache", "x-accel-buffering": "no" });
    res.flushHeaders();
    /** Writes `line` (after any acknowledgements waiting); `line` "" writes only those. */
    const send = (line: string): void => {
      ackTimer?.cancel();
      ackTimer = undefined;
      const text = line === "" ? acks : `${acks}${line}\n`;
      acks = "";
      if (text !== "" && !gone && !res.writableEnded) res.write(text);
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
      if (upDone && acking === 0 && leasing === undefined && !res.writableEnded) {
        send("");
        res.end();
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

    const lifetime = deps.clock.setTimer(deps.lifetimeMs, () => {
      stopping = true;
      releaseLease();
      send('{"end":true}');
    });

    const onLine = (line: string): void => {
      if (line.trim() === "") return;
      const msg = parseChannelLine(line);
      if (msg === undefined) {
        send(JSON.stringify({ error: { type: "BadRequest", message: "each line must be a JSON object" } }));
        return;
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

    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
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
        res.end();
        req.destroy();
      }
    });
    req.on("end", () => {
      if (partial !== "") onLine(partial);
      partial = "";
      upDone = true;
      stopping = true;
      releaseLease();
      finishIfDone();
    });
    res.on("close", () => {
      gone = true;
      stopping = true;
      lifetime.cancel();
      ackTimer?.cancel();
      releaseLease();
      resolveServed();
    });
  });
}
