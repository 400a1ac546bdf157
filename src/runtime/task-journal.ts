// Direct mode: the tasks a child is running, as fixed slots in a file the child writes and its
// supervisor reads (docs/protocol.md, "Node warm worker: the child holds the channel"). The child
// writes a slot when a task starts (before its handler runs), rewrites it when progress moves the
// deadline, and clears it when the task ends — positional writes, no message, so no wake-up of the
// supervisor. The supervisor reads the file when it needs to know: at the earliest deadline, at
// least once a second, on a heartbeat, on drain, and when the child has exited (a crash then fails
// exactly the tasks still in their slots). The file is created and unlinked by the supervisor; the
// child inherits it as a file descriptor.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/** The descriptor the child finds its task journal on (stdio index 4), and the variable that says so. */
export const JOURNAL_FD = 4;
export const JOURNAL_FD_ENV = "HEARTH_TASK_JOURNAL_FD";

/** One slot: 4 bytes length, 4 bytes CRC-32 of the text, the entry as JSON. Within one page. */
export const SLOT_BYTES = 512;
const HEADER = 8;

/** A task running in the child, as the supervisor must know it. */
export interface JournalEntry {
  id: string;
  leaseId: string;
  attempt: number;
  timeoutSeconds: number;
  /** Epoch ms; past it the supervisor kills the child (Timeout). Progress moves it. */
  deadline: number;
}

/** What a read found: the running tasks; `complete` false when a slot was caught mid-write (read again later). */
export interface JournalRead {
  entries: JournalEntry[];
  complete: boolean;
}

/**
 * Writes `entry`'s slot at `at` in `into` (which holds SLOT_BYTES from there) and returns how many
 * bytes it took; undefined when it does not fit (the child tells the supervisor by message
 * instead), and then `into` is unchanged.
 */
export function encodeSlotAt(into: Buffer, at: number, entry: JournalEntry): number | undefined {
  const text = JSON.stringify([entry.id, entry.leaseId, entry.attempt, entry.timeoutSeconds, entry.deadline]);
  // Measured before writing, not judged by what write() took: it stops before a character that
  // does not fit whole, so a cut text may take a few bytes less than the room it had. A text short
  // enough to fit in any encoding (3 UTF-8 bytes per UTF-16 unit at most) needs no measuring.
  if (text.length * 3 >= SLOT_BYTES - HEADER && Buffer.byteLength(text, "utf8") >= SLOT_BYTES - HEADER) return undefined;
  const len = into.write(text, at + HEADER, "utf8");
  into.writeUInt32LE(len, at);
  // The text's CRC-32 is its UTF-8 bytes' (zlib encodes a string so): no view of the buffer to make.
  into.writeUInt32LE(crc32(text), at + 4);
  return HEADER + len;
}

/** A slot's bytes for `entry`; undefined when it does not fit. */
export function encodeSlot(entry: JournalEntry): Buffer | undefined {
  const out = Buffer.alloc(SLOT_BYTES);
  const n = encodeSlotAt(out, 0, entry);
  return n === undefined ? undefined : out.subarray(0, n);
}

/** A free slot. */
export const EMPTY_SLOT: Buffer = Buffer.alloc(HEADER);

/** The entry in one slot: undefined when free, "torn" when its bytes do not check out (caught mid-write). */
export function decodeSlot(buf: Buffer): JournalEntry | undefined | "torn" {
  if (buf.length < HEADER) return undefined;
  const len = buf.readUInt32LE(0);
  if (len === 0) return undefined;
  if (len > buf.length - HEADER) return "torn";
  const text = buf.subarray(HEADER, HEADER + len);
  if (crc32(text) !== buf.readUInt32LE(4)) return "torn";
  try {
    const v: unknown = JSON.parse(text.toString("utf8"));
    if (!Array.isArray(v) || v.length !== 5) return "torn";
    const [id, leaseId, attempt, timeoutSeconds, deadline] = v as unknown[];
    if (typeof id !== "string" || typeof leaseId !== "string" || typeof attempt !== "number" || typeof timeoutSeconds !== "number" || typeof deadline !== "number") return "torn";
    return { id, leaseId, attempt, timeoutSeconds, deadline };
  } catch {
    return "torn";
  }
}

/** Every slot of a journal's bytes (a short file: the rest is free). */
export function decodeJournal(buf: Buffer, slots: number): JournalRead {
  const entries: JournalEntry[] = [];
  let complete = true;
  for (let i = 0; i < slots; i++) {
    const at = i * SLOT_BYTES;
    if (at >= buf.length) break;
    const e = decodeSlot(buf.subarray(at, Math.min(buf.length, at + SLOT_BYTES)));
    if (e === "torn") complete = false;
    else if (e !== undefined) entries.push(e);
  }
  return { entries, complete };
}

/** The child's side: writes slots at their offsets. */
export interface JournalWriter {
  /** Writes `entry` into `slot`; false when it does not fit or the write failed (tell the supervisor by message). */
  put(slot: number, entry: JournalEntry): boolean;
  clear(slot: number): void;
  /** Several entries with one write (a grant of several tasks); the slots recorded: those that fit, if the write went through. */
  putMany(items: readonly { slot: number; entry: JournalEntry }[]): ReadonlySet<number>;
  /** Several slots cleared with one write (the outcomes of one results line). */
  clearMany(slots: readonly number[]): void;
}

/**
 * The child's writer on the descriptor it inherited. It keeps an image of every slot (it is the
 * only writer), so that several slots leave in one write of the range that holds them: slots in
 * between are written again with what they already hold.
 */
export function fdJournalWriter(fd: number): JournalWriter {
  let image = Buffer.alloc(0);
  const ensure = (slot: number): void => {
    if ((slot + 1) * SLOT_BYTES <= image.length) return;
    const grown = Buffer.alloc(Math.max(image.length * 2, (slot + 1) * SLOT_BYTES));
    image.copy(grown);
    image = grown;
  };
  /** `entry` into the image's `slot`; undefined (the image unchanged) when it does not fit. */
  const stage = (slot: number, entry: JournalEntry): number | undefined => {
    ensure(slot);
    return encodeSlotAt(image, slot * SLOT_BYTES, entry);
  };
  const unstage = (slot: number): void => {
    ensure(slot);
    EMPTY_SLOT.copy(image, slot * SLOT_BYTES);
  };
  const write = (from: number, length: number): boolean => {
    try {
      writeSync(fd, image, from, length, from);
      return true;
    } catch {
      return false;
    }
  };
  const clear = (slot: number): void => {
    unstage(slot);
    // A failure leaves nothing to do: the supervisor would fail this task if the child died now
    // (and the next write of a range holding this slot clears it).
    write(slot * SLOT_BYTES, HEADER);
  };
  return {
    put: (slot, entry) => {
      const n = stage(slot, entry);
      if (n === undefined) return false;
      if (write(slot * SLOT_BYTES, n)) return true;
      clear(slot);
      return false;
    },
    clear,
    putMany: (items) => {
      const ok = new Set<number>();
      let lo = Infinity;
      let hi = -1;
      for (const { slot, entry } of items) {
        if (stage(slot, entry) === undefined) continue;
        ok.add(slot);
        lo = Math.min(lo, slot);
        hi = Math.max(hi, slot);
      }
      if (ok.size === 0 || write(lo * SLOT_BYTES, (hi - lo + 1) * SLOT_BYTES)) return ok;
      for (const slot of ok) clear(slot);
      return new Set();
    },
    clearMany: (slots) => {
      if (slots.length === 0) return;
      for (const slot of slots) unstage(slot);
      const lo = Math.min(...slots);
      const hi = Math.max(...slots);
      write(lo * SLOT_BYTES, (hi - lo + 1) * SLOT_BYTES);
    },
  };
}

/** The supervisor's side. */
export interface JournalReader {
  /** The first `slots` slots; a slot caught mid-write is read again a few times before `complete` is false. */
  read(slots: number): JournalRead;
  close(): void;
}

/**
 * Where journals go: /dev/shm (tmpfs: a write never waits on a filesystem journal — on ext4 the
 * mtime update of a write now and then waits for a commit, milliseconds), else the temp directory.
 */
const JOURNAL_DIRS = ["/dev/shm", tmpdir()];

/** A fresh journal file for one child: created and unlinked at once (only the descriptors remain). */
export function createJournal(dirs: readonly string[] = JOURNAL_DIRS): { fd: number; reader: JournalReader } {
  let fd: number | undefined;
  let failure: unknown;
  for (const base of dirs) {
    try {
      const dir = mkdtempSync(join(base, "hearth-journal-"));
      try {
        fd = openSync(join(dir, "tasks"), "w+", 0o600);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      break;
    } catch (err) {
      failure = err;
    }
  }
  if (fd === undefined) throw failure instanceof Error ? failure : new Error("no directory for the task journal");
  let buf = Buffer.alloc(0);
  let open = true;
  const journalFd = fd;
  return {
    fd,
    reader: {
      read: (slots) => {
        if (!open) return { entries: [], complete: true };
        if (buf.length !== slots * SLOT_BYTES) buf = Buffer.alloc(slots * SLOT_BYTES);
        let last: JournalRead = { entries: [], complete: false };
        for (let i = 0; i < 3 && !last.complete; i++) {
          buf.fill(0);
          const n = readSync(journalFd, buf, 0, buf.length, 0);
          last = decodeJournal(buf.subarray(0, n), slots);
        }
        return last;
      },
      close: () => {
        if (!open) return;
        open = false;
        closeSync(journalFd);
      },
    },
  };
}
