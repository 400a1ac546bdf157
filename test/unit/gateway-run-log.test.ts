// The run log (src/gateway/run-log.ts): a keyless :run's outcome is crash-safe once appended,
// before its SQLite commit. The crash case runs a real process that appends and is SIGKILLed
// before the store's flush could run; the store reopened here must hold the row.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseSegment, RunLog, SEGMENT_BYTES, segmentFiles } from "../../src/gateway/run-log.ts";
import { rowValues, TASK_ROW_COLUMNS, type TaskRow } from "../../src/gateway/store-db.ts";
import { TaskStore } from "../../src/gateway/store.ts";
import { taskRow } from "../support/task-row.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-runlog-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A finished task's row (what the run log holds). */
function row(id: string, over: Partial<TaskRow> = {}): TaskRow {
  return taskRow(id, { status: "succeeded", attempts: 1, input: null, output: '{"ok":true}', startedAt: 1001, finishedAt: 1002, ...over });
}

describe("run log", () => {
  it("parses whole lines and skips a cut or foreign one", () => {
    const good = JSON.stringify(rowValues(row("a")));
    const text = `${good}\n["b",1]\nnot json\n${good.replace('"a"', '"c"')}\n${good.slice(0, 30)}`;
    const { rows, skipped } = parseSegment(text, TASK_ROW_COLUMNS);
    assert.deepEqual(
      rows.map((r) => r[0]),
      ["a", "c"],
    );
    assert.equal(skipped, 3);
  });

  it("moves to a new segment past SEGMENT_BYTES and deletes an old one once SQLite wrote all its rows", () => {
    const path = join(dir, "rotate.db");
    const { log, recovered } = RunLog.open(path, TASK_ROW_COLUMNS);
    assert.equal(recovered.length, 0);
    const big = "x".repeat(4096);
    const first = log.append(rowValues(row("r0", { output: big })));
    const segs = [first];
    let i = 1;
    while (segs.at(-1) === first) segs.push(log.append(rowValues(row(`r${i++}`, { output: big }))));
    const second = segs.at(-1);
    assert.ok(second !== undefined && second !== first);
    assert.ok(first.bytes >= SEGMENT_BYTES);
    assert.equal(segmentFiles(path).length, 2);
    for (const s of segs.slice(0, -1)) log.release(s);
    assert.equal(existsSync(first.path), false, "all rows of the old segment written: deleted");
    assert.equal(existsSync(second.path), true, "the current segment stays while it takes appends");
    log.release(second);
    log.close();
    assert.equal(segmentFiles(path).length, 0, "closed with nothing pending: no file left");
  });

  it("a store keeps a logged row: readable at once, committed, and the log file gone at close", async () => {
    const path = join(dir, "logged.db");
    const s = new TaskStore(path);
    assert.equal(s.saveLogged(row("t1", { input: "ignored" })), true);
    assert.equal(s.get("t1")?.output, '{"ok":true}');
    assert.equal(s.get("t1")?.input, null, "a finished row keeps no input");
    assert.equal(segmentFiles(path).length, 1);
    await s.committed();
    await s.close();
    assert.equal(segmentFiles(path).length, 0);
    const again = new TaskStore(path);
    assert.equal(again.get("t1")?.status, "succeeded");
    await again.close();
  });

  it("a :memory: store has no run log: saveLogged says so and the caller waits for written()", async () => {
    const s = new TaskStore(":memory:");
    assert.equal(s.saveLogged(row("m1")), false);
    assert.equal(s.get("m1"), undefined, "nothing staged when not logged");
    await s.close();
  });

  it("a row logged by a process SIGKILLed before any commit is in the store after a reopen; a cut last line is skipped", async () => {
    const path = join(dir, "crash.db");
    // The child opens the store, logs two outcomes, and dies in the same turn: no flush, no commit.
    const script = `
      import { TaskStore } from ${JSON.stringify(new URL("../../src/gateway/store.ts", import.meta.url).href)};
      const s = new TaskStore(${JSON.stringify(path)});
      const row = (id) => ({ id, namespace: "ns", name: "fn", status: "succeeded", attempts: 1, disruptions: 0, encoding: "json",
        input: null, output: JSON.stringify({ id }), error: null, idempotencyKey: null, createdAt: 1, startedAt: 2, finishedAt: 3,
        notBefore: null, timeoutSeconds: null, retries: null, parentId: null, depth: 0, cached: false });
      if (!s.saveLogged(row("k1")) || !s.saveLogged(row("k2"))) process.exit(3);
      process.kill(process.pid, "SIGKILL");
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.signal, "SIGKILL", `the child was killed (stderr: ${r.stderr})`);
    const files = segmentFiles(path);
    assert.equal(files.length, 1, "the crash left the run log");
    // A power cut can leave a partial line at the end: it is skipped, the rest replayed.
    const seg = files[0]?.path ?? "";
    writeFileSync(seg, `${readFileSync(seg, "utf8")}["k3","ns`);
    const errors: unknown[] = [];
    const s = new TaskStore(path, { onError: (e) => errors.push(e) });
    try {
      assert.equal(s.get("k1")?.output, '{"id":"k1"}');
      assert.equal(s.get("k2")?.status, "succeeded");
      assert.equal(s.get("k3"), undefined);
      assert.equal(errors.length, 1, "the skipped line is reported");
      assert.equal(segmentFiles(path).length, 0, "replayed segments are deleted");
      assert.deepEqual(s.loadActive(), []);
    } finally {
      await s.close();
    }
  });

  it("replaying a row SQLite already holds as finished changes nothing (a finished row is final)", async () => {
    const path = join(dir, "final.db");
    const s = new TaskStore(path);
    s.save(row("f1", { output: '"first"' }));
    await s.close();
    writeFileSync(`${path}-runlog.7`, `${JSON.stringify(rowValues(row("f1", { output: '"second"' })))}\n`);
    const again = new TaskStore(path);
    try {
      assert.equal(again.get("f1")?.output, '"first"');
      assert.equal(segmentFiles(path).length, 0);
    } finally {
      await again.close();
    }
  });
});
