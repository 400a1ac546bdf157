// Progress from setup(): `setupProgress(0.4, "weights")` anywhere in handler code, or
// `ctx.updateProgress(…)` on the context setup(ctx) receives. Each update is shown in the logs
// and the Function's status ("loading: 40% weights") and extends the startup deadline
// (startupTimeoutSeconds) by its full length, as a task's progress extends its deadline.
import { artifacts } from "./artifacts.ts";
import { checkProgress } from "./context.ts";

export interface SetupContext {
  /** `<namespace>/<name>` of the Function being served. */
  readonly function: string;
  readonly startupTimeoutSeconds: number;
  /** spec.artifacts: name → path, in place before setup() runs. */
  readonly artifacts: Readonly<Record<string, string>>;
  updateProgress(progress: number, message?: string): void;
  /** Python's spelling. */
  update_progress(progress: number, message?: string): void;
}

/**
 * Reports setup progress to the supervisor over the child's IPC channel. Outside a worker's
 * child process (a unit test importing the handler) it does nothing.
 */
export function setupProgress(progress: number, message?: string): void {
  const checked = checkProgress(progress, message);
  const send = process.send?.bind(process);
  if (send === undefined) return;
  send(checked.message === undefined ? { t: "setupProgress", value: checked.value } : { t: "setupProgress", value: checked.value, message: checked.message });
}

export function createSetupContext(fn: string, startupTimeoutSeconds: number): SetupContext {
  return Object.freeze({ function: fn, startupTimeoutSeconds, artifacts: artifacts(), updateProgress: setupProgress, update_progress: setupProgress });
}
