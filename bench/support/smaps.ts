// Where a process's resident memory is, from /proc/<pid>/smaps: each mapping classified as the
// node binary and libraries (file-backed), glibc malloc's main heap ([heap]) and its other arenas
// (64 MiB reservations), V8 heap pages (256 KiB chunks, or the large-object space's bigger ones),
// thread stacks and other anonymous mappings. Linux only; a reading, not a precise attribution:
// an anonymous mapping is classified by its size and permissions.
import { readFileSync } from "node:fs";

export interface Mapping {
  start: bigint;
  sizeKiB: number;
  perms: string;
  path: string;
  rssKiB: number;
  anonKiB: number;
}

export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      const start = BigInt(`0x${head[1] ?? "0"}`);
      const end = BigInt(`0x${head[2] ?? "0"}`);
      cur = { start, sizeKiB: Number((end - start) / 1024n), perms: head[3] ?? "", path: head[4] ?? "", rssKiB: 0, anonKiB: 0 };
      out.push(cur);
      continue;
    }
    const f = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (f !== null && cur !== undefined) {
      if (f[1] === "Rss") cur.rssKiB = Number(f[2]);
      else cur.anonKiB = Number(f[2]);
    }
  }
  return out;
}

export type MappingClass = "file" | "malloc-main" | "malloc-arena" | "v8-page" | "stack" | "anon-other";

/**
 * Classifies mappings. glibc arenas are 64 MiB-aligned reservations split into a read-write
 * head and a PROT_NONE tail; thread stacks are 8 MiB (+ a guard page below them); V8 pages are
 * multiples of 256 KiB. Adjacent mappings of a kind are not merged.
 */
export function classify(maps: readonly Mapping[]): Map<MappingClass, { rssKiB: number; count: number }> {
  const by = new Map<MappingClass, { rssKiB: number; count: number }>();
  const add = (c: MappingClass, m: Mapping): void => {
    const e = by.get(c) ?? { rssKiB: 0, count: 0 };
    e.rssKiB += m.rssKiB;
    e.count += 1;
    by.set(c, e);
  };
  const ARENA = 64n * 1024n * 1024n;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    if (m === undefined || m.rssKiB === 0) continue;
    if (m.path === "[heap]") add("malloc-main", m);
    else if (m.path === "[stack]" || m.path.startsWith("[stack:")) add("stack", m);
    else if (m.path.startsWith("/") || m.path === "[vdso]" || m.path === "[vvar]") add("file", m);
    else if (m.start % ARENA === 0n && m.sizeKiB < 65536 && maps[i + 1]?.perms === "---p" && (maps[i + 1]?.start ?? 0n) < m.start + ARENA) add("malloc-arena", m);
    else if (m.sizeKiB === 8192 && maps[i - 1]?.perms === "---p" && maps[i - 1]?.sizeKiB === 4) add("stack", m);
    else if (m.sizeKiB % 256 === 0 && m.perms.startsWith("rw")) add("v8-page", m);
    else add("anon-other", m);
  }
  return by;
}

/** "file 55, malloc-main 30 (1), …" in MiB, largest first. */
export function smapsSummary(pid: number): string {
  const by = classify(parseSmaps(readFileSync(`/proc/${pid}/smaps`, "utf8")));
  return [...by.entries()]
    .sort((a, b) => b[1].rssKiB - a[1].rssKiB)
    .map(([c, e]) => `${c} ${(e.rssKiB / 1024).toFixed(1)} (${e.count})`)
    .join(", ");
}
