// Builds the operator's optional native addon (native/malloc-trim.c → build/malloc-trim.node) with
// the system C compiler against Node-API headers. Node-API is ABI-stable, so any Node's headers do.
// Nothing to build with (no compiler, no headers, not glibc): says so and exits 0 — the operator
// then runs without it (src/operator/malloc-trim.ts).
//
//   node hack/build-native.ts [--quiet]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const NATIVE_SOURCE = join(root, "native", "malloc-trim.c");
export const NATIVE_ADDON = join(root, "build", "malloc-trim.node");

/** Directories that may hold node_api.h: the running Node's own, the npm `node` package's, the system's. */
export function headerDirs(execPath = process.execPath): string[] {
  return [
    join(dirname(execPath), "..", "include", "node"),
    join(root, "node_modules", "node", "node_modules", `node-${process.platform}-${process.arch}`, "include", "node"),
    "/usr/local/include/node",
    "/usr/include/node",
  ];
}

/** Builds the addon unless it is newer than its source; returns its path, or undefined with why. */
export function buildNative(log: (line: string) => void = () => {}): { path: string } | { why: string } {
  if (process.platform !== "linux") return { why: `malloc_trim is glibc's (this is ${process.platform})` };
  if (existsSync(NATIVE_ADDON) && statSync(NATIVE_ADDON).mtimeMs >= statSync(NATIVE_SOURCE).mtimeMs) return { path: NATIVE_ADDON };
  const include = headerDirs().find((d) => existsSync(join(d, "node_api.h")));
  if (include === undefined) return { why: "no node_api.h found (Node headers)" };
  const cc = process.env["CC"] ?? "cc";
  mkdirSync(dirname(NATIVE_ADDON), { recursive: true });
  try {
    execFileSync(cc, ["-O2", "-shared", "-fPIC", "-Wall", `-I${include}`, "-o", NATIVE_ADDON, NATIVE_SOURCE], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    return { why: e.code === "ENOENT" ? `no C compiler (${cc})` : `${cc} failed: ${e.stderr?.toString().trim() ?? String(err)}` };
  }
  log(`built ${NATIVE_ADDON} (${cc}, headers ${include})`);
  return { path: NATIVE_ADDON };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quiet = process.argv.includes("--quiet");
  const r = buildNative(quiet ? undefined : (l) => console.log(`[build-native] ${l}`));
  if ("why" in r) console.log(`[build-native] skipped: ${r.why}; the operator runs without malloc_trim`);
  else if (!quiet) console.log(`[build-native] ${r.path}`);
}
