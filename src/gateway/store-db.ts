// The SQLite side of the task store: schema, row encoding and the write transaction. Shared by
// the in-thread writer (":memory:" stores) and the writer thread (store-writer.ts), which keeps
// fsync off the gateway's event loop.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Encoding, TaskError, TaskStatus } from "../protocol/index.ts";
import { EXTRA_TABLES, type ExtraWrite } from "./store-tables.ts";

export interface TaskRow {
  id: string;
  namespace: string;
  name: string;
  status: TaskStatus;
  attempts: number;
  disruptions: number;
  encoding: Encoding;
  /** JSON text, or base64 for pickle; dropped once the task is terminal. */
  input: string | null;
  /** JSON text, or base64 for pickle. */
  output: string | null;
  error: TaskError | null;
  idempotencyKey: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  notBefore: number | null;
}

export type StoreSync = "full" | "normal";

type SqlRow = Record<string, string | number | bigint | null | Uint8Array>;

const STATUSES = new Set(["queued", "running", "succeeded", "failed", "cancelled"]);

export function openDb(path: string, sync: StoreSync): DatabaseSync {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync === "normal" ? "NORMAL" : "FULL"}; PRAGMA busy_timeout = 5000;`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS tasks (
      id TEXT PRIMARY KEY,
      namespace TEXT NOT NULL,
      name TEXT NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      disruptions INTEGER NOT NULL,
      encoding TEXT NOT NULL,
      input TEXT,
      output TEXT,
      error TEXT,
      idempotency_key TEXT,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER,
      not_before INTEGER
    );
    CREATE UNIQUE INDEX IF NOT EXISTS tasks_idempotency ON tasks(namespace, name, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX IF NOT EXISTS tasks_active ON tasks(status) WHERE status IN ('queued', 'running');
    CREATE INDEX IF NOT EXISTS tasks_finished ON tasks(finished_at) WHERE finished_at IS NOT NULL;
  `);
  for (const t of EXTRA_TABLES) db.exec(t.schema);
  return db;
}

/** Statements that change the table; prepared once per connection. */
export class DbWriter {
  private readonly db: DatabaseSync;
  private readonly upsert: StatementSync;
  private readonly expired: StatementSync;
  private readonly remove: StatementSync;
  private readonly extra = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
    this.upsert = db.prepare(`
      INSERT INTO tasks (id, namespace, name, status, attempts, disruptions, encoding, input, output, error, idempotency_key, created_at, started_at, finished_at, not_before)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, disruptions = excluded.disruptions,
        input = excluded.input, output = excluded.output, error = excluded.error, started_at = excluded.started_at,
        finished_at = excluded.finished_at, not_before = excluded.not_before`);
    this.expired = db.prepare("SELECT id FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?");
    this.remove = db.prepare("DELETE FROM tasks WHERE id = ?");
  }

  /** One transaction; throws (after rolling back) when it cannot commit. */
  write(rows: Iterable<TaskRow>, extras: readonly ExtraWrite[] = []): void {
    this.transaction(() => {
      for (const e of extras) this.writeExtra(e);
      for (const r of rows) {
        this.upsert.run(
          r.id,
          r.namespace,
          r.name,
          r.status,
          r.attempts,
          r.disruptions,
          r.encoding,
          r.input,
          r.output,
          r.error === null ? null : JSON.stringify(r.error),
          r.idempotencyKey,
          r.createdAt,
          r.startedAt,
          r.finishedAt,
          r.notBefore,
        );
      }
    });
  }

  private writeExtra(e: ExtraWrite): void {
    const table = EXTRA_TABLES.find((t) => t.name === e.table);
    if (table === undefined) throw new Error(`unknown store table ${e.table}`);
    const by = "deleteBy" in e ? e.deleteBy : undefined;
    if (by !== undefined && !table.columns.includes(by)) throw new Error(`unknown column ${by} of ${e.table}`);
    const sql =
      e.values !== null
        ? `INSERT OR REPLACE INTO ${table.name} (${table.columns.join(", ")}) VALUES (${table.columns.map(() => "?").join(", ")})`
        : `DELETE FROM ${table.name} WHERE ${by ?? table.columns[0] ?? "key"} = ?`;
    let stmt = this.extra.get(sql);
    if (stmt === undefined) this.extra.set(sql, (stmt = this.db.prepare(sql)));
    if (e.values !== null) stmt.run(...e.values);
    else stmt.run(e.key);
  }

  deleteFinishedBefore(before: number, limit: number): string[] {
    const ids = (this.expired.all(before, limit) as SqlRow[]).map((r) => String(r["id"]));
    if (ids.length > 0) this.transaction(() => ids.forEach((id) => this.remove.run(id)));
    return ids;
  }

  private transaction(fn: () => void): void {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      fn();
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }
}

/** Queries that only read; the gateway's thread runs them on its own connection. */
export class DbReader {
  private readonly byId: StatementSync;
  private readonly byKey: StatementSync;
  private readonly active: StatementSync;

  constructor(db: DatabaseSync) {
    this.byId = db.prepare("SELECT * FROM tasks WHERE id = ?");
    this.byKey = db.prepare("SELECT * FROM tasks WHERE namespace = ? AND name = ? AND idempotency_key = ?");
    this.active = db.prepare("SELECT * FROM tasks WHERE status IN ('queued', 'running') ORDER BY created_at, rowid");
  }

  get(id: string): TaskRow | undefined {
    const row = this.byId.get(id) as SqlRow | undefined;
    return row === undefined ? undefined : fromSql(row);
  }

  findByIdempotencyKey(namespace: string, name: string, key: string): TaskRow | undefined {
    const row = this.byKey.get(namespace, name, key) as SqlRow | undefined;
    return row === undefined ? undefined : fromSql(row);
  }

  loadActive(): TaskRow[] {
    return (this.active.all() as SqlRow[]).map(fromSql);
  }
}

function num(v: unknown): number | null {
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function fromSql(r: SqlRow): TaskRow {
  const status = String(r["status"]);
  const errorText = str(r["error"]);
  return {
    id: String(r["id"]),
    namespace: String(r["namespace"]),
    name: String(r["name"]),
    status: (STATUSES.has(status) ? status : "queued") as TaskStatus,
    attempts: num(r["attempts"]) ?? 0,
    disruptions: num(r["disruptions"]) ?? 0,
    encoding: r["encoding"] === "pickle" ? "pickle" : "json",
    input: str(r["input"]),
    output: str(r["output"]),
    error: errorText === null ? null : (JSON.parse(errorText) as TaskError),
    idempotencyKey: str(r["idempotency_key"]),
    createdAt: num(r["created_at"]) ?? 0,
    startedAt: num(r["started_at"]),
    finishedAt: num(r["finished_at"]),
    notBefore: num(r["not_before"]),
  };
}
