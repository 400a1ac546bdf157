// The task document of the caller API (docs/protocol.md "Caller API"), rendered from a task in
// memory: JSON text with the stored output spliced in, never parsed and encoded again.
import type { TaskDocument } from "../protocol/index.ts";
import type { Task } from "./task-model.ts";
import { pickleOutputB64 } from "./workflows/values.ts";

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The task document of `GET /v1/tasks/{id}` as JSON text; the output is spliced, not re-encoded. */
export function renderTask(t: Task): string {
  const doc: Omit<TaskDocument, "output"> = {
    id: t.id,
    function: { namespace: t.namespace, name: t.name },
    status: t.status,
    attempts: t.attempts,
    createdAt: iso(t.createdAt),
  };
  if (t.startedAt !== null) doc.startedAt = iso(t.startedAt);
  if (t.finishedAt !== null) doc.finishedAt = iso(t.finishedAt);
  if (t.progress !== undefined) doc.progress = t.progress;
  if (t.waiting !== undefined && t.status === "queued") doc.waiting = t.waiting;
  if (t.error !== null) doc.error = t.error;
  if (t.cached) doc.cached = true;
  if (t.parentId !== null) {
    doc.parent = t.parentId;
    doc.depth = t.depth;
  }
  if (t.status === "succeeded" && t.output !== null && t.encoding === "pickle") doc.outputB64 = pickleOutputB64(t.output);
  const text = JSON.stringify(doc);
  if (t.status === "succeeded" && t.output !== null && t.encoding === "json") return `${text.slice(0, -1)},"output":${t.output}}`;
  return text;
}
