// Durable tasks: SQLite through Node's built-in node:sqlite (no native addon), WAL on a volume.
// Writes are staged and committed in groups: one commit is in flight at a time, and everything
// saved meanwhile rides in the next one, so one fsync covers every push of a burst. A push is
// acknowledged, and a result shown to anyone, only after the commit holding it (committed());
// the outcome of a `:run` its caller waits for on the connection once it is in the run log
// (saveLogged(), run-log.ts: it survives the gateway's crash; its commit and fsync follow at once)
// or, without one, once written (written(): SQLite committed it);
// a failed commit writes nothing of its batch (one transaction). File stores never fsync on the
// event loop: a writer thread (store-writer.ts) syncs the WAL and checkpoints it. A small commit
// somebody waits on with written() (a run()'s outcome: tens of µs in SQLite) is made on this
// thread, so the answer does not wait for two thread hand-offs; every other one (pushes, bursts)
// on the writer thread, which keeps this thread free for requests (`commitWhere`).
// ":memory:" stores (tests) commit in-thread. Leases are not written: after a restart every
// unfinished task is queued again.
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { DbReader, DbWriter, keyRowId, openDb, rowValues, TASK_ROW_COLUMNS, type KeyRow, type StoreSync, type TaskRow } from "./store-db.ts";
import { RunLog, type LogSegment } from "./run-log.ts";
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
  /** Keep a run log (run-log.ts) for saveLogged(); default true for file stores. */
  runLog?: boolean;
}

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A commit's two answers: SQLite committed it (crash-safe), and it is on the disk (ms in all).
 * `pipelined`: the next commit may start once this one is written, before it is synced (a
 * later fsync of the WAL covers it); otherwise the next one waits for `synced`.
 */
interface Commit {
  written: Promise<void>;
  synced: Promise<number>;
  pipelined: boolean;
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
  return { written: failed.then(() => undefined), synced: failed, pipelined: false };
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
    return { written: synced.then(() => undefined), synced, pipelined: false };
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
/**
 * Commits made on the gateway's thread between two checkpoints of the WAL (the writer thread
 * makes them). A small commit adds a handful of pages; SQLite's own automatic checkpoint runs
 * at 1,000 pages.
 */
export const CHECKPOINT_EVERY = 100;

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
  /** Commits made here whose fsync is not yet asked for: one `sync` message covers them all. */
  private syncsToAsk: number[] = [];
  private syncAskScheduled = false;
  /** The commits of the `sync` message the writer thread has not answered yet: the next message waits for it. */
  private syncAsked = new Set<number>();
  /** The next of these commits made here has the writer thread checkpoint the WAL after its fsync. */
  private checkpointCountdown = CHECKPOINT_EVERY;
  private checkpointAsked = false;
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
        this.syncAnswered(msg.batch);
        return;
      case "syncFailed":
        this.settle(this.syncing, msg.batch, (p) => p.reject(new Error(`task store fsync failed: ${msg.message}`)));
        this.syncAnswered(msg.batch);
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
      this.worker.postMessage({ t: "write", batch: id, rows: rows.map(rowValues), extras, quiet: !urgent } satisfies ToWriter);
    });
    // One of the two may fail with nobody waiting on it: the store reports failures through onError.
    written.catch(() => undefined);
    synced.catch(() => undefined);
    return { written, synced, pipelined: false };
  }

  /**
   * Commits on this thread (written at once), then has the writer thread sync the WAL. The sync
   * is asked for after this turn of the event loop (the answer this commit unblocks goes out
   * first), and one `sync` covers every commit made here while the previous one ran. The next
   * commit need not wait for this one's fsync (pipelined), except every CHECKPOINT_EVERY-th,
   * whose sync checkpoints the WAL: a checkpoint restarts the WAL only if no commit runs during it.
   */
  private writeHere(rows: TaskRow[], extras: ExtraWrite[]): Commit {
    const started = performance.now();
    hop("g.commit");
    try {
      this.here.write(rows, extras);
    } catch (err) {
      return failedCommit(err);
    }
    hop("g.written");
    const id = ++this.seq;
    const checkpoint = --this.checkpointCountdown <= 0;
    if (checkpoint) this.checkpointCountdown = CHECKPOINT_EVERY;
    const synced = new Promise<number>((resolve, reject) => this.syncing.set(id, { resolve: resolve as (v: unknown) => void, reject })).then(() => performance.now() - started);
    synced.catch(() => undefined);
    this.syncsToAsk.push(id);
    this.checkpointAsked ||= checkpoint;
    if (!this.syncAskScheduled && this.syncAsked.size === 0) {
      this.syncAskScheduled = true;
      setImmediate(() => this.askSync());
    }
    return { written: Promise.resolve(), synced, pipelined: !checkpoint };
  }

  /** Posts one `sync` for the commits made here since the last one. */
  private askSync(): void {
    this.syncAskScheduled = false;
    if (this.syncAsked.size > 0 || this.syncsToAsk.length === 0) return;
    this.syncAsked = new Set(this.syncsToAsk);
    this.worker.postMessage({ t: "sync", batches: this.syncsToAsk, checkpoint: this.checkpointAsked } satisfies ToWriter);
    this.syncsToAsk = [];
    this.checkpointAsked = false;
  }

  /** A `sync` was answered (once per commit it covered): ask for the next once all are. */
  private syncAnswered(batch: number): void {
    if (!this.syncAsked.delete(batch) || this.syncAsked.size > 0) return;
    if (this.syncsToAsk.length > 0) this.askSync();
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
  private inflight: Inflight | undefined;
  /** The latest pipelined commit still being synced (the next one started when it was written). */
  private syncingTail: Inflight | undefined;
  private flushScheduled = false;
  private closed = false;
  private readonly runLog: RunLog | undefined;
  /** Rows in the run log that SQLite has not written yet, and the segment holding each. */
  private readonly logged = new Map<string, LogSegment>();
  /** Logged rows whose commit failed wait this long before they are staged again. */
  private relogTimer: ReturnType<typeof setTimeout> | undefined;

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
    const here = new DbWriter(db);
    if (!inMemory && opts.runLog !== false) {
      // Rows a crash left in the run log are committed (and synced) before anything reads the store.
      const { log, recovered, skipped } = RunLog.open(path, TASK_ROW_COLUMNS);
      if (recovered.length > 0) {
        db.exec("PRAGMA synchronous = FULL");
        here.writeValues(recovered);
        db.exec("PRAGMA synchronous = NORMAL");
      }
      if (skipped > 0) opts.onError?.(new Error(`task store: ${skipped} unreadable line(s) in the run log were skipped (cut by a crash)`));
      log.discardRecovered();
      this.runLog = log;
    }
    this.writer = inMemory ? new InlineWriter(here) : new ThreadWriter(path, sync, here);
  }

  /** Stages the row's current state; the next commit writes it (later saves of the same id win). */
  save(row: TaskRow): void {
    if (this.closed) return;
    this.staged.set(row.id, stagedRow(row));
    this.scheduleFlush();
  }

  /**
   * save(), and the row is appended to the run log at once (run-log.ts): when this returns true
   * the row survives the gateway's crash, as after written(), before its SQLite commit (which
   * follows on the writer thread). False (no run log: a :memory: store, or the append failed):
   * the row is only staged, and the caller waits for written() as before.
   */
  saveLogged(row: TaskRow): boolean {
    if (this.closed || this.runLog === undefined) return false;
    const staged = stagedRow(row);
    let seg: LogSegment;
    hop("g.commit");
    try {
      seg = this.runLog.append(rowValues(staged));
    } catch (err) {
      this.opts.onError?.(err);
      return false;
    }
    hop("g.written");
    const before = this.logged.get(row.id);
    if (before !== undefined) this.runLog.release(before);
    this.logged.set(row.id, seg);
    this.staged.set(row.id, staged);
    this.scheduleFlush();
    return true;
  }

  /** SQLite has written these rows: their run-log lines are obsolete. */
  private releaseLogged(rows: Map<string, TaskRow>): void {
    if (this.logged.size === 0 || this.runLog === undefined) return;
    for (const id of rows.keys()) {
      const seg = this.logged.get(id);
      if (seg === undefined) continue;
      this.logged.delete(id);
      this.runLog.release(seg);
    }
  }

  /** A commit holding logged rows failed: they are staged again a second later (the log keeps them meanwhile). */
  private relog(rows: Map<string, TaskRow>): void {
    if (this.relogTimer !== undefined || ![...rows.keys()].some((id) => this.logged.has(id))) return;
    this.relogTimer = setTimeout(() => {
      this.relogTimer = undefined;
      if (this.closed) return;
      for (const [id, r] of rows) if (this.logged.has(id) && !this.staged.has(id)) this.staged.set(id, r);
      this.scheduleFlush();
    }, 1000);
    this.relogTimer.unref();
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
    // Syncs are answered in order: the latest commit's covers the earlier ones.
    const last = this.inflight ?? this.syncingTail;
    if (last !== undefined) {
      last.batch ??= newBatch();
      return last.batch.promise;
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
    const inflight: Inflight = { rows, batch: this.stagedBatch, written: this.stagedWritten, isWritten: false };
    this.staged = new Map();
    this.stagedExtra = new Map();
    this.stagedBatch = undefined;
    this.stagedWritten = undefined;
    this.inflight = inflight;
    const commit = this.writer.write([...rows.values()], extras, inflight.written !== undefined);
    commit.written.then(
      () => {
        inflight.isWritten = true;
        this.releaseLogged(rows);
        inflight.written?.resolve();
        // A small commit made on this thread: the next may start now (its rows are readable here).
        if (commit.pipelined) {
          this.syncingTail = inflight;
          this.afterCommit(inflight);
        }
      },
      (err: unknown) => {
        this.relog(rows);
        inflight.written?.reject(err);
      },
    );
    // Otherwise the next commit starts once this one is on the disk: one fsync at a time covers a burst.
    commit.synced.then(
      (ms) => {
        this.opts.onCommit?.(rows.size, ms);
        inflight.batch?.resolve();
        this.synced(inflight);
      },
      (err: unknown) => {
        this.opts.onError?.(err);
        inflight.batch?.reject(err);
        // Whoever waits on a later commit's sync waits on everything before it too.
        if (this.syncingTail !== undefined && this.syncingTail !== inflight) this.syncingTail.batch?.reject(err);
        this.synced(inflight);
      },
    );
  }

  private synced(inflight: Inflight): void {
    if (this.syncingTail === inflight) this.syncingTail = undefined;
    this.afterCommit(inflight);
  }

  private afterCommit(inflight: Inflight): void {
    if (this.inflight !== inflight) return;
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
    while (this.staged.size > 0 || this.stagedExtra.size > 0 || this.inflight !== undefined || this.syncingTail !== undefined) {
      this.flush();
      await this.committed().catch(() => undefined);
    }
    this.closed = true;
    if (this.relogTimer !== undefined) clearTimeout(this.relogTimer);
    this.runLog?.close();
    await this.writer.close();
    this.closeDb();
  }
}

/** A commit on its way: its rows (read until they are), and who waits for it to be written and synced. */
interface Inflight {
  rows: Map<string, TaskRow>;
  batch: Batch | undefined;
  written: Batch | undefined;
  isWritten: boolean;
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

/** The row as staged and written: a finished task keeps no input. */
function stagedRow(row: TaskRow): TaskRow {
  return { ...row, input: isTerminalStatus(row.status) ? null : row.input };
}

function isTerminalStatus(s: TaskRow["status"]): boolean {
  return s === "succeeded" || s === "failed" || s === "cancelled";
}
