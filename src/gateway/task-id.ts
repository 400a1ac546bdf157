// Task ids: UUIDs whose first 48 bits are the creation time in ms (the UUIDv7 layout, RFC 9562),
// the rest random. Ids created close together sort together, so the store's primary-key index
// takes new rows at its right edge: a group commit of many new tasks dirties a few index pages
// instead of one random page per task (fewer pages written and fsynced per commit).
import { randomUUID } from "node:crypto";

/** The time part of the last id made, reused within one millisecond. */
let lastMs = -1;
let lastPrefix = "";

/** A version-7 UUID for `nowMs`: 48 bits of time, then 74 random bits (from a v4 UUID). */
export function timeOrderedId(nowMs: number): string {
  const ms = Math.max(0, Math.floor(nowMs));
  if (ms !== lastMs) {
    const t = ms.toString(16).padStart(12, "0").slice(-12);
    lastMs = ms;
    lastPrefix = `${t.slice(0, 8)}-${t.slice(8, 12)}-7`;
  }
  // randomUUID(): xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx; its variant and random bits stay.
  return lastPrefix + randomUUID().slice(15);
}
