// The worker's end of the worker channel (docs/protocol.md, "Worker channel"): one long-lived
// POST whose body carries credits (`{"want":n}`) and results up and whose response carries
// leases (`{"tasks":[…]}`) and acknowledgements (`{"results":[…]}`) down, one JSON object a line.
// Lines written in one turn (one callback of the event loop and its microtasks) leave as one chunk.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import type { LeasedTask, ResultAck } from "../protocol/index.ts";
import { parseAcks, parseTask, WorkerApiError } from "./worker-api.ts";
import { hop } from "../trace/hops.ts";

export interface ChannelEvents {
  tasks(tasks: LeasedTask[]): void;
  /** The gateway asked for a new channel (`{"end":true}`); this one takes no more lines. */
  ended(): void;
}

interface PendingAck {
  resolve: (a: ResultAck) => void;
  reject: (err: unknown) => void;
}

export class WorkerChannel {
  private readonly req: ClientRequest;
  private readonly events: ChannelEvents;
  private readonly pending = new Map<string, PendingAck>();
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

  private constructor(req: ClientRequest, res: IncomingMessage, events: ChannelEvents) {
    this.req = req;
    this.events = events;
    let closedResolve = (): void => {};
    this.closed = new Promise((r) => (closedResolve = r));
    let stoppedResolve = (): void => {};
    this.stopAnswered = new Promise((r) => (stoppedResolve = r));
    this.onStopped = stoppedResolve;
    let partial = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      partial += chunk;
      let nl = partial.indexOf("\n");
      while (nl >= 0) {
        this.onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
        nl = partial.indexOf("\n");
      }
    });
    const done = (): void => {
      this.open = false;
      const err = new Error("the worker channel closed");
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.queued = [];
      closedResolve();
      stoppedResolve();
    };
    res.on("end", done);
    res.on("close", done);
    res.on("error", done);
    req.on("error", done);
  }

  /**
   * Opens a channel; "unsupported" when the gateway does not know the route (an older gateway:
   * use lease/results requests). Other refusals throw WorkerApiError.
   */
  static open(gatewayUrl: string, token: string | undefined, fn: string, workerId: string, events: ChannelEvents, timeoutMs = 10_000): Promise<WorkerChannel | "unsupported"> {
    // fold=1: this runtime folds workflow reducer batches (docs/protocol.md, lease `fold`).
    const url = new URL(`/v1/workers/channel?function=${encodeURIComponent(fn)}&workerId=${encodeURIComponent(workerId)}&fold=1`, gatewayUrl);
    const headers: Record<string, string> = { "content-type": "application/x-ndjson", "transfer-encoding": "chunked" };
    if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: "POST", headers, agent: false });
      const timer = setTimeout(() => req.destroy(new Error(`the gateway did not answer the worker channel within ${timeoutMs} ms`)), timeoutMs);
      req.setNoDelay(true);
      req.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.once("response", (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status === 200) {
          resolve(new WorkerChannel(req, res, events));
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          req.destroy();
          if (status === 404 || status === 405) resolve("unsupported");
          else reject(new WorkerApiError(status, `worker channel refused: HTTP ${status}: ${Buffer.concat(chunks).toString("utf8").slice(0, 500)}`));
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

  /** No more tasks on this channel (draining); results may still be sent. */
  stop(): void {
    this.write('{"stop":true}');
  }

  /** Several outcomes (resultItem() texts), answered per id once durable. */
  results(items: readonly string[], ids: readonly string[]): Promise<ResultAck[]> {
    if (!this.open) return Promise.reject(new Error("the worker channel is closed"));
    const acks = ids.map(
      (id) =>
        new Promise<ResultAck>((resolve, reject) => {
          this.pending.get(id)?.reject(new Error(`task ${id} was reported again`));
          this.pending.set(id, { resolve, reject });
        }),
    );
    this.write(`{"results":[${items.join(",")}]}`);
    return Promise.all(acks);
  }

  /** Ends our side; acknowledgements still due arrive before the gateway ends its side. */
  close(): void {
    if (this.req.writableEnded) return;
    this.flush();
    this.open = false;
    this.req.end();
  }

  /** Hangs up at once (fatal exit). */
  destroy(): void {
    this.open = false;
    this.req.destroy();
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
    if (this.queued.length === 0 || this.req.writableEnded || this.req.destroyed) return;
    const text = `${this.queued.join("\n")}\n`;
    this.queued = [];
    hop("s.write");
    this.req.write(text);
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
      hop("s.tasks");
      if (out.length > 0) this.events.tasks(out);
    }
    if (Array.isArray(doc["results"])) {
      for (const a of parseAcks(doc["results"])) {
        const p = this.pending.get(a.id);
        if (p === undefined) continue;
        this.pending.delete(a.id);
        p.resolve(a);
      }
    }
    if (doc["end"] === true) {
      this.flush();
      this.open = false;
      this.events.ended();
      if (!this.req.writableEnded) this.req.end();
    }
    const error = doc["error"];
    if (typeof error === "object" && error !== null) {
      // A results message the gateway could not take (its store failed): those reports are retried.
      const m = (error as Record<string, unknown>)["message"];
      const message = typeof m === "string" ? m : "worker channel error";
      for (const p of this.pending.values()) p.reject(new Error(message));
      this.pending.clear();
    }
  }
}
