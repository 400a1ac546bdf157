// Paths of the tools hack/build-tools.sh builds and caches (promtool, KEDA's CRDs, moto's venv); built on
// first use when the cache is cold (CI runs the script before the tests).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

let dir: string | undefined;

export function chartToolPath(name: "promtool" | "keda-crds" | "moto"): string {
  dir ??= execFileSync("bash", ["hack/build-tools.sh"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .at(-1);
  if (dir === undefined || dir === "") throw new Error("hack/build-tools.sh printed no directory");
  return join(dir, name);
}
