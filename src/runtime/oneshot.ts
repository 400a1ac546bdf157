// Oneshot mode (isolated batch Jobs): one input file in, one termination-log document out, and
// the exit code of the outcome's class so that the Job's podFailurePolicy can act on it. The
// task runs through the same Supervisor as warm workers (a child process), which is what lets
// the deadline stop even a handler spinning synchronously.
import { readFile, writeFile } from "node:fs/promises";
import { EXIT_CODES } from "../protocol/index.ts";
import type { Clock } from "../kube/clock.ts";
import type { WorkerConfig } from "./config.ts";
import type { WireFailure } from "./ipc.ts";
import { describeProgress } from "./setup-watch.ts";
import { Supervisor, type SpawnChild } from "./supervisor.ts";

/** The kubelet keeps at most this much of a termination message. */
export const TERMINATION_LOG_LIMIT = 4096;

const ELLIPSIS = "…";

function failureJson(type: string, message: string, reason?: string): string {
  return JSON.stringify({ error: reason === undefined ? { type, message } : { type, reason, message } });
}

/** `{"error":…}`, the message cut so the whole document fits in `limit` bytes. */
export function failureDocument(failure: WireFailure, limit = TERMINATION_LOG_LIMIT): string {
  const doc = failureJson(failure.type, failure.message, failure.reason);
  if (Buffer.byteLength(doc) <= limit) return doc;
  // Longest prefix that fits: the document grows monotonically with the prefix.
  const chars = [...failure.message];
  let low = 0;
  let high = chars.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (Buffer.byteLength(failureJson(failure.type, chars.slice(0, mid).join("") + ELLIPSIS, failure.reason)) <= limit) low = mid;
    else high = mid - 1;
  }
  return failureJson(failure.type, chars.slice(0, low).join("") + ELLIPSIS, failure.reason);
}

/**
 * The success document for output JSON text and exit 0, or BadConfiguration and exit 2 when it
 * does not fit in the termination log.
 */
export function successDocument(outputJson: string, limit = TERMINATION_LOG_LIMIT): { doc: string; exitCode: number } {
  const doc = `{"output":${outputJson}}`;
  const size = Buffer.byteLength(doc);
  if (size <= limit) return { doc, exitCode: 0 };
  const failure: WireFailure = {
    type: "BadConfiguration",
    message: `output is ${size} bytes; isolated Jobs return at most ${limit} bytes: write large results to storage and return a reference`,
  };
  return { doc: failureDocument(failure, limit), exitCode: EXIT_CODES.BadConfiguration };
}

export function failureResult(failure: WireFailure): { doc: string; exitCode: number } {
  return { doc: failureDocument(failure), exitCode: EXIT_CODES[failure.type] };
}

/** The task input: JSON text, empty or absent = null. Throws WireFailure-shaped errors. */
export async function readInput(path: string | undefined): Promise<{ ok: true; value: unknown } | { ok: false; failure: WireFailure }> {
  if (path === undefined) return { ok: true, value: null };
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    return { ok: false, failure: { type: "BadConfiguration", message: `cannot read HEARTH_INPUT_FILE ${path}: ${err instanceof Error ? err.message : String(err)}` } };
  }
  if (text.trim() === "") return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, failure: { type: "InputRejected", message: `input is not valid JSON: ${err instanceof Error ? err.message : String(err)}` } };
  }
}

export interface OneshotDeps {
  spawn: SpawnChild;
  clock: Clock;
  log: (msg: string) => void;
  /** An isolated call (oneshot-task.ts): the input claimed from the gateway, and where the output goes. */
  task?: {
    id: string;
    input: unknown;
    token?: string | undefined;
    deliver(outputJson: string): Promise<{ doc: string; exitCode: number }>;
    /** ctx progress of the call, posted to its task (best effort). */
    progress?(value: number, message: string | undefined): void;
  };
}

/** Runs one attempt; returns the document to write and the exit code. Writes nothing itself. */
export async function runOneshot(config: WorkerConfig, deps: OneshotDeps): Promise<{ doc: string; exitCode: number }> {
  const input = deps.task !== undefined ? { ok: true as const, value: deps.task.input } : await readInput(config.inputFile);
  if (!input.ok) return fail(input.failure, deps);
  const supervisor = new Supervisor({
    spawn: deps.spawn,
    clock: deps.clock,
    concurrency: 1,
    restartOnError: false,
    retrySetup: false,
    respawn: false,
    log: deps.log,
    // Isolated Jobs apply the Function's startup deadline to their setup phase too.
    startupTimeoutSeconds: config.startupTimeoutSeconds,
    onSetupProgress: (p) => deps.log(`hearth: setup ${describeProgress(p)}`),
    // An isolated call reports ctx.progress to its task, like a warm worker.
    onProgress: (_id, value, message) => deps.task?.progress?.(value, message),
  });
  try {
    supervisor.start();
    const state = await supervisor.settled();
    if (state !== "ready") {
      return fail(supervisor.setupError ?? { type: "UserError", message: `setup did not finish (state ${state})` }, deps);
    }
    // An isolated call runs under its task id: ctx.taskId and its log lines' tag (task-log.ts) name it.
    const outcome = await supervisor.run({ id: deps.task?.id ?? "oneshot", attempt: 1, input: input.value, timeoutSeconds: config.timeoutSeconds, token: deps.task?.token });
    switch (outcome.kind) {
      case "done": {
        if (deps.task !== undefined) return await deps.task.deliver(outcome.output);
        const result = successDocument(outcome.output);
        if (result.exitCode !== 0) deps.log(`hearth: BadConfiguration (exit ${result.exitCode}): output too large for the termination log`);
        return result;
      }
      case "failed":
        return fail(outcome.error, deps);
      case "disrupted":
        return fail({ type: "UserError", message: outcome.message }, deps);
    }
  } finally {
    supervisor.stop();
  }
}

function fail(failure: WireFailure, deps: OneshotDeps): { doc: string; exitCode: number } {
  const result = failureResult(failure);
  deps.log(`hearth: ${failure.reason ?? failure.type} (exit ${result.exitCode}): ${failure.message}`);
  return result;
}

/** Still exits with the class's code when the log cannot be written: podFailurePolicy needs only the code. */
export async function writeTerminationLog(path: string, doc: string, log: (msg: string) => void): Promise<void> {
  try {
    await writeFile(path, doc);
  } catch (err) {
    log(`hearth: cannot write termination log ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
