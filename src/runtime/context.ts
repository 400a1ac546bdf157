// The task context a handler receives as its last argument (or in a parameter named
// `ctx`/`context`).

import { artifacts } from "./artifacts.ts";
import type { FunctionCaller } from "./calls.ts";

export interface HearthContext {
  readonly taskId: string;
  readonly attempt: number;
  /**
   * Calls another Function from inside this handler: `await ctx.function("ns/name").run(input)`,
   * `.push(input)`, `.map(items)` (a bare name is this Function's namespace). The task started
   * records this one as its parent, and is cancelled when this one is. `String(ctx.function)` is
   * this Function's `<namespace>/<name>`.
   */
  readonly function: FunctionCaller;
  /** `<namespace>/<name>` of the Function being served. */
  readonly functionName: string;
  readonly timeoutSeconds: number;
  /** spec.artifacts: name → path. */
  readonly artifacts: Readonly<Record<string, string>>;
  /** Aborted when the caller cancelled the task: long handlers may stop early. */
  readonly signal: AbortSignal;
  /**
   * Reports progress (0..1, optional message) to callers, streamed as `progress` events, and
   * extends the attempt's deadline by the full `timeoutSeconds` from now: a long task that
   * keeps reporting never times out, one that hangs still does.
   */
  updateProgress(progress: number, message?: string): void;
  /** Python's spelling, so examples translate literally between the runtimes. */
  update_progress(progress: number, message?: string): void;
}

export const MAX_PROGRESS_MESSAGE = 1024;

export type ProgressSink = (value: number, message: string | undefined) => void;

export interface ContextInit {
  taskId: string;
  attempt: number;
  function: string;
  timeoutSeconds: number;
  signal: AbortSignal;
  sink: ProgressSink;
  /** The client behind `ctx.function(…)` (src/runtime/calls.ts). */
  caller: FunctionCaller;
  /** spec.artifacts as the child read them once after setup(); absent: read from the environment now. */
  artifacts?: Readonly<Record<string, string>> | undefined;
}

/** Validates a progress update; throws a plain Error (a user error) when it is malformed. */
export function checkProgress(progress: unknown, message: unknown): { value: number; message: string | undefined } {
  if (typeof progress !== "number" || !Number.isFinite(progress) || progress < 0 || progress > 1) {
    throw new RangeError(`progress must be a number between 0 and 1, got ${String(progress)}`);
  }
  if (message !== undefined && message !== null && typeof message !== "string") {
    throw new TypeError(`progress message must be a string, got ${typeof message}`);
  }
  const text = typeof message === "string" && message.length > MAX_PROGRESS_MESSAGE ? `${message.slice(0, MAX_PROGRESS_MESSAGE - 1)}…` : message;
  return { value: progress, message: typeof text === "string" ? text : undefined };
}

/**
 * One per task. A class, not an object literal: the same own, enumerable, frozen fields, and
 * freezing an instance is cheap (an object literal holding closures froze at ~2.5 µs, per task).
 */
class TaskContext implements HearthContext {
  readonly taskId: string;
  readonly attempt: number;
  readonly function: FunctionCaller;
  readonly functionName: string;
  readonly timeoutSeconds: number;
  readonly artifacts: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly updateProgress: (progress: number, message?: string) => void;
  readonly update_progress: (progress: number, message?: string) => void;

  constructor(init: ContextInit) {
    const updateProgress = (progress: number, message?: string): void => {
      const checked = checkProgress(progress, message);
      init.sink(checked.value, checked.message);
    };
    this.taskId = init.taskId;
    this.attempt = init.attempt;
    this.function = init.caller;
    this.functionName = init.function;
    this.timeoutSeconds = init.timeoutSeconds;
    this.artifacts = init.artifacts ?? artifacts();
    this.signal = init.signal;
    this.updateProgress = updateProgress;
    this.update_progress = updateProgress;
  }
}

export function createContext(init: ContextInit): HearthContext {
  return Object.freeze(new TaskContext(init));
}
