// The SQLite side of the task store: schema, row encoding and the write transaction. Shared by
// the in-thread writer (":memory:" stores) and the writer thread (store-writer.ts), which keeps
// fsync off the gateway's event loop.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Encoding, TaskError, TaskStatus } from "../protocol/index.ts";
import type { RetryPolicy } from "../protocol/index.ts";
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
  /** Per-task override of the Function's timeoutSeconds (a hearth.dev Job's own); null = the Function's. */
  timeoutSeconds: number | null;
  /** Per-task override of the Function's retry policy; null = the Function's. */
  retries: RetryPolicy | null;
  /** The task whose handler started this one (a call from inside a handler); null = a client's call. */
  parentId: string | null;
  /** How many handler calls deep this task is (0 = called by a client). */
  depth: number;
  /** The output came from the result cache: nothing ran. */
  cached: boolean;
}

/** An idempotency key: remembered for the configured window, independent of the task's result TTL. */
export interface KeyRow {
  namespace: string;
  name: string;
  key: string;
  taskId: string;
  /** sha256 of the task's encoding and input: the same key with another input is a conflict. */
  inputHash: string;
  createdAt: number;
}

/** The primary key of a row of idempotency_keys. */
export function keyRowId(namespace: string, name: string, key: string): string {
  return `${namespace}\u0000${name}\u0000${key}`;
}

export type StoreSync = "full" | "normal";

type SqlRow = Record<string, string | number | bigint | null | Uint8Array>;

const STATUSES = new Set(["queued", "running", "succeeded", "failed", "cancelled"]);

export function openDb(path: string, sync: StoreSync): DatabaseSync {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync === "normal" ? "NORMAL" : "FULL"}; PRAGMA busy_timeout = 5000;`);
  for (const t of EXTRA_TABLES) db.exec(t.schema);
  migrate(db);
  return db;
}

/**
 * The tasks table, as numbered steps recorded in `PRAGMA user_version`. Append new steps at the
 * end; never edit a step that has shipped. New tables of other parts of the gateway go in
 * store-tables.ts (created IF NOT EXISTS before these steps run); a change to an existing table
 * is a step here.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: tasks (IF NOT EXISTS: stores created before user_version was kept are at 0 with it).
  `CREATE TABLE IF NOT EXISTS tasks (
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
    CREATE INDEX IF NOT EXISTS tasks_active ON tasks(status) WHERE status IN ('queued', 'running');
    CREATE INDEX IF NOT EXISTS tasks_finished ON tasks(finished_at) WHERE finished_at IS NOT NULL;`,
  // 2: per-task overrides; idempotency keys move to their own table (store-tables.ts) with their own window.
  `ALTER TABLE tasks ADD COLUMN timeout_seconds INTEGER;
    ALTER TABLE tasks ADD COLUMN retries TEXT;
    INSERT OR IGNORE INTO idempotency_keys (key, namespace, name, idem_key, task_id, input_hash, created_at)
      SELECT namespace || char(0) || name || char(0) || idempotency_key, namespace, name, idempotency_key, id, '', created_at FROM tasks WHERE idempotency_key IS NOT NULL;
    DROP INDEX IF EXISTS tasks_idempotency;`,
  // 3: calls from inside a handler (the parent task and the call depth); `cached` survives a restart.
  `ALTER TABLE tasks ADD COLUMN parent_id TEXT;
    ALTER TABLE tasks ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;`,
];

function migrate(db: DatabaseSync): void {
  const version = (): number => Number((db.prepare("PRAGMA user_version").get() as SqlRow | undefined)?.["user_version"] ?? 0);
  if (version() >= MIGRATIONS.length) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Another connection may have migrated while we waited for the lock.
    for (let v = version(); v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v] ?? "");
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

/** Statements that change the table; prepared once per connection. */
export class DbWriter {
  private readonly db: DatabaseSync;
  private readonly upsert: StatementSync;
  private readonly expired: StatementSync;
  private readonly remove: StatementSync;
  private readonly expiredKeys: StatementSync;
  private readonly extra = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
    // A finished task is final: a later write never replaces its outcome (results are recorded once).
    this.upsert = db.prepare(`
      INSERT INTO tasks (id, namespace, name, status, attempts, disruptions, encoding, input, output, error, idempotency_key, created_at, started_at, finished_at, not_before, timeout_seconds, retries, parent_id, depth, cached)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, disruptions = excluded.disruptions,
        input = excluded.input, output = excluded.output, error = excluded.error, started_at = excluded.started_at,
        finished_at = excluded.finished_at, not_before = excluded.not_before, timeout_seconds = excluded.timeout_seconds, retries = excluded.retries,
        cached = excluded.cached
      WHERE tasks.finished_at IS NULL`);
    this.expired = db.prepare("SELECT id FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?");
    this.remove = db.prepare("DELETE FROM tasks WHERE id = ?");
    this.expiredKeys = db.prepare("DELETE FROM idempotency_keys WHERE created_at < ?");
  }

  /** One transaction; throws (after rolling back) when it cannot commit. */
  write(rows: Iterable<TaskRow>, extras: readonly ExtraWrite[] = []): void {
    this.writeValues(Array.from(rows, rowValues), extras);
  }

  /** write() of rows already made into their columns' values (rowValues: what the writer thread is sent). */
  writeValues(rows: readonly RowValues[], extras: readonly ExtraWrite[] = []): void {
    this.transaction(() => {
      for (const e of extras) this.writeExtra(e);
      for (const r of rows) this.upsert.run(...r);
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

  /** Forgets idempotency keys created before `before`; returns how many. */
  deleteKeysBefore(before: number): number {
    let n = 0;
    this.transaction(() => (n = Number(this.expiredKeys.run(before).changes)));
    return n;
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

/**
 * A task row as the values of the tasks table's columns, in the order of the upsert's column
 * list: what the gateway's thread posts to the writer thread (an array is cloned at about half the
 * cost of an object with named fields).
 */
export type RowValues = readonly (string | number | null)[];

/** How many values rowValues gives (the run log checks the lines it replays against it). */
export const TASK_ROW_COLUMNS = 20;

export function rowValues(r: TaskRow): RowValues {
  return [
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
    r.timeoutSeconds,
    r.retries === null ? null : JSON.stringify(r.retries),
    r.parentId,
    r.depth,
    r.cached ? 1 : 0,
  ];
}

/** Queries that only read; the gateway's thread runs them on its own connection. */
export class DbReader {
  private readonly byId: StatementSync;
  private readonly byKey: StatementSync;
  private readonly active: StatementSync;

  constructor(db: DatabaseSync) {
    this.byId = db.prepare("SELECT * FROM tasks WHERE id = ?");
    this.byKey = db.prepare("SELECT * FROM idempotency_keys WHERE key = ?");
    this.active = db.prepare("SELECT * FROM tasks WHERE status IN ('queued', 'running') ORDER BY created_at, rowid");
  }

  get(id: string): TaskRow | undefined {
    const row = this.byId.get(id) as SqlRow | undefined;
    return row === undefined ? undefined : fromSql(row);
  }

  findKey(namespace: string, name: string, key: string): KeyRow | undefined {
    const r = this.byKey.get(keyRowId(namespace, name, key)) as SqlRow | undefined;
    if (r === undefined) return undefined;
    return { namespace, name, key, taskId: String(r["task_id"]), inputHash: String(r["input_hash"]), createdAt: num(r["created_at"]) ?? 0 };
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
    timeoutSeconds: num(r["timeout_seconds"]),
    retries: retriesOf(str(r["retries"])),
    parentId: str(r["parent_id"]),
    depth: num(r["depth"]) ?? 0,
    cached: num(r["cached"]) === 1,
  };
}

function retriesOf(text: string | null): RetryPolicy | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as RetryPolicy;
  } catch {
    return null;
  }
}
