// The task engine's data model (tasks.ts and its parts): a task in memory and its outcome being
// committed, leases and the grants workers receive, the engine's options, metrics hooks and
// errors, and the conversion to and from the stored row.
import { randomBytes } from "node:crypto";
import type { Encoding, RequestErrorType, RetryPolicy, TaskError, TaskErrorType, TaskProgress } from "../protocol/index.ts";
import type { Clock, TimerHandle } from "../kube/clock.ts";
import type { FunctionRegistry } from "./registry.ts";
import type { TaskRow, TaskStore } from "./store.ts";

/** A task in memory: its stored row plus what lives only in memory (progress, the current lease). */
export interface Task extends TaskRow {
  progress: TaskProgress | undefined;
  lease: Lease | undefined;
  /** Overrides of the Function's timeout and retries (workflow steps); set by the submitter. */
  policy?: TaskPolicy | undefined;
  /**
   * The outcome being committed. Until the store says it is durable nobody sees it: readers see
   * the task as it was, waiters and subscribers are not told, the worker is not answered.
   */
  finishing?: Finishing | undefined;
  /** Runs as a batch Job (invocation: isolated), never on a warm lease: see src/gateway/isolated/. */
  isolated?: true;
  /** A pickle map step of a workflow: its worker sends the items as separate pickles (`outputItemsB64`). */
  outputItems?: true;
  /** A workflow reducer batch (`[acc, [items…]]`, folded by the worker): only for workers that fold. */
  fold?: true;
  /** Why a queued isolated task waits (its pod is Unschedulable, say); in memory only. */
  waiting?: TaskWaiting | undefined;
  /** A :run task dispatched before its row was staged: stages it if it is still running then (see dispatchAtOnce). */
  stageTimer?: TimerHandle | undefined;
  /**
   * A keyless :run whose caller waits on the connection: its outcome is published once it
   * survives the gateway's crash (in the run log, store.saveLogged(); else store.written()),
   * without waiting for its SQLite commit's fsync.
   */
  answerWhenWritten?: true;
}

export interface TaskWaiting {
  reason: string;
  message: string;
}

export interface Finishing {
  status: "succeeded" | "failed" | "cancelled";
  error: TaskError | null;
  output: string | null;
  finishedAt: number;
  runMs: number | undefined;
  /** The lease whose outcome this is: the same worker repeating its answer waits for the same commit. */
  leaseId: string | undefined;
  done: Promise<Task>;
  resolve: (task: Task) => void;
}

/** What a caller may set per task (a hearth.dev Job's own timeoutSeconds and retries). */
export interface SubmitOptions extends TaskPolicy {
  idempotencyKey?: string | undefined;
  /**
   * The caller waits for the outcome on its connection (`:run`): the task is queued at once and
   * its row commits with its outcome (one commit per run instead of two). Ignored with an
   * idempotency key (the key must be durable first) and for isolated calls.
   */
  dispatchAtOnce?: boolean | undefined;
  /** A call from inside a handler: the calling task and the new task's depth (src/gateway/calls.ts). */
  parent?: { taskId: string; depth: number } | undefined;
}

export interface TaskPolicy {
  timeoutSeconds?: number | undefined;
  retries?: RetryPolicy | undefined;
}

export interface Lease {
  leaseId: string;
  workerId: string;
  deadline: number;
  leasedAt: number;
  timeoutSeconds: number;
  /** The secret of the lease-bound task token a warm lease carries (calls.ts `leaseToken`). */
  tokenSecret?: string;
}

/** One task handed to a worker. `input` is JSON text (or base64 pickle), spliced into the answer. */
export interface LeaseGrant {
  id: string;
  attempt: number;
  leaseId: string;
  input: string;
  encoding: Encoding;
  deadline: number;
  timeoutSeconds: number;
  /** Task-scoped token for calls from inside the handler (seam 2); absent without a minter. */
  token?: string | undefined;
  /** Return the output list's items as separate pickles (a pickle map step of a workflow). */
  outputItems?: true;
  /** The input is `[acc, [items…]]`: call the handler with (acc, item) for each item in order, return the last acc. */
  fold?: true;
}

export type TaskEvent = { type: "progress"; progress: TaskProgress } | { type: "status"; task: Task } | { type: "done"; task: Task };

export class EngineError extends Error {
  readonly type: RequestErrorType;
  constructor(type: RequestErrorType, message: string) {
    super(message);
    this.type = type;
  }
}

export interface EngineMetrics {
  taskFinished(task: Task, outcome: "succeeded" | TaskErrorType, runMs: number | undefined): void;
  taskStarted(task: Task, queuedMs: number): void;
  retried(task: Task, type: TaskErrorType): void;
}

export interface EngineOptions {
  store: TaskStore;
  registry: FunctionRegistry;
  clock: Clock;
  metrics?: EngineMetrics;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Queued tasks per function before 429. Default 100 000. */
  maxQueue?: number;
  /** Slack after a deadline before the gateway itself declares Timeout (the worker normally reports first). Default 2 s. */
  deadlineGraceMs?: number;
  /** A worker silent this long is gone and its leases re-queued. Default 10 s. */
  workerTimeoutMs?: number;
  /** A lease a worker does not list in its heartbeats this long after it was granted never arrived. Default 5 s. */
  leaseReceiptMs?: number;
  /** Disruptions (not counted as attempts) before a task fails as Disrupted. Default 5. */
  maxDisruptions?: number;
  /** How long finished tasks and their results are kept. Default 1 h. */
  resultTtlMs?: number;
  /** Finished tasks kept in memory for fast reads. Default 10 000. */
  recentLimit?: number;
  /** How long an idempotency key is remembered, independent of resultTtlMs. Default 24 h. */
  idempotencyWindowMs?: number;
  /** Wait before committing again an outcome whose commit failed. Default 1 s. */
  commitRetryMs?: number;
  /** A `:run` task still unfinished this long after it was dispatched has its row committed. Default 20 ms. */
  runStageMs?: number;
  /** Told when a function's queue, leases or workers changed (the demand stream, demand.ts). */
  onChange?: (functionKey: string, what: DemandChange) => void;
  /** Mints the task-scoped token an isolated call's claim carries (src/gateway/calls.ts `mint`); absent = none. */
  mintToken?: (task: Task, deadline: number) => string;
  /** The task-scoped token a warm worker's lease carries, bound to that lease (calls.ts `leaseToken`); absent = none. */
  leaseToken?: (task: Task, lease: Lease) => string;
  /** Told of each child task cancelled with its parent (an isolated one's Job must go too). */
  onChildCancelled?: (task: Task) => void;
}

export type DemandChange = "queue" | "lease" | "workers";

export function fromRow(row: TaskRow): Task {
  return { ...row, progress: undefined, lease: undefined };
}

export function toRow(t: Task): TaskRow {
  return {
    id: t.id,
    namespace: t.namespace,
    name: t.name,
    status: t.status,
    attempts: t.attempts,
    disruptions: t.disruptions,
    encoding: t.encoding,
    input: t.input,
    output: t.output,
    error: t.error,
    idempotencyKey: t.idempotencyKey,
    createdAt: t.createdAt,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
    notBefore: t.notBefore,
    timeoutSeconds: t.timeoutSeconds,
    retries: t.retries,
    parentId: t.parentId,
    depth: t.depth,
    cached: t.cached,
  };
}

/** Lease ids of this process: a random prefix, then a counter (an id with another prefix was granted by an earlier process). */
export class LeaseIds {
  private readonly prefix = randomBytes(4).toString("hex");
  private counter = 0;

  next(): string {
    return `${this.prefix}.${(this.counter++).toString(36)}`;
  }

  /** Whether this process granted `leaseId`. */
  ours(leaseId: string): boolean {
    return leaseId.startsWith(`${this.prefix}.`);
  }
}
