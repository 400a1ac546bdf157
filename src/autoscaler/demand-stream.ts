// The operator's end of the gateway's demand stream (GET /v1/demand, server-sent events):
// connects, hands every `snapshot` and `demand` message to the autoscaler, and reconnects with
// back-off. A stream that goes silent (no ping for `silenceMs`) is treated as broken, so the
// autoscaler learns within seconds that its data is stale and holds its pools.
import { z } from "zod";
import { SystemClock, type Clock } from "../kube/clock.ts";

export const functionDemand = z.object({
  namespace: z.string(),
  name: z.string(),
  queued: z.int().min(0),
  inflight: z.int().min(0),
  readyWorkers: z.int().min(0),
  busyWorkers: z.int().min(0),
  busy: z.array(z.string()).default([]),
  coldStarting: z.boolean().default(false),
  lastColdStart: z.object({ seconds: z.number().min(0), time: z.string() }).optional(),
});
export type FunctionDemandMessage = z.infer<typeof functionDemand>;

const message = z.object({ functions: z.array(functionDemand) });

export type StreamEvent = { type: "snapshot" | "demand"; functions: FunctionDemandMessage[] } | { type: "down"; error: string };

export interface DemandStreamOptions {
  url: string;
  /** Bearer token (read at each connect: the file may be rotated). */
  token: () => Promise<string | undefined>;
  onEvent: (ev: StreamEvent) => void;
  /** No bytes (data or ping) for this long: reconnect. Default 15 s (the gateway pings every 5 s). */
  silenceMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Back-off waits and the silence watchdog run on it. Default: the system clock. */
  clock?: Clock;
}

/** Parses SSE text incrementally: complete events out, the incomplete tail kept. */
export class SseParser {
  private pending = "";

  push(chunk: string): { event: string; data: string }[] {
    this.pending += chunk;
    const out: { event: string; data: string }[] = [];
    let end: number;
    while ((end = this.pending.indexOf("\n\n")) >= 0) {
      const block = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length > 0) out.push({ event, data: data.join("\n") });
    }
    return out;
  }
}

export class DemandStream {
  private readonly o: DemandStreamOptions;
  private abort: AbortController | undefined;
  private readonly clock: Clock;
  private stopped = false;

  constructor(opts: DemandStreamOptions) {
    this.o = opts;
    this.clock = opts.clock ?? new SystemClock();
  }

  /** Runs until stop(): connect, read, reconnect. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = this.o.minBackoffMs ?? 100;
    const max = this.o.maxBackoffMs ?? 5000;
    while (!this.stopped && !signal.aborted) {
      let got = false;
      try {
        await this.once(signal, () => {
          got = true;
          backoff = this.o.minBackoffMs ?? 100;
        });
        if (!this.stopped && !signal.aborted) this.o.onEvent({ type: "down", error: "the gateway closed the demand stream" });
      } catch (err) {
        if (this.stopped || signal.aborted) return;
        this.o.onEvent({ type: "down", error: err instanceof Error ? err.message : String(err) });
      }
      if (!got) backoff = Math.min(max, backoff * 2);
      await this.clock.sleep(backoff, signal).catch(() => undefined);
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async once(signal: AbortSignal, connected: () => void): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const both = AbortSignal.any([signal, abort.signal]);
    const silenceMs = this.o.silenceMs ?? 15_000;
    const silent = (): void => abort.abort(new Error(`no data or ping for ${silenceMs} ms`));
    let watchdog = this.clock.setTimer(silenceMs, silent);
    const alive = (): void => {
      watchdog.cancel();
      watchdog = this.clock.setTimer(silenceMs, silent);
    };
    try {
      const token = await this.o.token();
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
      const res = await fetch(this.o.url, { headers, signal: both });
      if (!res.ok || res.body === null) {
        const text = await res.text().catch(() => "");
        throw new Error(`GET /v1/demand answered ${res.status}${text !== "" ? `: ${text.slice(0, 200)}` : ""}`);
      }
      const parser = new SseParser();
      const decoder = new TextDecoder();
      let first = true;
      const reader = res.body.getReader();
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        alive();
        for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (ev.event !== "snapshot" && ev.event !== "demand") continue;
          const parsed = message.safeParse(JSON.parse(ev.data));
          if (!parsed.success) throw new Error(`malformed ${ev.event} message: ${parsed.error.issues[0]?.message ?? "invalid"}`);
          if (first) {
            if (ev.event !== "snapshot") throw new Error("the demand stream did not start with a snapshot");
            first = false;
            connected();
          }
          this.o.onEvent({ type: ev.event, functions: parsed.data.functions });
        }
      }
    } catch (err) {
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : err;
      throw reason instanceof Error ? reason : new Error(String(reason));
    } finally {
      watchdog.cancel();
    }
  }
}
