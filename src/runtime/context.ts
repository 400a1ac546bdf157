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
  /** Made when a handler first reads `ctx.signal` (most never do: an AbortController per task costs). */
  signal: () => AbortSignal;
  sink: ProgressSink;
  /** The client behind `ctx.function(…)` (src/runtime/calls.ts), made when first read. */
  caller: () => FunctionCaller;
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

export function createContext(init: ContextInit): HearthContext {
  const updateProgress = (progress: number, message?: string): void => {
    const checked = checkProgress(progress, message);
    init.sink(checked.value, checked.message);
  };
  let found: Readonly<Record<string, string>> | undefined;
  let caller: FunctionCaller | undefined;
  return Object.freeze({
    taskId: init.taskId,
    attempt: init.attempt,
    get function(): FunctionCaller {
      return (caller ??= init.caller());
    },
    functionName: init.function,
    timeoutSeconds: init.timeoutSeconds,
    get artifacts(): Readonly<Record<string, string>> {
      return (found ??= artifacts());
    },
    get signal(): AbortSignal {
      return init.signal();
    },
    updateProgress,
    update_progress: updateProgress,
  });
}
