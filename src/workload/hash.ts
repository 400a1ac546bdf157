// Stable hashes of JSON-like values: key order never changes a hash.
import { createHash } from "node:crypto";

/** JSON with object keys sorted, undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** First 16 hex characters of the SHA-256 of the canonical JSON. */
export function stableHash(...values: unknown[]): string {
  const h = createHash("sha256");
  for (const v of values) h.update(canonicalJson(v)).update("\n");
  return h.digest("hex").slice(0, 16);
}
