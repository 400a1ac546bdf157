// Hand-written parsers ("views") for the informers' hot path. Every watch event and listed
// object of a cached resource is checked and slimmed on the way in; zod did that at about
// 60–130 µs per pod or Deployment, most of the operator's own CPU after JSON.parse (profiles of
// bench/jobs and bench/reconcile, round 9). A view returns exactly what the resource's zod schema
// returns and rejects exactly what it rejects (test/unit/kube-views.test.ts checks both over
// fixtures and every single-field corruption of them); the zod schema stays the definition.
// Validated sub-objects that the schema would copy whole (string maps, unknown fields) are kept
// by reference: the input is a freshly parsed watch line nobody else holds.

export type ViewResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses or rejects one raw object (the informer's and the list's fast path). */
export type View<T> = (raw: unknown) => ViewResult<T>;

class Rejected extends Error {}

export type JsonObject = Record<string, unknown>;

function fail(path: string, expected: string): never {
  throw new Rejected(`${path}: expected ${expected}`);
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function object(v: unknown, path: string): JsonObject {
  if (!isJsonObject(v)) fail(path, "object");
  return v;
}

export function optObject(v: unknown, path: string): JsonObject | undefined {
  return v === undefined ? undefined : object(v, path);
}

export function string(v: unknown, path: string): string {
  if (typeof v !== "string") fail(path, "string");
  return v;
}

export function optString(v: unknown, path: string): string | undefined {
  if (v === undefined || typeof v === "string") return v;
  return fail(path, "string");
}

export function number(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(path, "number");
  return v;
}

export function optNumber(v: unknown, path: string): number | undefined {
  return v === undefined ? undefined : number(v, path);
}

export function optBoolean(v: unknown, path: string): boolean | undefined {
  if (v === undefined || typeof v === "boolean") return v;
  return fail(path, "boolean");
}

/** A string → string map, kept as is once checked. */
export function optStringMap(v: unknown, path: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  const o = object(v, path);
  for (const k in o) if (typeof o[k] !== "string") fail(`${path}.${k}`, "string");
  return o as Record<string, string>;
}

export function optArray<T>(v: unknown, path: string, item: (x: unknown, path: string) => T): T[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) fail(path, "array");
  const out: T[] = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = item(v[i], `${path}[${i}]`);
  return out;
}

export function array<T>(v: unknown, path: string, item: (x: unknown, path: string) => T): T[] {
  return optArray(v, path, item) ?? fail(path, "array");
}

/** An array of strings, kept as is once checked. */
export function optStringArray(v: unknown, path: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) fail(path, "array");
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== "string") fail(`${path}[${i}]`, "string");
  return v as string[];
}

/** Sets `out[key]` only when `value` is defined (the schema's output has no key for an absent optional field). */
export function put<O extends object, K extends keyof O>(out: O, key: K, value: O[K] | undefined): void {
  if (value !== undefined) out[key] = value;
}

/** A view from a function that throws on bad input (through the helpers above). */
export function view<T>(parse: (raw: unknown) => T): View<T> {
  return (raw) => {
    try {
      return { ok: true, value: parse(raw) };
    } catch (err) {
      if (err instanceof Rejected) return { ok: false, error: err.message };
      throw err;
    }
  };
}
