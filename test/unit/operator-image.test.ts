// The operator's memory settings hold together: the image warms a compile cache (Dockerfile) that
// the chart's operator process actually uses. Node keys the cache by uid and by the V8 flags that
// change code generation; a miss loads the TypeScript stripper again (≈25 MiB of RSS).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { chartOperatorSettings } from "../../bench/support/operator-process.ts";
import { DEFAULT_ADDON } from "../../src/operator/malloc-trim.ts";

const root = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));

/** The cache directories Node creates for a module run with these NODE_OPTIONS. */
function cacheKeys(nodeOptions: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "hearth-compile-cache-"));
  try {
    const mod = join(dir, "m.mjs");
    writeFileSync(mod, "export const x = 1;\n");
    const r = spawnSync(process.execPath, [mod], { env: { ...process.env, NODE_COMPILE_CACHE: join(dir, "cache"), NODE_OPTIONS: nodeOptions }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return readdirSync(join(dir, "cache"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("operator image and chart", () => {
  it("the chart's operator NODE_OPTIONS keep the compile cache key the image was warmed with", () => {
    const { nodeOptions } = chartOperatorSettings();
    assert.notEqual(nodeOptions, "", "the chart sets the operator's heap flags");
    assert.deepEqual(cacheKeys(nodeOptions), cacheKeys(""));
    // The check can fail: a code-generation flag changes the key.
    assert.notDeepEqual(cacheKeys("--expose-gc"), cacheKeys(""));
  });

  it("the image warms the cache as the user the chart runs as, with NODE_COMPILE_CACHE set for every process", () => {
    const docker = readFileSync(root("Dockerfile"), "utf8");
    const values = parse(readFileSync(root("charts/hearth/values.yaml"), "utf8")) as { securityContext: { runAsUser: number } };
    const user = values.securityContext.runAsUser;
    const userAt = docker.indexOf(`USER ${user}:${user}`);
    const warmAt = docker.search(/RUN .*operator.*--help/);
    assert.ok(userAt >= 0 && warmAt > userAt, `the Dockerfile warms the cache after USER ${user}`);
    assert.match(docker, /ENV NODE_COMPILE_CACHE=\S+/);
  });

  it("the image builds the malloc_trim addon and puts it where the operator looks for it", () => {
    const docker = readFileSync(root("Dockerfile"), "utf8");
    const copy = /COPY --from=native \S+ (\S+)/.exec(docker);
    assert.ok(copy !== null, "the Dockerfile copies the addon from its native stage");
    // WORKDIR /app holds src/: the default path, relative to the sources, must be the same file.
    assert.equal(join("/app", copy[1] ?? ""), join("/app", DEFAULT_ADDON.slice(root("").length)));
    assert.match(docker, /cc .*native\/malloc-trim\.c/);
  });
});
