// Task-tagged output: every line a handler writes to stdout/stderr while it runs a task starts
// with `[task:<id>] `, so `hearth logs task <id>` can find that task's lines in a worker's log
// (docs/protocol.md, "Log lines"). The task is carried by AsyncLocalStorage, so concurrent tasks
// of one child are told apart; output outside a task (setup(), the runtime) is left untouched.
import { AsyncLocalStorage } from "node:async_hooks";
import { taskTag } from "../protocol/logs.ts";

/** `chunk` with every line that starts in it prefixed by `tag`; `atLineStart`: the stream's last write ended a line. */
export function tagChunk(chunk: string, tag: string, atLineStart: boolean): string {
  const parts = chunk.split("\n");
  return parts.map((part, i) => ((i === 0 && !atLineStart) || (i === parts.length - 1 && part === "") ? part : tag + part)).join("\n");
}

const current = new AsyncLocalStorage<string>();


function wrap(stream: NodeJS.WriteStream): void {
  const original = stream.write.bind(stream) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
  // Per task: did its last write on this stream end a line?
  const atStart = new Map<string, boolean>();
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const id = current.getStore();
    if (id === undefined) return original(chunk, ...rest);
    // Strings in another encoding (hex, base64…) are not text: pass them on untouched.
    if (typeof chunk === "string" && typeof rest[0] === "string" && rest[0] !== "utf8" && rest[0] !== "utf-8") return original(chunk, ...rest);
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    const tagged = tagChunk(text, taskTag(id), atStart.get(id) ?? true);
    if (text.endsWith("\n")) atStart.delete(id);
    else atStart.set(id, false);
    return original(tagged, ...rest.filter((r) => typeof r === "function"));
  };
  stream.write = write;
}

let installed = false;

/** Wraps process.stdout/stderr once (the child process calls it before running tasks). */
export function installTaskLog(): void {
  if (installed) return;
  installed = true;
  wrap(process.stdout);
  wrap(process.stderr);
}

/** Runs `fn` with its output tagged as task `id`'s. */
export function withTaskLog<T>(id: string, fn: () => T): T {
  return current.run(id, fn);
}
