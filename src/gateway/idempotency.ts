// Idempotency keys (docs/protocol.md "Idempotency-Key"): a key repeated within the window returns
// the first task; with another input it is a Conflict. A key whose submission is still being
// committed is found here, one already durable in the store.
import { createHash } from "node:crypto";
import type { Encoding } from "../protocol/index.ts";
import type { Clock } from "../kube/clock.ts";
import type { FunctionSettings } from "./registry.ts";
import type { TaskStore } from "./store.ts";
import { EngineError, type Task } from "./task-model.ts";

export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

interface Pending {
  task: Task;
  inputHash: string;
  done: Promise<Task>;
}

export class IdempotencyKeys {
  private readonly store: TaskStore;
  private readonly clock: Clock;
  readonly windowMs: number;
  /** Submitted tasks whose commit is in flight, by function and key. */
  private readonly submitting = new Map<string, Pending>();

  constructor(store: TaskStore, clock: Clock, windowMs = DEFAULT_IDEMPOTENCY_WINDOW_MS) {
    this.store = store;
    this.clock = clock;
    this.windowMs = windowMs;
  }

  /**
   * The task a key already names (its commit's promise while that is in flight), undefined for a
   * new key; throws Conflict for another input or an expired result.
   */
  find(fn: FunctionSettings, key: string, inputHash: string, get: (id: string) => Task | undefined): Task | Promise<Task> | undefined {
    const conflict = (taskId: string): EngineError =>
      new EngineError("Conflict", `idempotency key ${JSON.stringify(key)} was used for task ${taskId} with a different input; use a new key for a new input`);
    const pending = this.submitting.get(submittingKey(fn, key));
    if (pending !== undefined) {
      if (pending.inputHash !== inputHash) throw conflict(pending.task.id);
      return pending.done;
    }
    const row = this.store.findKey(fn.namespace, fn.name, key);
    if (row === undefined || row.createdAt < this.clock.now() - this.windowMs) return undefined;
    // Keys recorded before input hashes were kept carry "": they match any input.
    if (row.inputHash !== "" && row.inputHash !== inputHash) throw conflict(row.taskId);
    const task = get(row.taskId);
    if (task === undefined) {
      throw new EngineError("Conflict", `idempotency key ${JSON.stringify(key)} was used for task ${row.taskId}, whose result has expired; the key is remembered until ${new Date(row.createdAt + this.windowMs).toISOString()}`);
    }
    return task;
  }

  /** A key's submission is being committed: repeats wait for `done`. */
  pending(fn: FunctionSettings, key: string, entry: Pending): void {
    this.submitting.set(submittingKey(fn, key), entry);
  }

  /** The key's commit ended (durable or refused). */
  settled(fn: FunctionSettings, key: string): void {
    this.submitting.delete(submittingKey(fn, key));
  }
}

export function hashInput(encoding: Encoding, input: string): string {
  return createHash("sha256").update(encoding).update("\u0000").update(input).digest("base64url");
}

function submittingKey(fn: FunctionSettings, key: string): string {
  return `${fn.namespace}\u0000${fn.name}\u0000${key}`;
}
