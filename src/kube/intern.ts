// One copy of each repeated string in the informer caches. Every watch event is a fresh
// JSON.parse, so the thousands of cached objects each hold their own copy of the namespace, of
// `hearth.dev/v1alpha1`, of condition reasons and messages, of the owning Function's name and uid
// (in the Function, its Deployment's and Secret's owner references, its pods' labels), of the
// timestamps written in the same second. V8 only shares strings of up to 10 characters by itself.
// Interning the string values of each cached object makes them share one copy; heap snapshots of
// the operator showed a third of a cached Function to be such copies.

export interface InternerOptions {
  /** Strings are remembered until this many are; then the table starts over (old copies stay shared). Default 16,384. */
  maxEntries?: number;
  /** Longer strings are left alone (they rarely repeat: hashes, messages with details). Default 128. */
  maxLength?: number;
}

/** V8 already shares the strings JSON.parse makes up to this length. */
const SHARED_BY_V8 = 10;

export class StringInterner {
  private table = new Map<string, string>();
  private readonly maxEntries: number;
  private readonly maxLength: number;

  constructor(opts: InternerOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 16_384;
    this.maxLength = opts.maxLength ?? 128;
  }

  /** The shared copy of `s` (the first one seen since the table started over). */
  string(s: string): string {
    if (s.length <= SHARED_BY_V8 || s.length > this.maxLength) return s;
    const seen = this.table.get(s);
    if (seen !== undefined) return seen;
    // Starting over bounds the table; strings that keep repeating come back in at once.
    if (this.table.size >= this.maxEntries) this.table = new Map();
    this.table.set(s, s);
    return s;
  }

  /** Replaces, in place, every string value of a parsed JSON value (objects and arrays, any depth). Returns it. */
  values<T>(value: T): T {
    this.walk(value);
    return value;
  }

  get size(): number {
    return this.table.size;
  }

  private walk(v: unknown): void {
    if (typeof v !== "object" || v === null) return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x === "string") v[i] = this.string(x);
        else this.walk(x);
      }
      return;
    }
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x === "string") o[k] = this.string(x);
      else this.walk(x);
    }
  }
}

/** The interner every informer of the process shares, so that one Function's strings are shared across caches. */
export const sharedStrings = new StringInterner();
