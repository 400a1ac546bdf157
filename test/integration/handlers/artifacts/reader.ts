// `handler: reader:Reader`. Reads its artifacts in setup() (startup is not ready before they are in
// place) and answers, per artifact, the files it sees and the sha256 of each.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { artifacts } from "../../../../src/runtime/index.ts";

export class Reader {
  private seen: Record<string, Record<string, string>> = {};

  setup(): void {
    for (const [name, dir] of Object.entries(artifacts())) {
      const files: Record<string, string> = {};
      for (const f of readdirSync(dir).filter((f) => !f.startsWith("."))) files[f] = createHash("sha256").update(readFileSync(join(dir, f))).digest("hex");
      this.seen[name] = files;
    }
  }

  predict(): unknown {
    return { artifacts: this.seen, paths: artifacts() };
  }
}
