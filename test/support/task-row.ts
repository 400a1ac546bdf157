// A task row as the gateway's store keeps it (src/gateway/store-db.ts TaskRow): a queued task
// with an input, for the store's tests; `over` sets any field.
import type { TaskRow } from "../../src/gateway/store.ts";

export function taskRow(id: string, over: Partial<TaskRow> = {}): TaskRow {
  return {
    id,
    namespace: "ns",
    name: "fn",
    status: "queued",
    attempts: 0,
    disruptions: 0,
    encoding: "json",
    input: '{"x":1}',
    output: null,
    error: null,
    idempotencyKey: null,
    createdAt: 1000,
    startedAt: null,
    finishedAt: null,
    notBefore: null,
    timeoutSeconds: null,
    retries: null,
    parentId: null,
    depth: 0,
    cached: false,
    ...over,
  };
}
