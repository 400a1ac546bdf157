// Paths of the tools hack/build-control-plane.sh builds and caches (helm, kwok, kube-*).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

let binDir: string | undefined;

export function toolPath(name: string): string {
  binDir ??= execFileSync("bash", ["hack/build-control-plane.sh"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .at(-1);
  if (binDir === undefined || binDir === "") throw new Error("hack/build-control-plane.sh printed no bin directory");
  return join(binDir, name);
}
