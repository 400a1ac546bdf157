// The task store's writer thread: commits batches the gateway's thread sends, so that fsync
// (about a millisecond per commit on ordinary disks) never stalls request handling.
import { parentPort, workerData } from "node:worker_threads";
import { DbWriter, openDb, type StoreSync, type TaskRow } from "./store-db.ts";
import type { ExtraWrite } from "./store-tables.ts";

export type ToWriter = { t: "write"; batch: number; rows: TaskRow[]; extras: ExtraWrite[] } | { t: "delete"; req: number; before: number; limit: number; keysBefore: number | undefined } | { t: "close" };

export type FromWriter =
  | { t: "written"; batch: number; ms: number; rows: number }
  | { t: "writeFailed"; batch: number; message: string }
  | { t: "deleted"; req: number; ids: string[]; message?: string }
  | { t: "closed" };

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error("store-writer.ts runs as a worker thread");
  const { path, sync } = workerData as { path: string; sync: StoreSync };
  const db = openDb(path, sync);
  const writer = new DbWriter(db);
  const reply = (msg: FromWriter): void => port.postMessage(msg);
  port.on("message", (msg: ToWriter) => {
    switch (msg.t) {
      case "write": {
        const started = performance.now();
        try {
          writer.write(msg.rows, msg.extras);
          reply({ t: "written", batch: msg.batch, ms: performance.now() - started, rows: msg.rows.length });
        } catch (err) {
          reply({ t: "writeFailed", batch: msg.batch, message: err instanceof Error ? err.message : String(err) });
        }
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
        db.close();
        reply({ t: "closed" });
        port.close();
        return;
    }
  });
}

main();
