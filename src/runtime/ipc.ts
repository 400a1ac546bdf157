// Messages between the supervisor and the child process that holds the model (Node's IPC
// channel, JSON serialization). Outputs cross as JSON text the child already produced, so the
// supervisor forwards them to the gateway without parsing and re-encoding. Either side may send
// the messages of one turn as one JSON array (one write, one wake-up): `unbatch` reads both.
import type { ExitErrorType } from "../protocol/index.ts";

export interface WireFailure {
  type: ExitErrorType;
  message: string;
  /** Finer than the class, e.g. "SetupTimeout" for a Timeout of setup(). */
  reason?: string;
}

export type ToChild =
  | { t: "task"; id: string; attempt: number; input: unknown; timeoutSeconds: number; token?: string; fold?: boolean }
  | { t: "cancel"; id: string }
  /**
   * Direct mode (child-channel.ts): the worker channel's connection comes with this message (an
   * IPC handle); from then on the child leases, runs and reports on it itself. `head`: base64 of
   * what the gateway sent after its 101 answer. `journal`: record tasks in the task journal
   * (task-journal.ts, descriptor HEARTH_TASK_JOURNAL_FD) instead of `started`/`ended` for each.
   */
  | { t: "channel"; concurrency: number; restartOnError: boolean; head: string; journal?: boolean }
  /** Stop asking for tasks (the supervisor is restarting the child). */
  | { t: "pause" }
  /** Drain: tell the gateway stop, finish, report, close, then answer `drained`. */
  | { t: "stop" }
  /** Close the channel once its acknowledgements arrived, then exit 0 (a restart after an error). */
  | { t: "retire" };

/** A task the child leased on its own channel, as the supervisor must know it (deadline, crash, heartbeats). */
export interface StartedTask {
  id: string;
  leaseId: string;
  attempt: number;
  timeoutSeconds: number;
}

export type FromChild =
  | { t: "ready"; kind: string; signature?: unknown }
  | { t: "setupFailed"; error: WireFailure }
  /** setup() reported progress (ctx.updateProgress in setup, or setupProgress()). */
  | { t: "setupProgress"; value: number; message?: string }
  /** `sent`: direct mode, the child sent it to the gateway on its channel (this is for the deadline). */
  | { t: "progress"; id: string; value: number; message?: string; sent?: boolean }
  | { t: "done"; id: string; output: string }
  | { t: "failed"; id: string; error: WireFailure }
  /**
   * Direct mode: tasks leased on the child's channel, sent before any of them runs (one write,
   * not batched: a crash in the handler must find them known). Not sent for tasks recorded in
   * the task journal.
   */
  | { t: "started"; tasks: StartedTask[] }
  /**
   * Direct mode: a task ended. Without `error`, or with a non-Fatal one, the child reported it on
   * its channel; a Fatal one the supervisor reports (it kills the child at once). For a journal
   * task only when the supervisor must act now: a Fatal (its slot stays for the supervisor to
   * read), a UserError under restartOnError, or once the child is paused, retiring or draining.
   */
  | { t: "ended"; id: string; error?: WireFailure }
  /** Direct mode: an outcome the channel could not deliver (it closed): the supervisor sends it. */
  | { t: "report"; id: string; item: string }
  /** Direct mode: the channel closed (the gateway ended it, or the connection broke). */
  | { t: "channelClosed" }
  /** Direct mode: drained (the gateway answered stop, every task ended and was acknowledged). */
  | { t: "drained" };

/** The messages of one IPC message: a batch (an array) or a single message. */
export function unbatch(raw: unknown): readonly unknown[] {
  return Array.isArray(raw) ? raw : [raw];
}

/** Sends through `send` the messages of one turn together (one array when there are several). */
export function batchingSender<M>(send: (msg: M | M[]) => void): (msg: M) => void {
  let queued: M[] = [];
  const flush = (): void => {
    const msgs = queued;
    queued = [];
    send(msgs.length === 1 && msgs[0] !== undefined ? msgs[0] : msgs);
  };
  return (msg) => {
    queued.push(msg);
    if (queued.length === 1) queueMicrotask(flush);
  };
}

const FAILURE_TYPES = new Set(["UserError", "BadConfiguration", "InputRejected", "Fatal", "Timeout"]);

function isFailure(v: unknown): v is WireFailure {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r["type"] === "string" && FAILURE_TYPES.has(r["type"]) && typeof r["message"] === "string";
}

/** The child runs user code, which can reach process.send too: check before trusting. */
export function parseFromChild(v: unknown): FromChild | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const m = v as Record<string, unknown>;
  switch (m["t"]) {
    case "ready":
      if (typeof m["kind"] !== "string") return undefined;
      // The signature is checked again by the gateway; here only its shape matters.
      return typeof m["signature"] === "object" && m["signature"] !== null ? { t: "ready", kind: m["kind"], signature: m["signature"] } : { t: "ready", kind: m["kind"] };
    case "setupFailed":
      return isFailure(m["error"]) ? { t: "setupFailed", error: m["error"] } : undefined;
    case "setupProgress": {
      const { value, message } = m;
      if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
      return typeof message === "string" ? { t: "setupProgress", value, message } : { t: "setupProgress", value };
    }
    case "progress": {
      const { id, value, message } = m;
      if (typeof id !== "string" || typeof value !== "number") return undefined;
      const sent = m["sent"] === true ? { sent: true } : {};
      return typeof message === "string" ? { t: "progress", id, value, message, ...sent } : { t: "progress", id, value, ...sent };
    }
    case "done":
      return typeof m["id"] === "string" && typeof m["output"] === "string" ? { t: "done", id: m["id"], output: m["output"] } : undefined;
    case "failed":
      return typeof m["id"] === "string" && isFailure(m["error"]) ? { t: "failed", id: m["id"], error: m["error"] } : undefined;
    case "started": {
      if (!Array.isArray(m["tasks"])) return undefined;
      const tasks: StartedTask[] = [];
      for (const t of m["tasks"] as unknown[]) {
        if (typeof t !== "object" || t === null) return undefined;
        const { id, leaseId, attempt, timeoutSeconds } = t as Record<string, unknown>;
        if (typeof id !== "string" || typeof leaseId !== "string" || typeof attempt !== "number" || typeof timeoutSeconds !== "number") return undefined;
        tasks.push({ id, leaseId, attempt, timeoutSeconds });
      }
      return { t: "started", tasks };
    }
    case "ended":
      if (typeof m["id"] !== "string") return undefined;
      if (m["error"] === undefined) return { t: "ended", id: m["id"] };
      return isFailure(m["error"]) ? { t: "ended", id: m["id"], error: m["error"] } : undefined;
    case "report":
      return typeof m["id"] === "string" && typeof m["item"] === "string" ? { t: "report", id: m["id"], item: m["item"] } : undefined;
    case "channelClosed":
      return { t: "channelClosed" };
    case "drained":
      return { t: "drained" };
    default:
      return undefined;
  }
}

export function parseToChild(v: unknown): ToChild | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const m = v as Record<string, unknown>;
  if (m["t"] === "task" && typeof m["id"] === "string" && typeof m["attempt"] === "number" && typeof m["timeoutSeconds"] === "number") {
    const token = m["token"];
    return { t: "task", id: m["id"], attempt: m["attempt"], input: m["input"], timeoutSeconds: m["timeoutSeconds"], ...(typeof token === "string" ? { token } : {}), ...(m["fold"] === true ? { fold: true } : {}) };
  }
  if (m["t"] === "cancel" && typeof m["id"] === "string") return { t: "cancel", id: m["id"] };
  if (m["t"] === "channel" && typeof m["concurrency"] === "number" && typeof m["head"] === "string") return { t: "channel", concurrency: m["concurrency"], restartOnError: m["restartOnError"] === true, head: m["head"], ...(m["journal"] === true ? { journal: true } : {}) };
  if (m["t"] === "pause" || m["t"] === "stop" || m["t"] === "retire") return { t: m["t"] };
  return undefined;
}
