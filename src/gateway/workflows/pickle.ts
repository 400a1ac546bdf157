// Just enough pickle for the gateway to move pickled values through a workflow without ever
// unpickling user objects (docs/workflows.md, "Encodings"):
// - pickleJson: a JSON value (a reducer's `initial`) as a pickle;
// - pickleList: a list whose items are other pickles, each embedded as `pickle.loads(<bytes>)`,
//   so a reducer's `(accumulator, item)` or a map step's items as one run output are pickles
//   that Python unpickles into the original objects;
// - readNames: a router's choice, a pickled str or list/tuple of str (anything else: undefined).
// Pure functions on bytes.

const PROTO_3 = Buffer.from([0x80, 0x03]);
const STOP = 0x2e; // .
const MARK = 0x28; // (

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function encodeInt(n: number): Buffer {
  if (n >= -0x80000000 && n <= 0x7fffffff) {
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // J BININT
    b.writeInt32LE(n, 1);
    return b;
  }
  // LONG1: little-endian two's complement.
  let v = BigInt(n);
  const bytes: number[] = [];
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Buffer.from([0x8a, bytes.length, ...bytes]);
}

function encodeValue(value: unknown, out: Buffer[]): void {
  if (value === null || value === undefined) out.push(Buffer.from("N"));
  else if (value === true) out.push(Buffer.from([0x88]));
  else if (value === false) out.push(Buffer.from([0x89]));
  else if (typeof value === "number") {
    if (Number.isSafeInteger(value)) out.push(encodeInt(value));
    else {
      const b = Buffer.alloc(9);
      b[0] = 0x47; // G BINFLOAT (big-endian)
      b.writeDoubleBE(value, 1);
      out.push(b);
    }
  } else if (typeof value === "string") {
    const text = Buffer.from(value, "utf8");
    out.push(Buffer.from("X"), u32(text.length), text);
  } else if (Array.isArray(value)) {
    out.push(Buffer.from("]"));
    if (value.length > 0) {
      out.push(Buffer.from([MARK]));
      for (const v of value) encodeValue(v, out);
      out.push(Buffer.from("e"));
    }
  } else if (typeof value === "object") {
    out.push(Buffer.from("}"));
    const entries = Object.entries(value);
    if (entries.length > 0) {
      out.push(Buffer.from([MARK]));
      for (const [k, v] of entries) {
        encodeValue(k, out);
        encodeValue(v, out);
      }
      out.push(Buffer.from("u"));
    }
  } else throw new TypeError(`cannot pickle a ${typeof value}`);
}

/** A JSON value (as JSON.parse gives it) as a protocol-3 pickle. */
export function pickleJson(value: unknown): Buffer {
  const out: Buffer[] = [PROTO_3];
  encodeValue(value, out);
  out.push(Buffer.from([STOP]));
  return Buffer.concat(out);
}

function listOf(parts: readonly Buffer[], out: Buffer[]): void {
  out.push(Buffer.from("]"));
  if (parts.length === 0) return;
  out.push(Buffer.from([MARK]));
  for (const p of parts) out.push(Buffer.from("cpickle\nloads\n"), Buffer.from("B"), u32(p.length), p, Buffer.from([0x85, 0x52])); // TUPLE1 REDUCE
  out.push(Buffer.from("e"));
}

/** A pickle of the list `[pickle.loads(p) for p in parts]`: each part comes back as its own object. */
export function pickleList(parts: readonly Buffer[]): Buffer {
  const out: Buffer[] = [PROTO_3];
  listOf(parts, out);
  out.push(Buffer.from([STOP]));
  return Buffer.concat(out);
}

/** A pickle of `{key: [pickle.loads(p) for p in parts]}` (a run's outputs by terminal step). */
export function pickleDictOfLists(entries: readonly (readonly [string, readonly Buffer[]])[]): Buffer {
  const out: Buffer[] = [PROTO_3, Buffer.from("}")];
  if (entries.length > 0) {
    out.push(Buffer.from([MARK]));
    for (const [key, parts] of entries) {
      encodeValue(key, out);
      listOf(parts, out);
    }
    out.push(Buffer.from("u"));
  }
  out.push(Buffer.from([STOP]));
  return Buffer.concat(out);
}

type Item = string | string[] | typeof MARKER;
const MARKER = Symbol("mark");

/** A pickled str, or list/tuple of str; undefined for anything else or a malformed pickle. */
export function readNames(data: Buffer): string | string[] | undefined {
  const stack: Item[] = [];
  const memo = new Map<number, string | string[]>();
  let i = 0;
  const take = (n: number): Buffer | undefined => {
    if (i + n > data.length) return undefined;
    const b = data.subarray(i, i + n);
    i += n;
    return b;
  };
  const str = (lenBytes: 1 | 4 | 8): string | undefined => {
    const l = take(lenBytes);
    if (l === undefined) return undefined;
    const n = lenBytes === 1 ? (l[0] ?? 0) : lenBytes === 4 ? l.readUInt32LE() : Number(l.readBigUInt64LE());
    return take(n)?.toString("utf8");
  };
  const popMark = (): string[] | undefined => {
    const at = stack.lastIndexOf(MARKER);
    if (at < 0) return undefined;
    const items = stack.splice(at).slice(1);
    return items.every((x): x is string => typeof x === "string") ? items : undefined;
  };
  const top = (): string | string[] | undefined => {
    const t = stack[stack.length - 1];
    return t === undefined || t === MARKER ? undefined : t;
  };
  while (i < data.length) {
    const op = data[i++] ?? -1;
    switch (op) {
      case 0x80: // PROTO
        if (take(1) === undefined) return undefined;
        break;
      case 0x95: // FRAME
        if (take(8) === undefined) return undefined;
        break;
      case 0x8c: // SHORT_BINUNICODE
      case 0x58: // X BINUNICODE
      case 0x8d: {
        // BINUNICODE8
        const s = str(op === 0x8c ? 1 : op === 0x58 ? 4 : 8);
        if (s === undefined) return undefined;
        stack.push(s);
        break;
      }
      case 0x94: {
        // MEMOIZE
        const t = top();
        if (t === undefined) return undefined;
        memo.set(memo.size, t);
        break;
      }
      case 0x71: // q BINPUT
      case 0x72: {
        // r LONG_BINPUT
        const k = take(op === 0x71 ? 1 : 4);
        const t = top();
        if (k === undefined || t === undefined) return undefined;
        memo.set(op === 0x71 ? (k[0] ?? 0) : k.readUInt32LE(), t);
        break;
      }
      case 0x68: // h BINGET
      case 0x6a: {
        // j LONG_BINGET
        const k = take(op === 0x68 ? 1 : 4);
        const v = k === undefined ? undefined : memo.get(op === 0x68 ? (k[0] ?? 0) : k.readUInt32LE());
        if (v === undefined) return undefined;
        stack.push(v);
        break;
      }
      case 0x5d: // ] EMPTY_LIST
      case 0x29: // ) EMPTY_TUPLE
        stack.push([]);
        break;
      case MARK:
        stack.push(MARKER);
        break;
      case 0x65: {
        // e APPENDS
        const items = popMark();
        const list = top();
        if (items === undefined || !Array.isArray(list)) return undefined;
        list.push(...items);
        break;
      }
      case 0x61: {
        // a APPEND
        const item = stack.pop();
        const list = top();
        if (typeof item !== "string" || !Array.isArray(list)) return undefined;
        list.push(item);
        break;
      }
      case 0x6c: // l LIST
      case 0x74: {
        // t TUPLE
        const items = popMark();
        if (items === undefined) return undefined;
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1..3
      case 0x86:
      case 0x87: {
        const n = op - 0x84;
        const items = stack.splice(stack.length - n);
        if (items.length !== n || !items.every((x): x is string => typeof x === "string")) return undefined;
        stack.push(items);
        break;
      }
      case STOP: {
        const t = stack.length === 1 ? top() : undefined;
        return t;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}
