// Calls from inside a handler (seam 2, docs/workflows.md "Calls from inside a handler"): every
// lease carries a task-scoped token; a handler's `ctx.function(…)` client sends it; the
// authorizer turns it into a Caller of kind "task" that may invoke in its own namespace only; the
// task it starts records its parent and depth, so that cancelling the parent cancels it
// (tasks.ts) and a chain of calls deeper than the limit is refused.
// Two kinds: a warm worker's lease carries a lease-bound token, `hct2.<task id>.<secret>`, valid
// while that lease is its task's (no signature to compute per lease: a random secret kept on the
// lease: 0.2–0.3 µs against 3–5 µs for the HMAC in a loop, ~34 µs per sequential run() cold); an isolated call's claim carries a
// signed one (src/auth/task-token.ts, `hct1.`), which also outlives a gateway restart, as its pod
// does. Both are honoured only while the task is unfinished.
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { checkTaskToken, mintTaskToken, taskTokenKey } from "../auth/task-token.ts";
import { isTerminal } from "../protocol/index.ts";
import type { Caller, TaskClaims } from "./authz.ts";
import { HttpError } from "./http.ts";
import type { Lease } from "./task-model.ts";
import type { Task } from "./tasks.ts";

/** Most handler calls deep a task may be (a client's call is depth 0). */
export const DEFAULT_MAX_CALL_DEPTH = 8;

/**
 * How long a token outlives its lease's deadline: progress moves the deadline, and the token is
 * only honoured while its task is unfinished anyway.
 */
export const TOKEN_SLACK_MS = 3_600_000;

export interface CallTokensOptions {
  /** The gateway's signing key; undefined = a random key per gateway process (tokens die with it). */
  signingKey?: string | Buffer | undefined;
  now: () => number;
  /** The task a token names, to refuse tokens of finished tasks (and a lease-bound one of another lease). */
  task: (id: string) => Pick<Task, "status" | "finishing" | "namespace" | "depth" | "lease"> | undefined;
  maxDepth?: number | undefined;
}

/** The prefix of a lease-bound task token: `hct2.<task id>.<secret>`. */
export const LEASE_TOKEN_PREFIX = "hct2.";

export class CallTokens {
  private readonly key: Buffer;
  private readonly o: CallTokensOptions;
  readonly maxDepth: number;

  constructor(o: CallTokensOptions) {
    this.o = o;
    this.key = taskTokenKey(o.signingKey === undefined || o.signingKey.length === 0 ? randomBytes(32) : o.signingKey);
    this.maxDepth = o.maxDepth ?? DEFAULT_MAX_CALL_DEPTH;
  }

  /** A lease-bound token for `lease` of `task` (a warm worker's grant): valid while `lease` is the task's. Keeps its secret on the lease. */
  leaseToken = (task: Pick<Task, "id">, lease: Lease): string => {
    lease.tokenSecret ??= randomUUID();
    return `${LEASE_TOKEN_PREFIX}${task.id}.${lease.tokenSecret}`;
  };

  /** The signed token an isolated call's claim carries, valid a while past the attempt's deadline. */
  mint = (task: Pick<Task, "id" | "namespace" | "depth">, deadline: number): string =>
    mintTaskToken(this.key, { taskId: task.id, namespace: task.namespace, depth: task.depth, exp: deadline + TOKEN_SLACK_MS });

  /**
   * The authorizer's hook: the claims of a valid task token, undefined when the token is not one
   * (other credentials are tried). A task token that is expired, or whose task has finished, is
   * refused with a message saying so.
   */
  verify = (token: string): TaskClaims | undefined => {
    if (token.startsWith(LEASE_TOKEN_PREFIX)) return this.verifyLeaseToken(token);
    const check = checkTaskToken(this.key, token, this.o.now());
    if (!check.ok) {
      if (check.reason === "expired") throw new HttpError(401, "Unauthorized", "the task-scoped token has expired");
      return undefined;
    }
    const { taskId, namespace, depth } = check.claims;
    this.unfinished(taskId);
    return { taskId, namespace, depth };
  };

  /** The token's task, if it is unfinished; else the 401 either kind of token gets. */
  private unfinished(taskId: string): Pick<Task, "namespace" | "depth" | "lease"> {
    const task = taskId === "" ? undefined : this.o.task(taskId);
    const status = task?.finishing?.status ?? task?.status;
    if (task === undefined || status === undefined || isTerminal(status)) {
      throw new HttpError(401, "Unauthorized", `the task-scoped token belongs to task ${taskId || "(none)"}, which has ${status ?? "expired"}: a handler may call other Functions only while its task runs`);
    }
    return task;
  }

  private verifyLeaseToken(token: string): TaskClaims {
    const rest = token.slice(LEASE_TOKEN_PREFIX.length);
    const dot = rest.lastIndexOf(".");
    const taskId = dot > 0 ? rest.slice(0, dot) : "";
    const task = this.unfinished(taskId);
    const given = Buffer.from(rest.slice(dot + 1));
    const secret = task.lease?.tokenSecret;
    const expected = secret === undefined ? undefined : Buffer.from(secret);
    if (expected === undefined || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, "Unauthorized", `the task-scoped token is not the one of task ${taskId}'s current attempt (that attempt ended, or the token is wrong): a handler may call other Functions only while its attempt runs`);
    }
    return { taskId, namespace: task.namespace, depth: task.depth };
  }
}

/**
 * The parent of a task a caller starts: set for a task token, after checking the depth limit
 * (a clear 400 rather than runaway recursion).
 */
export function parentOf(caller: Caller, maxDepth: number, target: string): { taskId: string; depth: number } | undefined {
  if (caller.kind !== "task" || caller.parentTaskId === undefined) return undefined;
  const depth = (caller.depth ?? 0) + 1;
  if (depth > maxDepth) {
    throw new HttpError(
      400,
      "BadRequest",
      `call depth limit reached: task ${caller.parentTaskId} is ${depth - 1} calls deep and may not call ${target} (the gateway's limit is ${maxDepth}; a handler calling itself needs a base case)`,
    );
  }
  return { taskId: caller.parentTaskId, depth };
}
