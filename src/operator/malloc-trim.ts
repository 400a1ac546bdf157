// glibc's malloc_trim(0) through the optional addon native/malloc-trim.c: it returns the free
// pages inside malloc's heap to the kernel (glibc on its own only returns the heap's top). Loaded
// from HEARTH_MALLOC_TRIM_ADDON, else build/malloc-trim.node beside the sources (the image builds
// it there; `npm run build:native` here). Absent or unloadable: undefined, and the operator runs
// without it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** Gives free heap pages back; true when memory was released. */
export type MallocTrim = () => boolean;

export const DEFAULT_ADDON = fileURLToPath(new URL("../../build/malloc-trim.node", import.meta.url));

export function loadMallocTrim(path = process.env["HEARTH_MALLOC_TRIM_ADDON"] ?? DEFAULT_ADDON): { trim: MallocTrim; path: string } | { why: string } {
  if (!existsSync(path)) return { why: `no addon at ${path}` };
  try {
    const mod = createRequire(import.meta.url)(path) as { trim?: unknown };
    if (typeof mod.trim !== "function") return { why: `${path} has no trim()` };
    const fn = mod.trim as () => unknown;
    return { trim: () => fn() === true, path };
  } catch (err) {
    return { why: `${path} did not load: ${err instanceof Error ? err.message : String(err)}` };
  }
}
