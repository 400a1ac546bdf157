// The task store's writer thread: commits batches the gateway's thread sends, so that fsync
// (about a millisecond per commit on ordinary disks) never stalls request handling.
// At sync=full each commit is answered twice: `written` once SQLite committed it (in the WAL, in
// the OS's page cache: it survives the gateway's crash, kill -9) and `synced` once the WAL is on
// the disk (it survives power loss). SQLite runs at synchronous=NORMAL and this thread syncs the
// WAL itself after each commit, which is what synchronous=FULL does inside COMMIT; checkpoints
// sync as before (NORMAL syncs the WAL before and the database after each one).
// Small commits are made by the gateway's thread itself (store.ts, `commitWhere`): this thread
// then only syncs the WAL (`sync`, one message for every commit made there since the last one)
// and, when the message says so (every CHECKPOINT_EVERY-th commit, store.ts), checkpoints it, since
// the gateway's connection never checkpoints (its fsyncs would stall the event loop).
import { closeSync, fdatasyncSync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { DbWriter, openDb, type RowValues, type StoreSync } from "./store-db.ts";
import type { ExtraWrite } from "./store-tables.ts";

export type ToWriter =
  /** `rows`: each task row as its columns' values (store-db.ts rowValues). */
  /**
   * `quiet`: nobody waits for this commit before it is on the disk: at sync=full one answer
   * (`written`, synced) after the fsync instead of two, so the gateway's thread wakes once.
   */
  | { t: "write"; batch: number; rows: RowValues[]; extras: ExtraWrite[]; quiet?: boolean }
  /**
   * The gateway's thread committed `batches` itself: sync the WAL (sync=full), then checkpoint
   * it if `checkpoint` (the gateway's thread counts its commits and holds the next one until this
   * answer, so the checkpoint completes and the WAL starts over).
   */
  | { t: "sync"; batches: number[]; checkpoint: boolean }
  | { t: "delete"; req: number; before: number; limit: number; keysBefore: number | undefined } | { t: "close" };

export type FromWriter =
  /** Committed; `synced`: on the disk too (else a `synced` or `syncFailed` follows). */
  | { t: "written"; batch: number; ms: number; rows: number; synced: boolean }
  /** The batch's WAL frames are on the disk; `ms` from the start of the commit. */
  | { t: "synced"; batch: number; ms: number }
  | { t: "syncFailed"; batch: number; message: string }
  | { t: "writeFailed"; batch: number; message: string }
  | { t: "deleted"; req: number; ids: string[]; message?: string }
  | { t: "closed" };

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error("store-writer.ts runs as a worker thread");
  const { path, sync } = workerData as { path: string; sync: StoreSync };
  const syncWal = sync === "full";
  const db = openDb(path, syncWal ? "normal" : sync);
  const writer = new DbWriter(db);
  const wal = new WalSync(`${path}-wal`);
  const reply = (msg: FromWriter): void => port.postMessage(msg);
  port.on("message", (msg: ToWriter) => {
    switch (msg.t) {
      case "write": {
        const started = performance.now();
        try {
          writer.writeValues(msg.rows, msg.extras);
        } catch (err) {
          reply({ t: "writeFailed", batch: msg.batch, message: err instanceof Error ? err.message : String(err) });
          return;
        }
        const writtenMs = performance.now() - started;
        const quiet = msg.quiet === true && syncWal;
        if (!quiet) reply({ t: "written", batch: msg.batch, ms: writtenMs, rows: msg.rows.length, synced: !syncWal });
        if (!syncWal) return;
        try {
          wal.sync();
          const ms = performance.now() - started;
          reply(quiet ? { t: "written", batch: msg.batch, ms, rows: msg.rows.length, synced: true } : { t: "synced", batch: msg.batch, ms });
        } catch (err) {
          if (quiet) reply({ t: "written", batch: msg.batch, ms: writtenMs, rows: msg.rows.length, synced: false });
          reply({ t: "syncFailed", batch: msg.batch, message: err instanceof Error ? err.message : String(err) });
        }
        return;
      }
      case "sync": {
        const started = performance.now();
        try {
          if (syncWal) wal.sync();
        } catch (err) {
          for (const batch of msg.batches) reply({ t: "syncFailed", batch, message: err instanceof Error ? err.message : String(err) });
          return;
        }
        // Checkpoint before answering: the gateway's next commit waits for this answer, and only a
        // commit that starts after a complete checkpoint starts the WAL file over.
        if (msg.checkpoint) {
          try {
            db.exec("PRAGMA wal_checkpoint(PASSIVE)");
          } catch {
            // Failed or busy: the next one retries (and this thread's own commits checkpoint as SQLite does).
          }
        }
        const ms = performance.now() - started;
        for (const batch of msg.batches) reply({ t: "synced", batch, ms });
        return;
      }
      case "delete":
        try {
          if (msg.keysBefore !== undefined) writer.deleteKeysBefore(msg.keysBefore);
          reply({ t: "deleted", req: msg.req, ids: writer.deleteFinishedBefore(msg.before, msg.limit) });
        } catch (err) {
          reply({ t: "deleted", req: msg.req, ids: [], message: err instanceof Error ? err.message : String(err) });
        }
        return;
      case "close":
        wal.close();
        db.close();
        reply({ t: "closed" });
        port.close();
        return;
    }
  });
}

/**
 * fdatasync of the WAL. Its descriptor is opened once and kept: SQLite keeps the same file while
 * any connection is open (a checkpoint rewrites it from the start, in place), and this thread's
 * own connection is open as long as it runs. After a failure, the next sync opens it afresh. No
 * WAL file: everything is in the database file, which checkpoints sync.
 */
class WalSync {
  private fd: number | undefined;
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  sync(): void {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
    }
    try {
      fdatasyncSync(this.fd);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already gone: nothing left to release.
    }
  }
}

main();
