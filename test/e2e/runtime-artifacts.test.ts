// spec.artifacts as the Node runtime exposes them (HEARTH_ARTIFACTS): artifacts(), ctx.artifacts
// in setup and tasks, and a runner's loadModel(props, artifacts) — real oneshot worker processes
// reading a real file.
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_HANDLERS, MAIN, tempDir } from "./harness.ts";

function oneshot(handler: string, env: Record<string, string>, dir: string): { code: number | null; doc: unknown; stderr: string } {
  const log = join(dir, `log-${Math.random().toString(36).slice(2)}`);
  const input = join(dir, "input.json");
  writeFileSync(input, "{}");
  const r = spawnSync(process.execPath, [MAIN, "worker"], {
    env: { PATH: process.env["PATH"] ?? "", HEARTH_MODE: "oneshot", HEARTH_HANDLER: handler, HEARTH_CODE_PATH: E2E_HANDLERS, HEARTH_TERMINATION_LOG: log, HEARTH_INPUT_FILE: input, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, doc: JSON.parse(readFileSync(log, "utf8")) as unknown, stderr: r.stderr };
}

it("handlers find their artifacts in setup, in tasks and in a runner's loadModel", { timeout: 120_000 }, (t) => {
  const dir = tempDir("artifacts");
  t.after(() => dir.remove());
  const model = join(dir.path, "whisper");
  mkdirSync(model);
  writeFileSync(join(model, "weights.txt"), "w1");
  const paths = { whisper: model };
  const env = { HEARTH_ARTIFACTS: JSON.stringify(paths) };
  const a = oneshot("artifacts:ReadsWeights", env, dir.path);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(a.doc, { output: { weights: "w1", setup: paths, task: paths } });
  const b = oneshot("artifacts:Runner", env, dir.path);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(b.doc, { output: { props: null, artifacts: paths, weights: "w1" } });
});
