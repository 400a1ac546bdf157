// Builds (once per machine, cached by source hash like the control plane) the tiny gopher-lua
// runner in hack/lua-health and runs Argo CD health scripts with it: the interpreter Argo CD
// itself uses, so the scripts shipped in charts/hearth/argocd are tested as Argo CD runs them.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), "lua-health");

export function luaHealthBinary(): string {
  const hash = createHash("sha256");
  for (const f of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(SOURCE, f)));
  const dir = join(process.env["HEARTH_CACHE"] ?? join(homedir(), ".cache", "hearth"), `lua-health-${hash.digest("hex").slice(0, 12)}`);
  const bin = join(dir, "lua-health");
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    execFileSync("go", ["build", "-o", bin, "."], { cwd: SOURCE, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false -trimpath", GOTOOLCHAIN: process.env["GOTOOLCHAIN"] ?? "local" } });
  }
  return bin;
}

export interface HealthResult {
  status?: string;
  message?: string;
  error?: string;
}

/** Runs each script against its object; results in the same order. */
export function runHealthScripts(jobs: readonly { script: string; obj: unknown }[]): HealthResult[] {
  const out = execFileSync(luaHealthBinary(), [], { input: JSON.stringify(jobs), maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(out.toString("utf8")) as HealthResult[];
}
