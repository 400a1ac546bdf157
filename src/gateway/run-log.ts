// The run log: the outcome of a keyless `:run` is appended here (one write, a JSON line of the
// row's column values) and its caller answered at once; the row's SQLite commit follows on the
// writer thread. An appended line is in the operating system's page cache when the write
// returns, so it survives the gateway's crash (kill -9, OOM kill) as a SQLite commit would,
// without a SQLite commit's cost on the answer's path (tens of µs: b-tree pages, WAL frames,
// locks). A line is obsolete once SQLite has written its row; a segment file whose lines are all
// obsolete is deleted once the log has moved on to the next one. When the store opens, the rows
// of any segment left behind (a crash) are committed again (store.ts: a finished row is final,
// so replaying one SQLite already holds changes nothing), then the segments are deleted.
// Power loss is not this file's concern: it is not fsynced; the row's SQLite commit and its
// fsync follow within milliseconds (docs/protocol.md, "Durability").
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { RowValues } from "./store-db.ts";

/** A segment's size after which appends move to a new one (so the old one can be deleted). */
export const SEGMENT_BYTES = 1 << 20;

/** One segment file: how many of its lines SQLite has not written yet. */
export interface LogSegment {
  readonly path: string;
  pending: number;
  bytes: number;
  fd: number | undefined;
}

/** The segment files of the store at `storePath`, oldest first: `<store>-runlog.<n>`. */
export function segmentFiles(storePath: string): { path: string; seq: number }[] {
  const dir = dirname(storePath);
  const prefix = `${basename(storePath)}-runlog.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .map((n) => ({ path: join(dir, n), seq: Number(n.slice(prefix.length)) }))
    .sort((a, b) => a.seq - b.seq);
}

/**
 * The rows of a segment's text, in order. A line that does not parse (the last one, cut by a
 * crash or power loss) or has the wrong number of columns is skipped and counted.
 */
export function parseSegment(text: string, columns: number): { rows: RowValues[]; skipped: number } {
  const rows: RowValues[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (Array.isArray(v) && v.length === columns && typeof v[0] === "string" && v.every((x) => x === null || typeof x === "string" || typeof x === "number")) rows.push(v as RowValues);
    else skipped++;
  }
  return { rows, skipped };
}

export class RunLog {
  private readonly storePath: string;
  private next: number;
  private current: LogSegment | undefined;
  /** Segments left by an earlier process: deleted by `discardRecovered` once their rows are committed. */
  private readonly recoveredPaths: string[];

  /** Opens the log of `storePath`; `recovered` holds the rows of segments an earlier process left. */
  static open(storePath: string, columns: number): { log: RunLog; recovered: RowValues[]; skipped: number } {
    const files = segmentFiles(storePath);
    const recovered: RowValues[] = [];
    let skipped = 0;
    for (const f of files) {
      const parsed = parseSegment(readFileSync(f.path, "utf8"), columns);
      recovered.push(...parsed.rows);
      skipped += parsed.skipped;
    }
    const log = new RunLog(storePath, (files.at(-1)?.seq ?? 0) + 1, files.map((f) => f.path));
    return { log, recovered, skipped };
  }

  private constructor(storePath: string, next: number, recoveredPaths: string[]) {
    this.storePath = storePath;
    this.next = next;
    this.recoveredPaths = recoveredPaths;
  }

  /** The recovered rows are committed (and synced): their segments go. */
  discardRecovered(): void {
    for (const p of this.recoveredPaths.splice(0)) unlinkQuietly(p);
  }

  /** Appends one row (one write); throws when the write fails. Returns the segment holding it. */
  append(values: RowValues): LogSegment {
    let seg = this.current;
    if (seg === undefined || seg.fd === undefined || seg.bytes >= SEGMENT_BYTES) seg = this.rotate();
    const line = Buffer.from(`${JSON.stringify(values)}\n`);
    const n = writeSync(seg.fd ?? -1, line);
    if (n !== line.length) throw new Error(`run log: short write (${n} of ${line.length} bytes) to ${seg.path}`);
    seg.bytes += n;
    seg.pending++;
    return seg;
  }

  /** SQLite has written one of `seg`'s rows. */
  release(seg: LogSegment): void {
    seg.pending--;
    if (seg.pending <= 0 && seg !== this.current) unlinkQuietly(seg.path);
  }

  /** Stops appending; deletes the current segment if none of its rows waits for SQLite. */
  close(): void {
    const seg = this.current;
    this.current = undefined;
    if (seg === undefined) return;
    closeQuietly(seg);
    if (seg.pending <= 0) unlinkQuietly(seg.path);
  }

  private rotate(): LogSegment {
    const old = this.current;
    const path = `${this.storePath}-runlog.${this.next++}`;
    const seg: LogSegment = { path, pending: 0, bytes: 0, fd: openSync(path, "a") };
    this.current = seg;
    if (old !== undefined) {
      closeQuietly(old);
      if (old.pending <= 0) unlinkQuietly(old.path);
    }
    return seg;
  }
}

function closeQuietly(seg: LogSegment): void {
  if (seg.fd === undefined) return;
  try {
    closeSync(seg.fd);
  } catch {
    // Already closed or gone: nothing more to write to it anyway.
  }
  seg.fd = undefined;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already: what it held is committed.
  }
}
