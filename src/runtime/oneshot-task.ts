// Oneshot mode for an isolated call (HEARTH_TASK_ID, docs/protocol.md "Isolated calls"): the
// input is claimed from the gateway task, the output posted back to it, so neither is bounded by
// a pod annotation or the kubelet's 4 KiB termination message. Failures are not posted: the exit
// code goes through the batch Job's podFailurePolicy, and the gateway reads the Job's verdict.
import { HttpClient, jsonBody } from "../client/http.ts";
import type { WireFailure } from "./ipc.ts";
import { successDocument, TERMINATION_LOG_LIMIT } from "./oneshot.ts";

export interface TaskClaim {
  leaseId: string;
  attempt: number;
  input: unknown;
  /** Task-scoped token for `ctx.function(…)` calls. */
  token?: string | undefined;
}

export type ClaimResult = { kind: "claimed"; claim: TaskClaim } | { kind: "ended"; message: string } | { kind: "failed"; failure: WireFailure };

export interface TaskChannelOptions {
  gatewayUrl: string;
  taskId: string;
  token: string | undefined;
  workerId: string;
  log: (msg: string) => void;
  /** How long the gateway may stay unreachable before the attempt gives up. Default 60 s. */
  patienceMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

type Answer = { status: number; body: unknown; error?: undefined } | { status: 0; body?: undefined; error: string };

function messageOf(body: unknown, status: number): string {
  const e = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["error"] : undefined;
  if (typeof e === "object" && e !== null && typeof (e as Record<string, unknown>)["message"] === "string") return String((e as Record<string, unknown>)["message"]);
  return `HTTP ${status}`;
}

/** The document a delivered output leaves in the termination log: the output itself if it fits, else where it is. */
export function deliveredDocument(taskId: string, outputJson: string): string {
  const inline = `{"output":${outputJson}}`;
  return Buffer.byteLength(inline) <= TERMINATION_LOG_LIMIT ? inline : JSON.stringify({ outputRef: { kind: "Task", name: taskId } });
}

export class TaskChannel {
  private readonly o: TaskChannelOptions;
  private readonly http: HttpClient;
  /** Progress not yet posted (the latest wins) and the pump posting it, one request at a time. */
  private progressNext: { leaseId: string; value: number; message: string | undefined } | undefined;
  private progressPump: Promise<void> | undefined;

  constructor(o: TaskChannelOptions) {
    this.o = o;
    this.http = new HttpClient(o.gatewayUrl, { token: o.token, maxSockets: 2 });
  }

  close(): void {
    this.http.close();
  }

  private sleep(ms: number): Promise<void> {
    return this.o.sleep !== undefined ? this.o.sleep(ms) : new Promise((r) => setTimeout(r, ms));
  }

  /** POSTs until the gateway answers something other than 5xx or a network error, or patience runs out. */
  private async post(action: string, body: string): Promise<Answer> {
    const deadline = Date.now() + (this.o.patienceMs ?? 60_000);
    let wait = 250;
    for (;;) {
      let answer: Answer;
      try {
        const res = await this.http.request({ method: "POST", path: `/v1/tasks/${encodeURIComponent(this.o.taskId)}/${action}`, body, headers: { "content-type": "application/json" }, timeoutMs: 30_000 });
        answer = { status: res.status, body: jsonBody(res) };
      } catch (err) {
        answer = { status: 0, error: err instanceof Error ? err.message : String(err) };
      }
      if (answer.status !== 0 && answer.status < 500) return answer;
      if (Date.now() + wait > deadline) return answer;
      this.o.log(`hearth: gateway ${action} failed (${answer.error ?? `HTTP ${answer.status}`}); retrying in ${wait} ms`);
      await this.sleep(wait);
      wait = Math.min(wait * 2, 5_000);
    }
  }

  async claim(): Promise<ClaimResult> {
    const a = await this.post("claim", JSON.stringify({ workerId: this.o.workerId }));
    if (a.status === 200 && typeof a.body === "object" && a.body !== null) {
      const b = a.body as Record<string, unknown>;
      if (typeof b["leaseId"] === "string" && typeof b["attempt"] === "number") {
        return { kind: "claimed", claim: { leaseId: b["leaseId"], attempt: b["attempt"], input: b["input"] ?? null, token: typeof b["token"] === "string" ? b["token"] : undefined } };
      }
    }
    if (a.error !== undefined) return { kind: "failed", failure: { type: "Fatal", message: `cannot reach the gateway at ${this.o.gatewayUrl} to claim task ${this.o.taskId}: ${a.error}` } };
    if (a.status === 409) return { kind: "ended", message: messageOf(a.body, a.status) };
    const why = messageOf(a.body, a.status);
    if (a.status >= 500) return { kind: "failed", failure: { type: "Fatal", message: `the gateway could not hand out task ${this.o.taskId}: ${why}` } };
    return { kind: "failed", failure: { type: "BadConfiguration", message: `the gateway refused the claim of task ${this.o.taskId} (${a.status}): ${why}` } };
  }

  /**
   * Reports the handler's progress (ctx.progress) to the task, like a warm worker: callers see it
   * in the task document and its event stream. Best effort, one try per update, never blocks the
   * handler; updates made while one is on its way collapse into the latest.
   */
  progress(leaseId: string, value: number, message: string | undefined): void {
    this.progressNext = { leaseId, value, message };
    if (this.progressPump !== undefined) return;
    const pump = async (): Promise<void> => {
      while (this.progressNext !== undefined) {
        const next = this.progressNext;
        this.progressNext = undefined;
        const body = JSON.stringify(next.message === undefined ? { leaseId: next.leaseId, value: next.value } : { leaseId: next.leaseId, value: next.value, message: next.message });
        try {
          const res = await this.http.request({ method: "POST", path: `/v1/tasks/${encodeURIComponent(this.o.taskId)}/progress`, body, headers: { "content-type": "application/json" }, timeoutMs: 10_000 });
          if (res.status !== 200) this.o.log(`hearth: progress not taken (HTTP ${res.status}): ${messageOf(jsonBody(res), res.status)}`);
        } catch (err) {
          this.o.log(`hearth: cannot post progress: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    };
    this.progressPump = pump().finally(() => (this.progressPump = undefined));
  }

  /** Posts the output; the termination-log document and exit code that follow from the answer. */
  async deliver(leaseId: string, outputJson: string): Promise<{ doc: string; exitCode: number }> {
    // The last progress goes out before the result (a caller's events stay in order), briefly.
    if (this.progressPump !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.progressPump, new Promise<void>((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer); // a pending timer would hold the process 5 s past its outcome
    }
    const a = await this.post("complete", `{"leaseId":${JSON.stringify(leaseId)},"output":${outputJson}}`);
    switch (a.status) {
      case 200:
        return { doc: deliveredDocument(this.o.taskId, outputJson), exitCode: 0 };
      case 409:
        // Cancelled, or a newer attempt holds the task: the gateway has what it needs.
        this.o.log(`hearth: the gateway did not take the output: ${messageOf(a.body, a.status)}`);
        return { doc: JSON.stringify({ outputRef: { kind: "Task", name: this.o.taskId } }), exitCode: 0 };
      case 413:
        return { doc: JSON.stringify({ error: { type: "BadConfiguration", message: `the gateway refused the output: ${messageOf(a.body, a.status)}` } }), exitCode: 2 };
      default: {
        // Unreachable or failing: the termination message is the fallback, within its 4 KiB.
        this.o.log(`hearth: cannot post the output to the gateway (${a.error ?? `HTTP ${a.status}`}); falling back to the termination message`);
        return successDocument(outputJson);
      }
    }
  }
}
