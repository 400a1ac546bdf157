// The task context a handler receives as its last argument (or in a parameter named
// `ctx`/`context`).

import { artifacts } from "./artifacts.ts";

export interface HearthContext {
  readonly taskId: string;
  readonly attempt: number;
  /** `<namespace>/<name>` of the Function being served. */
  readonly function: string;
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
  return Object.freeze({
    taskId: init.taskId,
    attempt: init.attempt,
    function: init.function,
    timeoutSeconds: init.timeoutSeconds,
    artifacts: artifacts(),
    signal: init.signal,
    updateProgress,
    update_progress: updateProgress,
  });
}
