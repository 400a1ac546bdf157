// Outcomes that finish in one turn leave as one results message (warm.ts, child-channel.ts).
import type { ResultAck } from "../protocol/index.ts";

export interface PendingResult {
  id: string;
  item: string;
  resolve: (a: { status: number; message?: string }) => void;
  reject: (err: unknown) => void;
}

/** Where a batch of outcomes goes: the worker channel or a results request. */
export interface ResultSender {
  results(items: readonly string[], ids: readonly string[]): Promise<ResultAck[]>;
}

/**
 * Sends the outcomes that finish in one turn (the child's message of outcomes, and the
 * microtasks it starts) as one results call: with many tasks in flight, one request per outcome
 * would cost the gateway more than the tasks themselves. A microtask, not setImmediate: a lone
 * outcome leaves before the event loop polls again.
 */
export class ResultBatcher {
  private readonly api: ResultSender;
  private readonly maxBytes: number;
  private pending: PendingResult[] = [];
  private scheduled = false;

  constructor(api: ResultSender, maxBytes = 1024 * 1024) {
    this.api = api;
    this.maxBytes = maxBytes;
  }

  /** Outcomes not yet sent, for a lease request to carry; settle() or resend() them after. */
  takePending(): PendingResult[] {
    const all = this.pending;
    this.pending = [];
    return all;
  }

  settle(items: readonly PendingResult[], acks: readonly ResultAck[]): void {
    const byId = new Map(acks.map((a) => [a.id, a]));
    for (const p of items) {
      const a = byId.get(p.id);
      p.resolve(a === undefined ? { status: 500, message: "no answer for this task" } : a.message === undefined ? { status: a.status } : { status: a.status, message: a.message });
    }
  }

  resend(items: readonly PendingResult[]): void {
    if (items.length === 0) return;
    this.pending.push(...items);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  submit(id: string, item: string): Promise<{ status: number; message?: string }> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id, item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    let chunk: typeof all = [];
    let bytes = 0;
    for (const p of all) {
      if (chunk.length > 0 && bytes + p.item.length > this.maxBytes) {
        this.send(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(p);
      bytes += p.item.length;
    }
    if (chunk.length > 0) this.send(chunk);
  }

  private send(chunk: typeof this.pending): void {
    this.api.results(chunk.map((p) => p.item), chunk.map((p) => p.id)).then(
      (answers) => this.settle(chunk, answers),
      (err: unknown) => {
        for (const p of chunk) p.reject(err);
      },
    );
  }
}
