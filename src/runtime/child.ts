// The child process that holds the model: loads the handler, runs setup() once, then runs tasks,
// several at once up to the Function's concurrency. Tasks come from the supervisor (relay mode),
// or from the worker channel the supervisor handed over (direct mode, child-channel.ts); either
// way the supervisor owns deadlines, crash reporting and the worker's credential.
import { artifacts } from "./artifacts.ts";
import { taskCalls } from "./calls.ts";
import { createContext } from "./context.ts";
import { loadHandler, type Handler } from "./handler.ts";
import type { FromChild, ToChild, WireFailure } from "./ipc.ts";
import { classify, encodeOutput } from "./outcome.ts";
import { createSetupContext } from "./setup-progress.ts";
import { wireSignature } from "./signature.ts";
import { installTaskLog, withTaskLog } from "./task-log.ts";

export interface ChildOptions {
  handler: string;
  roots: readonly string[];
  function: string;
  startupTimeoutSeconds: number;
  send: (msg: FromChild) => void;
  /** Where `ctx.function(…)` calls go ($HEARTH_GATEWAY_URL). */
  gatewayUrl?: string | undefined;
}

/** How one task ended: its output (JSON text) or why it failed. */
export type ChildOutcome = { output: string } | { error: WireFailure };

/** A task to run, whichever way it came. */
export type TaskToRun = Omit<Extract<ToChild, { t: "task" }>, "t">;

export class ChildRuntime {
  private readonly opts: ChildOptions;
  private handler: Handler | undefined;
  /** HEARTH_ARTIFACTS, read once after setup() (reading the environment costs microseconds per task). */
  private artifacts: Readonly<Record<string, string>> | undefined;
  private readonly running = new Map<string, AbortController>();

  constructor(opts: ChildOptions) {
    this.opts = opts;
  }

  /** Loads and sets up; reports `ready` or `setupFailed`. Resolves true when ready. */
  async start(): Promise<boolean> {
    try {
      const handler = await loadHandler(this.opts.handler, this.opts.roots);
      await handler.setup(createSetupContext(this.opts.function, this.opts.startupTimeoutSeconds));
      this.handler = handler;
      installTaskLog();
      this.artifacts = artifacts();
      const signature = wireSignature(handler.inputShape());
      this.opts.send(signature === undefined ? { t: "ready", kind: handler.kind } : { t: "ready", kind: handler.kind, signature });
      return true;
    } catch (err) {
      const failure = classify(err);
      if (failure.type === "UserError") failure.message = `setup failed: ${failure.message}`;
      if (failure.type === "UserError" || failure.type === "Fatal") console.error(err);
      this.opts.send({ t: "setupFailed", error: failure });
      return false;
    }
  }

  /** A message of relay mode: a task from the supervisor, or a cancel. */
  handle(msg: Extract<ToChild, { t: "task" | "cancel" }>): void {
    switch (msg.t) {
      case "task":
        void this.run(msg, (o) => this.opts.send("output" in o ? { t: "done", id: msg.id, output: o.output } : { t: "failed", id: msg.id, error: o.error }));
        return;
      case "cancel":
        this.cancel(msg.id);
        return;
    }
  }

  /** The caller cancelled: the handler sees ctx.signal aborted. */
  cancel(id: string): void {
    this.running.get(id)?.abort(new Error("the task was cancelled"));
  }

  /**
   * Runs one task; `done` gets how it ended (in the turn the handler's promise settled).
   * `progress` replaces sending ctx's progress to the supervisor (direct mode).
   */
  async run(task: TaskToRun, done: (outcome: ChildOutcome) => void, progress?: (value: number, message: string | undefined) => void): Promise<void> {
    const handler = this.handler;
    if (handler === undefined) {
      done({ error: { type: "BadConfiguration", message: "task before setup finished" } });
      return;
    }
    const abort = new AbortController();
    this.running.set(task.id, abort);
    const calls = taskCalls(this.opts.function, task.token, this.opts.gatewayUrl);
    const ctx = createContext({
      caller: calls.caller,
      taskId: task.id,
      attempt: task.attempt,
      function: this.opts.function,
      timeoutSeconds: task.timeoutSeconds,
      signal: abort.signal,
      artifacts: this.artifacts,
      sink: progress ?? ((value, message) => this.opts.send(message === undefined ? { t: "progress", id: task.id, value } : { t: "progress", id: task.id, value, message })),
    });
    try {
      const output = encodeOutput(await withTaskLog(task.id, () => (task.fold === true ? fold(handler, task.input, ctx) : handler.call(task.input, ctx))));
      done({ output });
    } catch (err) {
      const failure = classify(err);
      if (failure.type === "UserError" || failure.type === "Fatal") withTaskLog(task.id, () => console.error(err));
      done({ error: failure });
    } finally {
      this.running.delete(task.id);
      calls.close();
    }
  }
}

/** A workflow reducer batch: `[acc, [items…]]` folded with the handler, item by item, in order. */
async function fold(handler: Handler, input: unknown, ctx: Parameters<Handler["call"]>[1]): Promise<unknown> {
  if (!Array.isArray(input) || input.length !== 2 || !Array.isArray(input[1])) throw new TypeError("a reducer batch must be [accumulator, [items…]]");
  let acc: unknown = input[0];
  for (const item of input[1] as unknown[]) acc = await handler.call([acc, item], ctx);
  return acc;
}
