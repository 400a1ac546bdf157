// Tables other parts of the gateway keep in the task store (workflow runs, the result cache),
// written by the same writer in the same commits as the tasks (docs/workflows.md: a step's
// completion and what it produced land together). Each table's first column is its key.
export type SqlValue = string | number | null;

export interface ExtraTable {
  name: string;
  columns: readonly string[];
  /** CREATE TABLE/INDEX statements (IF NOT EXISTS). */
  schema: string;
}

/** An upsert of one row (`values` in column order), or a delete by key, or by another column. */
export type ExtraWrite =
  | { table: string; key: string; values: SqlValue[] }
  | { table: string; key: string; values: null }
  | { table: string; key: string; values: null; deleteBy: string };

export const EXTRA_TABLES: readonly ExtraTable[] = [
  {
    // Idempotency keys (tasks.ts): remembered for their own window, independent of the result TTL.
    name: "idempotency_keys",
    columns: ["key", "namespace", "name", "idem_key", "task_id", "input_hash", "created_at"],
    schema: `CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, idem_key TEXT NOT NULL,
      task_id TEXT NOT NULL, input_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys(created_at);`,
  },
  {
    name: "wf_runs",
    columns: ["id", "namespace", "name", "status", "spec", "input", "encoding", "output", "error", "idempotency_key", "created_at", "finished_at", "doc"],
    schema: `CREATE TABLE IF NOT EXISTS wf_runs (id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL,
      input TEXT, encoding TEXT NOT NULL, output TEXT, error TEXT, idempotency_key TEXT, created_at INTEGER NOT NULL, finished_at INTEGER, doc TEXT);
      CREATE INDEX IF NOT EXISTS wf_runs_active ON wf_runs(status) WHERE status IN ('queued', 'running');
      CREATE INDEX IF NOT EXISTS wf_runs_key ON wf_runs(namespace, name, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX IF NOT EXISTS wf_runs_finished ON wf_runs(finished_at) WHERE finished_at IS NOT NULL;`,
  },
  {
    name: "wf_nodes",
    columns: ["task_id", "run", "step", "path", "kind", "status", "seq", "input"],
    schema: `CREATE TABLE IF NOT EXISTS wf_nodes (task_id TEXT PRIMARY KEY, run TEXT NOT NULL, step TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
      status TEXT NOT NULL, seq INTEGER NOT NULL, input TEXT);
      CREATE INDEX IF NOT EXISTS wf_nodes_run ON wf_nodes(run, step, seq);`,
  },
  {
    name: "wf_groups",
    columns: ["key", "run", "step", "path", "count", "next", "acc", "reducing", "received", "arrivals", "done"],
    schema: `CREATE TABLE IF NOT EXISTS wf_groups (key TEXT PRIMARY KEY, run TEXT NOT NULL, step TEXT NOT NULL, path TEXT NOT NULL, count INTEGER NOT NULL,
      next INTEGER NOT NULL, acc TEXT NOT NULL, reducing TEXT, received INTEGER NOT NULL, arrivals INTEGER NOT NULL, done INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS wf_groups_run ON wf_groups(run);`,
  },
  {
    name: "wf_values",
    columns: ["key", "run", "kind", "owner", "item", "seq", "path", "value"],
    schema: `CREATE TABLE IF NOT EXISTS wf_values (key TEXT PRIMARY KEY, run TEXT NOT NULL, kind TEXT NOT NULL, owner TEXT NOT NULL, item INTEGER NOT NULL,
      seq INTEGER NOT NULL, path TEXT NOT NULL, value TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS wf_values_run ON wf_values(run);`,
  },
  {
    name: "cache_entries",
    columns: ["key", "function", "output", "bytes", "created_at"],
    schema: `CREATE TABLE IF NOT EXISTS cache_entries (key TEXT PRIMARY KEY, function TEXT NOT NULL, output TEXT NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS cache_entries_age ON cache_entries(created_at);`,
  },
];
