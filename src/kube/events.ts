// Kubernetes Events for user-visible transitions (`kubectl describe` shows them). Recording
// never blocks or fails a reconcile: events are queued, sent by a few background senders, and
// dropped with a log line if the apiserver refuses them. A repeat of the same event within ten
// minutes bumps the existing Event's count instead of creating a new object.
import type { Logger } from "pino";
import type { Clock } from "./clock.ts";
import type { KubeClient } from "./client.ts";
import { describeStatus, toStatus } from "./errors.ts";
import { fingerprint } from "./objects.ts";
import { events } from "./resources.ts";

export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string | undefined;
}

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  client: KubeClient;
  clock: Clock;
  logger: Logger;
  /** source.component / reportingComponent, e.g. "hearth-operator". */
  component: string;
  /** reportingInstance, e.g. the pod name. */
  instance: string;
  /** Events queued beyond this are dropped. Default 2000. */
  maxPending?: number;
  /** Parallel senders. Default 4. */
  concurrency?: number;
}

interface Pending {
  subject: EventSubject;
  type: EventType;
  reason: string;
  message: string;
  at: number;
}

const DEDUP_WINDOW_MS = 10 * 60_000;
const MAX_MESSAGE = 1024;

export class EventRecorder {
  private readonly opts: EventRecorderOptions;
  private readonly pending: Pending[] = [];
  private readonly recent = new Map<string, { name: string; count: number; at: number }>();
  private senders = 0;
  private flushWaiters: (() => void)[] = [];
  private recordedCount = 0;
  private prunedAt = 0;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
  }

  /** Events sent so far (tests and benches). */
  get recorded(): number {
    return this.recordedCount;
  }

  record(subject: EventSubject, type: EventType, reason: string, message: string): void {
    if (this.pending.length >= (this.opts.maxPending ?? 2000)) {
      this.opts.logger.warn({ reason, object: `${subject.namespace}/${subject.name}` }, "event queue full; dropping event");
      return;
    }
    this.pending.push({ subject, type, reason, message: message.slice(0, MAX_MESSAGE), at: this.opts.clock.now() });
    this.pump();
  }

  /** Resolves when every queued event was sent (or dropped). */
  flush(): Promise<void> {
    if (this.pending.length === 0 && this.senders === 0) return Promise.resolve();
    return new Promise((r) => this.flushWaiters.push(r));
  }

  private pump(): void {
    while (this.senders < (this.opts.concurrency ?? 4) && this.pending.length > 0) {
      const e = this.pending.shift();
      if (e === undefined) break;
      this.senders++;
      void this.send(e).finally(() => {
        this.senders--;
        this.pump();
        if (this.senders === 0 && this.pending.length === 0) for (const w of this.flushWaiters.splice(0)) w();
      });
    }
  }

  private async send(e: Pending): Promise<void> {
    const now = e.at;
    if (now - this.prunedAt > 60_000) {
      this.prunedAt = now;
      for (const [k, v] of this.recent) if (now - v.at > DEDUP_WINDOW_MS) this.recent.delete(k);
    }
    // A fingerprint, not the text: thousands of recent events are remembered.
    const dedupKey = `${e.subject.uid ?? `${e.subject.namespace}/${e.subject.kind}/${e.subject.name}`}/${fingerprint(`${e.type}/${e.reason}/${e.message}`)}`;
    const ts = new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z");
    const seen = this.recent.get(dedupKey);
    try {
      if (seen !== undefined) {
        seen.count++;
        seen.at = now;
        await this.opts.client.mergePatch(events, seen.name, e.subject.namespace, { count: seen.count, lastTimestamp: ts }, AbortSignal.timeout(10_000));
      } else {
        const name = `${e.subject.name}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`;
        const involvedObject: Record<string, string> = {
          apiVersion: e.subject.apiVersion,
          kind: e.subject.kind,
          name: e.subject.name,
          namespace: e.subject.namespace,
        };
        if (e.subject.uid !== undefined) involvedObject["uid"] = e.subject.uid;
        await this.opts.client.create(
          events,
          {
            metadata: { name, namespace: e.subject.namespace },
            involvedObject,
            type: e.type,
            reason: e.reason,
            message: e.message,
            source: { component: this.opts.component },
            reportingComponent: this.opts.component,
            reportingInstance: this.opts.instance,
            firstTimestamp: ts,
            lastTimestamp: ts,
            count: 1,
          },
          AbortSignal.timeout(10_000),
        );
        this.recent.set(dedupKey, { name, count: 1, at: now });
      }
      this.recordedCount++;
    } catch (err) {
      this.recent.delete(dedupKey);
      this.opts.logger.warn({ reason: e.reason, object: `${e.subject.namespace}/${e.subject.name}`, error: describeStatus(toStatus(err)) }, "could not record event");
    }
  }
}
