// Stable hashes of JSON-like values: key order never changes a hash.
import { createHash } from "node:crypto";

/** JSON with object keys sorted, undefined members dropped. */
export function canonicalJson(value: unknown): string {
  // One list of parts joined once: the recursive entries/filter/sort/map/join of each object
  // level made most of a Function reconcile's hashing garbage (the pod template is deep).
  const parts: string[] = [];
  writeCanonical(value, parts);
  return parts.join("");
}

function writeCanonical(value: unknown, parts: string[]): void {
  if (value === null || typeof value !== "object") {
    parts.push(JSON.stringify(value) ?? "null");
    return;
  }
  if (Array.isArray(value)) {
    parts.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) parts.push(",");
      const v: unknown = value[i];
      if (v === undefined) parts.push("null");
      else writeCanonical(v, parts);
    }
    parts.push("]");
    return;
  }
  const o = value as Record<string, unknown>;
  // Default sort: by UTF-16 code units, the order `<` gives.
  const keys = Object.keys(o).sort();
  parts.push("{");
  let first = true;
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    if (!first) parts.push(",");
    first = false;
    parts.push(JSON.stringify(k), ":");
    writeCanonical(v, parts);
  }
  parts.push("}");
}

/** First 16 hex characters of the SHA-256 of the canonical JSON. */
export function stableHash(...values: unknown[]): string {
  const h = createHash("sha256");
  for (const v of values) h.update(canonicalJson(v)).update("\n");
  return h.digest("hex").slice(0, 16);
}
