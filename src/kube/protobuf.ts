// Kubernetes' protobuf wire format, read by hand for the watches that ask for it (resources.ts,
// `view.protobuf`). Why: the apiserver caches each watch event's encoding per format, and the
// built-in controllers (kube-controller-manager, the scheduler) already watch pods in protobuf;
// a JSON watch of pods makes it encode every pod event once more, in JSON, for us alone. A
// protobuf watch shares the encoding it already made, and its frames are smaller to send and to
// read. Only what a watch needs is here: the wire reader, the stream's frames (a 4-byte
// big-endian length, then a meta.k8s.io/v1 WatchEvent), the object's envelope ("k8s\0" and a
// runtime.Unknown) and a Status (an ERROR event). Objects are decoded by their own modules
// (pod-protobuf.ts) into the JSON shape their views (views.ts) check.

/** Malformed protobuf: the watch fails and is restarted, as a malformed JSON line does. */
export class ProtoError extends Error {}

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

/** Reads one message (or a sub-range of one) field by field. */
export class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  /** The current field's number and wire type (after next()). */
  field = 0;
  wire = 0;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new ProtoError(`range ${String(start)}..${String(end)} outside ${String(buf.length)} bytes`);
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** Moves to the next field; false at the end of the message. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wire = tag & 7;
    if (this.field === 0) throw new ProtoError("field number 0");
    return true;
  }

  /** An unsigned varint (exact up to 2^53). */
  varint(): number {
    const buf = this.buf;
    let b = this.byte();
    if (b < 0x80) return b;
    let v = b & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 10; i++) {
      b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
    throw new ProtoError(`varint longer than 10 bytes at ${String(this.pos)} of ${String(buf.length)}`);
  }

  /** An int32 (a negative one is sent as a 10-byte varint: its low 32 bits are the value). */
  int32(): number {
    let lo = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      if (i < 5) lo |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return lo | 0;
    }
    throw new ProtoError(`varint longer than 10 bytes at ${String(this.pos)}`);
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  /** A length-delimited field's bounds; the reader moves past it. */
  len(): [number, number] {
    const n = this.varint();
    const start = this.pos;
    const end = start + n;
    if (end > this.end) throw new ProtoError(`field of ${String(n)} bytes past the end of its message`);
    this.pos = end;
    return [start, end];
  }

  string(): string {
    const [s, e] = this.len();
    return this.buf.toString("utf8", s, e);
  }

  /** A reader over the current length-delimited field (a sub-message). */
  message(): ProtoReader {
    const [s, e] = this.len();
    return new ProtoReader(this.buf, s, e);
  }

  /** Skips the current field's value. */
  skip(): void {
    switch (this.wire) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.advance(8);
        return;
      case LEN:
        this.len();
        return;
      case I32:
        this.advance(4);
        return;
      default:
        throw new ProtoError(`unsupported wire type ${String(this.wire)} (field ${String(this.field)})`);
    }
  }

  /** The field's wire type must be `wire` (a message from another schema otherwise). */
  expect(wire: number): void {
    if (this.wire !== wire) throw new ProtoError(`field ${String(this.field)}: wire type ${String(this.wire)}, expected ${String(wire)}`);
  }

  private byte(): number {
    if (this.pos >= this.end) throw new ProtoError("truncated varint");
    return this.buf[this.pos++] ?? 0;
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtoError("truncated fixed-width field");
    this.pos += n;
  }
}

/** metav1.Time ({seconds, nanos}) as its JSON text (RFC 3339, whole seconds, UTC); undefined for the zero time (sent empty). */
export function timeOf(r: ProtoReader): string | undefined {
  const m = r.message();
  let seconds = 0;
  while (m.next()) {
    if (m.field === 1 && m.wire === VARINT) seconds = m.varint();
    else m.skip();
  }
  if (m.pos === m.end && seconds === 0) return undefined;
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) throw new ProtoError(`time of ${String(seconds)} seconds`);
  const iso = d.toISOString();
  return `${iso.slice(0, 19)}Z`;
}

/** One entry of a map<string, string> field: [key, value]. */
export function mapEntry(r: ProtoReader): [string, string] {
  const m = r.message();
  let key = "";
  let value = "";
  while (m.next()) {
    if (m.field === 1 && m.wire === LEN) key = m.string();
    else if (m.field === 2 && m.wire === LEN) value = m.string();
    else m.skip();
  }
  return [key, value];
}

const MAGIC = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"

/** The object inside a protobuf envelope ("k8s\0" + runtime.Unknown): its kind and the bounds of its bytes. */
export function unwrap(buf: Buffer, start: number, end: number): { kind: string; start: number; end: number } {
  for (let i = 0; i < 4; i++) if (buf[start + i] !== MAGIC[i]) throw new ProtoError("object without the k8s protobuf prefix");
  const r = new ProtoReader(buf, start + 4, end);
  let kind = "";
  let raw: [number, number] = [0, 0];
  while (r.next()) {
    if (r.field === 1 && r.wire === LEN) {
      const t = r.message();
      while (t.next()) {
        if (t.field === 2 && t.wire === LEN) kind = t.string();
        else t.skip();
      }
    } else if (r.field === 2 && r.wire === LEN) raw = r.len();
    else if ((r.field === 3 || r.field === 4) && r.wire === LEN) {
      // contentEncoding / contentType: the apiserver sends neither for plain protobuf.
      const [s, e] = r.len();
      if (e > s) throw new ProtoError(`object with content ${r.field === 3 ? "encoding" : "type"} ${buf.toString("utf8", s, e)}`);
    } else r.skip();
  }
  return { kind, start: raw[0], end: raw[1] };
}

/** meta.k8s.io/v1 Status, as the JSON fields statusFromResponse reads. */
export function statusOf(buf: Buffer, start: number, end: number): { kind: "Status"; code: number; reason?: string; message?: string; status?: string } {
  const r = new ProtoReader(buf, start, end);
  const out: { kind: "Status"; code: number; reason?: string; message?: string; status?: string } = { kind: "Status", code: 0 };
  while (r.next()) {
    if (r.field === 2 && r.wire === LEN) out.status = r.string();
    else if (r.field === 3 && r.wire === LEN) out.message = r.string();
    else if (r.field === 4 && r.wire === LEN) out.reason = r.string();
    else if (r.field === 6 && r.wire === VARINT) out.code = r.int32();
    else r.skip();
  }
  return out;
}

/** One decoded frame of a protobuf watch. */
export interface ProtoWatchEvent {
  type: string;
  /** The object's kind ("Status" for an ERROR event) and its bytes (inside `buf`). */
  kind: string;
  buf: Buffer;
  start: number;
  end: number;
}

/** A WatchEvent frame (without its length prefix): {type, object: RawExtension{raw: envelope}}. */
export function watchEventFrame(frame: Buffer): ProtoWatchEvent {
  const r = new ProtoReader(frame);
  let type = "";
  let obj: [number, number] | undefined;
  while (r.next()) {
    if (r.field === 1 && r.wire === LEN) type = r.string();
    else if (r.field === 2 && r.wire === LEN) {
      const ext = r.message();
      while (ext.next()) {
        if (ext.field === 1 && ext.wire === LEN) obj = ext.len();
        else ext.skip();
      }
    } else r.skip();
  }
  if (obj === undefined) throw new ProtoError(`watch event ${type} without an object`);
  const inner = unwrap(frame, obj[0], obj[1]);
  return { type, kind: inner.kind, buf: frame, start: inner.start, end: inner.end };
}

/**
 * Splits a length-prefixed stream (4-byte big-endian length, then the frame) into frames,
 * chunk by chunk. A frame inside one chunk is a view of it, not a copy.
 */
export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly maxFrame: number;

  constructor(maxFrame = 64 * 1024 * 1024) {
    this.maxFrame = maxFrame;
  }

  /** Feeds a chunk; calls `onFrame` for each frame it completes. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      buf = Buffer.concat(this.pending, this.pendingBytes + chunk.length);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let pos = 0;
    while (buf.length - pos >= 4) {
      const n = buf.readUInt32BE(pos);
      if (n > this.maxFrame) throw new ProtoError(`watch frame of ${String(n)} bytes`);
      if (buf.length - pos - 4 < n) break;
      onFrame(buf.subarray(pos + 4, pos + 4 + n));
      pos += 4 + n;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
  }

  /** Bytes of an unfinished frame (a stream ending with some is truncated). */
  get leftover(): number {
    return this.pendingBytes;
  }
}
