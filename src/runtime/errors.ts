// Errors handler code throws to choose its exit-code class (docs/protocol.md). They are branded
// with registry symbols rather than recognised by `instanceof`, because a user's image may
// bundle its own copy of this module: the brand survives two copies, class identity does not.

const FATAL = Symbol.for("hearth.FatalError");
const INPUT_REJECTED = Symbol.for("hearth.InputRejected");

/**
 * Throw when the process state is gone (a CUDA error, a corrupted model): the task fails with
 * class `Fatal` (exit 75), it is retried by policy, and the worker's container restarts so the
 * next task gets a fresh process and a fresh `setup()`.
 */
export class FatalError extends Error {
  readonly [FATAL] = true;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FatalError";
  }
}

/**
 * Throw to reject the caller's input (class `InputRejected`, exit 65, HTTP 400): never retried,
 * and the worker stays warm. Use it for validation the caller must fix.
 */
export class InputRejected extends Error {
  readonly [INPUT_REJECTED] = true;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InputRejected";
  }
}

function branded(err: unknown, brand: symbol): boolean {
  return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[brand] === true;
}

export function isFatalError(err: unknown): boolean {
  return branded(err, FATAL);
}

export function isInputRejected(err: unknown): boolean {
  return branded(err, INPUT_REJECTED);
}

/** The handler cannot be used as configured: class `BadConfiguration` (exit 2). */
export class HandlerConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HandlerConfigError";
  }
}

/** The input does not fit the handler's parameters: class `InputRejected` (exit 65). */
export class BindError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BindError";
  }
}
