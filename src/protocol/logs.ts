// Log lines (docs/protocol.md, "Log lines"): both runtimes start every line a handler writes
// while it runs a task with `[task:<id>] `, which is how `hearth logs task <id>` finds them.

/** The tag a line of task `id` starts with. */
export function taskTag(id: string): string {
  return `[task:${id}] `;
}

/** The line without its tag when it belongs to task `id`; undefined otherwise. */
export function lineOfTask(line: string, id: string): string | undefined {
  const tag = taskTag(id);
  return line.startsWith(tag) ? line.slice(tag.length) : undefined;
}
