// Durable tasks: SQLite through Node's built-in node:sqlite (no native addon), WAL on a volume.
// Writes are staged and committed in groups: one commit is in flight at a time, and everything
// saved meanwhile rides in the next one, so one fsync covers every push of a burst. A push is
// acknowledged, and a result shown to anyone, only after the commit holding it (committed());
// the outcome of a `:run` its caller waits for on the connection only once it is written
// (written(): it survives the gateway's crash; its fsync follows at once, see store-writer.ts);
// a failed commit writes nothing of its batch (one transaction). File stores never fsync on the
// event loop: a writer thread (store-writer.ts) syncs the WAL and checkpoints it. A small commit
// somebody waits on with written() (a run()'s outcome: tens of µs in SQLite) is made on this
// thread, so the answer does not wait for two thread hand-offs; every other one (pushes, bursts)
// on the writer thread, which keeps this thread free for requests (`commitWhere`).
// ":memory:" stores (tests) commit in-thread. Leases are not written: after a restart every
// unfinished task is queued again.
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { DbReader, DbWriter, keyRowId, openDb, type KeyRow, type StoreSync, type TaskRow } from "./store-db.ts";
import type { FromWriter, ToWriter } from "./store-writer.ts";
import type { ExtraWrite, SqlValue } from "./store-tables.ts";
import { hop } from "../trace/hops.ts";

export type { KeyRow, StoreSync, TaskRow } from "./store-db.ts";

export interface StoreOptions {
  /** `full` (default) survives power loss; `normal` survives process crashes (kill -9) only. */
  synchronous?: StoreSync;
  /** Reports each commit: rows written and milliseconds taken. */
  onCommit?: (rows: number, ms: number) => void;
  onError?: (err: unknown) => void;
}

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A commit's two answers: SQLite committed it (crash-safe), and it is on the disk (ms in all). */
interface Commit {
  written: Promise<void>;
  synced: Promise<number>;
}

/** A promise's settle functions, kept until the writer thread answers. */
type Waiter = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

/** Where commits happen: here, or on the writer thread. */
interface Writer {
  /** `urgent`: somebody waits for this commit to be written (written()), not only synced. */
  write(rows: TaskRow[], extras: ExtraWrite[], urgent: boolean): Commit;
  deleteFinishedBefore(before: number, limit: number, keysBefore: number | undefined): Promise<string[]>;
  close(): Promise<void>;
}

/** A commit SQLite refused: both of its answers fail with that error. */
function failedCommit(err: unknown): Commit {
  const failed = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  failed.catch(() => undefined);
  return { written: failed.then(() => undefined), synced: failed };
}

class InlineWriter implements Writer {
  private readonly w: DbWriter;
  constructor(w: DbWriter) {
    this.w = w;
  }
  write(rows: TaskRow[], extras: ExtraWrite[]): Commit {
    const started = performance.now();
    try {
      this.w.write(rows, extras);
    } catch (err) {
      return failedCommit(err);
    }
    const synced = Promise.resolve(performance.now() - started);
    return { written: synced.then(() => undefined), synced };
  }
  async deleteFinishedBefore(before: number, limit: number, keysBefore: number | undefined): Promise<string[]> {
    if (keysBefore !== undefined) this.w.deleteKeysBefore(keysBefore);
    return this.w.deleteFinishedBefore(before, limit);
  }
  async close(): Promise<void> {}
}

/**
 * Commits of at most this many rows (tasks and rows of other tables) are made on the gateway's
 * thread. One row takes 40–110 µs there, against 150–200 µs for the round trip to the writer
 * thread (two wake-ups); a burst's batch of hundreds goes to the writer thread, off the event loop.
 */
export const INLINE_COMMIT_MAX_ROWS = 8;

/**
 * Where a commit runs. "here" only for a small one that a caller waits on (`urgent`: written()),
 * and only when no operation of the writer thread may hold SQLite's write lock (a commit not yet
 * answered, a delete): the gateway's thread must never wait on it. Pushes stay on the writer
 * thread: under a push load this thread is the bottleneck, and their acks wait for the fsync anyway.
 */
export function commitWhere(c: { rows: number; urgent: boolean; threadOpsPending: number }, maxInlineRows = INLINE_COMMIT_MAX_ROWS): "here" | "thread" {
  return c.urgent && c.rows <= maxInlineRows && c.threadOpsPending === 0 ? "here" : "thread";
}

class ThreadWriter implements Writer {
  private readonly worker: Worker;
  /** The gateway thread's own connection (synchronous=NORMAL, no automatic checkpoints), for small commits. */
  private readonly here: DbWriter;
  private seq = 0;
  private readonly pending = new Map<number, Waiter>();
  /** Commits written but not yet on the disk, by batch. */
  private readonly syncing = new Map<number, Waiter>();
  private closed: (() => void) | undefined;

  constructor(path: string, sync: StoreSync, here: DbWriter) {
    this.here = here;
    this.worker = new Worker(new URL("./store-writer.ts", import.meta.url), { workerData: { path, sync } });
    this.worker.on("message", (msg: FromWriter) => this.onMessage(msg));
    this.worker.on("error", (err) => {
      for (const p of [...this.pending.values(), ...this.syncing.values()]) p.reject(err);
      this.pending.clear();
      this.syncing.clear();
    });
  }

  private onMessage(msg: FromWriter): void {
    switch (msg.t) {
      case "written":
        hop("g.written");
        this.settle(this.pending, msg.batch, (p) => p.resolve(undefined));
        if (msg.synced) this.settle(this.syncing, msg.batch, (p) => p.resolve(msg.ms));
        return;
      case "synced":
        this.settle(this.syncing, msg.batch, (p) => p.resolve(msg.ms));
        return;
      case "syncFailed":
        this.settle(this.syncing, msg.batch, (p) => p.reject(new Error(`task store fsync failed: ${msg.message}`)));
        return;
      case "writeFailed": {
        const err = new Error(`task store commit failed: ${msg.message}`);
        this.settle(this.pending, msg.batch, (p) => p.reject(err));
        this.settle(this.syncing, msg.batch, (p) => p.reject(err));
        return;
      }
      case "deleted":
        this.settle(this.pending, msg.req, (p) => (msg.message === undefined ? p.resolve(msg.ids) : p.reject(new Error(msg.message))));
        return;
      case "closed":
        this.closed?.();
        return;
    }
  }

  /** Takes the waiter of `id` out of `waiting` (pending answers, or commits awaiting their fsync) and settles it. */
  private settle(waiting: Map<number, Waiter>, id: number, fn: (p: Waiter) => void): void {
    const p = waiting.get(id);
    if (p === undefined) return;
    waiting.delete(id);
    fn(p);
  }

  private send<T>(make: (id: number) => ToWriter): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage(make(id));
    });
  }

  write(rows: TaskRow[], extras: ExtraWrite[], urgent: boolean): Commit {
    if (commitWhere({ rows: rows.length + extras.length, urgent, threadOpsPending: this.pending.size }) === "here") return this.writeHere(rows, extras);
    const id = ++this.seq;
    const synced = new Promise<number>((resolve, reject) => this.syncing.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    const written = new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      hop("g.commit");
      this.worker.postMessage({ t: "write", batch: id, rows, extras } satisfies ToWriter);
    });
    // One of the two may fail with nobody waiting on it: the store reports failures through onError.
    written.catch(() => undefined);
    synced.catch(() => undefined);
    return { written, synced };
  }

  /** Commits on this thread (written at once), then has the writer thread sync the WAL. */
  private writeHere(rows: TaskRow[], extras: ExtraWrite[]): Commit {
    const started = performance.now();
    hop("g.commit");
    try {
      this.here.write(rows, extras);
    } catch (err) {
      return failedCommit(err);
    }
    hop("g.written");
    const ms = performance.now() - started;
    const id = ++this.seq;
    const synced = new Promise<number>((resolve, reject) => this.syncing.set(id, { resolve: resolve as (v: unknown) => void, reject })).then((syncMs) => ms + syncMs);
    synced.catch(() => undefined);
    this.worker.postMessage({ t: "sync", batch: id } satisfies ToWriter);
    return { written: Promise.resolve(), synced };
  }

  deleteFinishedBefore(before: number, limit: number, keysBefore: number | undefined): Promise<string[]> {
    return this.send((req) => ({ t: "delete", req, before, limit, keysBefore }));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.closed = resolve;
      this.worker.postMessage({ t: "close" } satisfies ToWriter);
    });
    await this.worker.terminate();
  }
}

export class TaskStore {
  private readonly opts: StoreOptions;
  private readonly reader: DbReader;
  private readonly writer: Writer;
  private readonly closeDb: () => void;
  private readonly db: DatabaseSync;
  private readonly queries = new Map<string, StatementSync>();
  private staged = new Map<string, TaskRow>();
  /** Rows of the other tables (store-tables.ts), by table and key; made into values at flush time. */
  private stagedExtra = new Map<string, () => ExtraWrite>();
  private stagedBatch: Batch | undefined;
  /** Waiters for the staged rows to be written (crash-safe), not necessarily synced. */
  private stagedWritten: Batch | undefined;
  private inflight: { rows: Map<string, TaskRow>; batch: Batch | undefined; written: Batch | undefined; isWritten: boolean } | undefined;
  private flushScheduled = false;
  private closed = false;

  constructor(path: string, opts: StoreOptions = {}) {
    this.opts = opts;
    const sync = opts.synchronous ?? "full";
    const inMemory = path === ":memory:";
    // A file store's own connection commits small batches without syncing or checkpointing: the writer thread does both.
    const db = openDb(path, inMemory ? sync : "normal");
    if (!inMemory) db.exec("PRAGMA wal_autocheckpoint = 0");
    this.db = db;
    this.reader = new DbReader(db);
    this.closeDb = () => db.close();
    this.writer = inMemory ? new InlineWriter(new DbWriter(db)) : new ThreadWriter(path, sync, new DbWriter(db));
  }

  /** Stages the row's current state; the next commit writes it (later saves of the same id win). */
  save(row: TaskRow): void {
    if (this.closed) return;
    this.staged.set(row.id, { ...row, input: isTerminalStatus(row.status) ? null : row.input });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Stages a row of another table (store-tables.ts) for the same commit as the tasks saved in
   * this turn of the event loop. `make` runs at flush time (later saves of the same key win),
   * so a row changed a thousand times between commits is serialized once.
   */
  saveExtra(table: string, key: string, make: () => SqlValue[] | null): void {
    if (this.closed) return;
    this.stagedExtra.set(`${table}\u0000${key}`, () => {
      const values = make();
      return values === null ? { table, key, values: null } : { table, key, values };
    });
    this.scheduleFlush();
  }

  /** Stages deleting every row of `table` whose `column` equals `value`. */
  deleteExtraBy(table: string, column: string, value: string): void {
    if (this.closed) return;
    this.stagedExtra.set(`${table}\u0000${column}=\u0000${value}`, () => ({ table, key: value, values: null, deleteBy: column }));
    this.scheduleFlush();
  }

  /** A read on the gateway's connection (committed rows only: await committed() first when it matters). */
  query(sql: string, ...params: SqlValue[]): Record<string, SqlValue>[] {
    let stmt = this.queries.get(sql);
    if (stmt === undefined) this.queries.set(sql, (stmt = this.db.prepare(sql)));
    return stmt.all(...params) as Record<string, SqlValue>[];
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Resolves once everything saved so far is durable; rejects if that commit failed. */
  committed(): Promise<void> {
    if (this.staged.size > 0 || this.stagedExtra.size > 0) {
      this.stagedBatch ??= newBatch();
      return this.stagedBatch.promise;
    }
    if (this.inflight !== undefined) {
      this.inflight.batch ??= newBatch();
      return this.inflight.batch.promise;
    }
    return Promise.resolve();
  }

  /**
   * Resolves once everything saved so far is committed by SQLite: it survives the gateway's
   * crash (kill -9) but, at sync=full, not yet power loss (committed() waits for that too).
   */
  written(): Promise<void> {
    if (this.staged.size > 0 || this.stagedExtra.size > 0) {
      this.stagedWritten ??= newBatch();
      return this.stagedWritten.promise;
    }
    if (this.inflight !== undefined && !this.inflight.isWritten) {
      this.inflight.written ??= newBatch();
      return this.inflight.written.promise;
    }
    return Promise.resolve();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.inflight !== undefined || (this.staged.size === 0 && this.stagedExtra.size === 0)) return;
    const rows = this.staged;
    const extras = [...this.stagedExtra.values()].map((make) => make());
    const inflight: NonNullable<TaskStore["inflight"]> = { rows, batch: this.stagedBatch, written: this.stagedWritten, isWritten: false };
    this.staged = new Map();
    this.stagedExtra = new Map();
    this.stagedBatch = undefined;
    this.stagedWritten = undefined;
    this.inflight = inflight;
    const commit = this.writer.write([...rows.values()], extras, inflight.written !== undefined);
    commit.written.then(
      () => {
        inflight.isWritten = true;
        inflight.written?.resolve();
      },
      (err: unknown) => inflight.written?.reject(err),
    );
    // The next commit starts once this one is on the disk: one fsync at a time covers a burst.
    commit.synced.then(
      (ms) => {
        this.opts.onCommit?.(rows.size, ms);
        inflight.batch?.resolve();
        this.afterCommit();
      },
      (err: unknown) => {
        this.opts.onError?.(err);
        inflight.batch?.reject(err);
        this.afterCommit();
      },
    );
  }

  private afterCommit(): void {
    this.inflight = undefined;
    // Whatever was saved during that commit goes in the next one, at once.
    if (this.staged.size > 0 || this.stagedExtra.size > 0) this.flush();
  }

  get(id: string): TaskRow | undefined {
    return this.staged.get(id) ?? this.inflight?.rows.get(id) ?? this.reader.get(id);
  }

  /** Stages an idempotency key; it commits with the task staged with it (one transaction). */
  saveKey(k: KeyRow): void {
    const id = keyRowId(k.namespace, k.name, k.key);
    this.saveExtra("idempotency_keys", id, () => [id, k.namespace, k.name, k.key, k.taskId, k.inputHash, k.createdAt]);
  }

  /** The task an idempotency key names (committed; tasks.ts tracks the ones still committing), whatever its age. */
  findKey(namespace: string, name: string, key: string): KeyRow | undefined {
    return this.reader.findKey(namespace, name, key);
  }


  /** Unfinished tasks in arrival order (after a restart all of them are queued again). */
  loadActive(): TaskRow[] {
    return this.reader.loadActive();
  }

  /** Deletes up to `limit` tasks finished before `before`; resolves with their ids. */
  deleteFinishedBefore(before: number, limit = 5000, keysBefore?: number): Promise<string[]> {
    return this.writer.deleteFinishedBefore(before, limit, keysBefore);
  }

  /** Commits what is staged, then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.staged.size > 0 || this.stagedExtra.size > 0 || this.inflight !== undefined) {
      this.flush();
      await this.committed().catch(() => undefined);
    }
    this.closed = true;
    await this.writer.close();
    this.closeDb();
  }
}

function newBatch(): Batch {
  let resolve = (): void => {};
  let reject = (_err: unknown): void => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting on a batch when it fails; the error is reported through onError.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function isTerminalStatus(s: TaskRow["status"]): boolean {
  return s === "succeeded" || s === "failed" || s === "cancelled";
}
