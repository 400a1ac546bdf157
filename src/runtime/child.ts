// The child process that holds the model: loads the handler, runs setup() once, then runs the
// tasks the supervisor sends, several at once up to the Function's concurrency (the supervisor
// counts). It never talks to the gateway; the supervisor owns deadlines, retries and the wire.
import { taskCalls } from "./calls.ts";
import { createContext } from "./context.ts";
import { loadHandler, type Handler } from "./handler.ts";
import type { FromChild, ToChild } from "./ipc.ts";
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

export class ChildRuntime {
  private readonly opts: ChildOptions;
  private handler: Handler | undefined;
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

  handle(msg: ToChild): void {
    switch (msg.t) {
      case "task":
        void this.run(msg);
        return;
      case "cancel":
        this.running.get(msg.id)?.abort(new Error("the task was cancelled"));
        return;
    }
  }

  private async run(task: Extract<ToChild, { t: "task" }>): Promise<void> {
    const handler = this.handler;
    if (handler === undefined) {
      this.opts.send({ t: "failed", id: task.id, error: { type: "BadConfiguration", message: "task before setup finished" } });
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
      sink: (value, message) => this.opts.send(message === undefined ? { t: "progress", id: task.id, value } : { t: "progress", id: task.id, value, message }),
    });
    try {
      const output = encodeOutput(await withTaskLog(task.id, () => (task.fold === true ? fold(handler, task.input, ctx) : handler.call(task.input, ctx))));
      this.opts.send({ t: "done", id: task.id, output });
    } catch (err) {
      const failure = classify(err);
      if (failure.type === "UserError" || failure.type === "Fatal") withTaskLog(task.id, () => console.error(err));
      this.opts.send({ t: "failed", id: task.id, error: failure });
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
