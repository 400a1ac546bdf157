// `ctx.function("ns/name")` for handler code: a client of the gateway authenticated with the
// task-scoped token the lease carried (seam 2, docs/workflows.md "Calls from inside a handler").
// The gateway records the calling task as the parent of every task started this way, cancels
// them when the parent is cancelled, and refuses chains deeper than its limit.
import { HearthClient, type RemoteFunction } from "../client/client.ts";

/**
 * Calls another Function from inside a handler: `ctx.function("ns/name").run(input)`, `.push`,
 * `.map`. A bare name means the caller's own namespace. `String(ctx.function)` is still the
 * `<namespace>/<name>` of the Function being served (also `ctx.functionName`).
 */
export interface FunctionCaller {
  (ref: string | { namespace: string; name: string }): RemoteFunction;
  toString(): string;
}

export interface TaskCalls {
  caller: FunctionCaller;
  /** Closes the client's connections (the task ended). */
  close(): void;
}

/** `self` is `<namespace>/<name>` of the Function being served. */
export function taskCalls(self: string, token: string | undefined, gatewayUrl: string | undefined): TaskCalls {
  let client: HearthClient | undefined;
  const namespace = self.slice(0, Math.max(0, self.indexOf("/")));
  const caller: FunctionCaller & { [Symbol.toPrimitive]?: () => string } = (ref: string | { namespace: string; name: string }): RemoteFunction => {
    if (gatewayUrl === undefined || gatewayUrl === "") {
      throw new Error("ctx.function(…) needs the gateway: HEARTH_GATEWAY_URL is not set in this worker");
    }
    client ??= new HearthClient(token === undefined ? { url: gatewayUrl, maxSockets: 8 } : { url: gatewayUrl, token, maxSockets: 8 });
    const full = typeof ref === "string" && !ref.includes("/") && namespace !== "" ? `${namespace}/${ref}` : ref;
    return client.function(full);
  };
  // Assigned one by one: Object.assign with a symbol key takes V8's slow path (~0.5 µs, per task).
  const name = (): string => self;
  caller.toString = name;
  caller[Symbol.toPrimitive] = name;
  return { caller, close: () => client?.close() };
}
