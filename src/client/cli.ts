// Shared by `hearth run`, `hearth push` and `hearth get`: connection flags, reading the input,
// printing errors with the task's exit-code class (and exiting with its code).
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { createClient, HearthError, type HearthClient, type RemoteFunction } from "./client.ts";

export const CONNECTION_HELP = `  --url URL        gateway (default $HEARTH_URL, $HEARTH_GATEWAY_URL, then http://127.0.0.1:8080)
  --token TOKEN    caller token (default $HEARTH_TOKEN)`;

export function clientFrom(values: { url?: string | undefined; token?: string | undefined }): HearthClient {
  const opts: { url?: string; token?: string } = {};
  if (values.url !== undefined) opts.url = values.url;
  if (values.token !== undefined) opts.token = values.token;
  return createClient(opts);
}

/** The input: a JSON argument, `-` for stdin, `--file` for a file, nothing for null. */
export async function readInput(arg: string | undefined, file: string | undefined): Promise<unknown> {
  let source: string;
  if (file !== undefined) source = await readFile(file, "utf8");
  else if (arg === "-") source = await text(process.stdin);
  else if (arg !== undefined) source = arg;
  else return null;
  if (source.trim() === "") return null;
  try {
    return JSON.parse(source) as unknown;
  } catch {
    throw new UsageError(`input must be JSON (quote strings: '"text"'), got ${JSON.stringify(source.slice(0, 80))}`);
  }
}

export class UsageError extends Error {}

/** `ns/name` is a Function, `wf/ns/name` a Workflow. */
export function target(client: HearthClient, ref: string): RemoteFunction {
  return ref.startsWith("wf/") ? client.workflow(ref.slice(3)) : client.function(ref);
}

/** Prints the error; returns the exit code: the task's class code, 2 for usage, 1 otherwise. */
export function report(err: unknown): number {
  if (err instanceof UsageError) {
    console.error(`hearth: ${err.message}`);
    return 2;
  }
  if (err instanceof HearthError) {
    const where = err.taskId === undefined ? "" : ` (task ${err.taskId}${err.attempt === undefined ? "" : `, attempt ${err.attempt}`})`;
    console.error(`hearth: ${err.type}${where}: ${err.message}`);
    return err.exitCode ?? 1;
  }
  console.error(`hearth: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
}

export function print(value: unknown): void {
  if (Buffer.isBuffer(value)) process.stdout.write(value);
  else process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
