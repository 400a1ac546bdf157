import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { commitWhere, INLINE_COMMIT_MAX_ROWS, TaskStore } from "../../src/gateway/store.ts";
import { taskRow as row } from "../support/task-row.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("TaskStore", () => {
  it("commits staged rows in one batch and reads them back after a reopen", async () => {
    const path = join(dir, "a.db");
    const commits: number[] = [];
    const s = new TaskStore(path, { onCommit: (rows) => commits.push(rows) });
    s.save(row("a"));
    s.save(row("b", { idempotencyKey: "k" }));
    s.saveKey({ namespace: "ns", name: "fn", key: "k", taskId: "b", inputHash: "h", createdAt: 1000 });
    s.save(row("a", { status: "running", attempts: 1 }));
    assert.equal(s.get("a")?.status, "running", "staged rows are visible before the commit");
    await s.committed();
    assert.deepEqual(commits, [2], "one transaction, the later save of a row wins");
    const reopened = new TaskStore(path);
    assert.equal(reopened.get("a")?.attempts, 1);
    assert.equal(reopened.findKey("ns", "fn", "k")?.taskId, "b");
    assert.equal(reopened.findKey("ns", "other", "k"), undefined);
    assert.deepEqual(
      reopened.loadActive().map((r) => r.id),
      ["a", "b"],
    );
    await reopened.close();
    await s.close();
  });

  it("drops the input of finished tasks and keeps output and error", async () => {
    const s = new TaskStore(":memory:");
    s.save(row("done", { status: "failed", error: { type: "Timeout", message: "late", attempt: 2 }, finishedAt: 5000 }));
    await s.committed();
    const r = s.get("done");
    assert.equal(r?.input, null);
    assert.deepEqual(r?.error, { type: "Timeout", message: "late", attempt: 2 });
    assert.deepEqual(s.loadActive(), []);
    await s.close();
  });

  it("deletes finished tasks older than a cutoff, never unfinished ones", async () => {
    const s = new TaskStore(":memory:");
    s.save(row("old", { status: "succeeded", output: "1", finishedAt: 1000 }));
    s.save(row("new", { status: "succeeded", output: "1", finishedAt: 9000 }));
    s.save(row("queued"));
    await s.committed();
    assert.deepEqual(await s.deleteFinishedBefore(5000), ["old"]);
    assert.equal(s.get("old"), undefined);
    assert.ok(s.get("new") !== undefined);
    assert.ok(s.get("queued") !== undefined);
    await s.close();
  });

  it("at sync=full, written() resolves once SQLite committed (another connection reads the row), committed() once synced", async () => {
    const path = join(dir, "written.db");
    const s = new TaskStore(path, { synchronous: "full" });
    const order: string[] = [];
    s.save(row("w1"));
    const written = s.written().then(() => order.push("written"));
    const committed = s.committed().then(() => order.push("committed"));
    await written;
    const other = new DatabaseSync(path);
    assert.equal((other.prepare("SELECT status FROM tasks WHERE id = ?").get("w1") as { status: string } | undefined)?.status, "queued", "committed: visible to another connection");
    other.close();
    await committed;
    assert.deepEqual(order, ["written", "committed"]);
    // Nothing staged, nothing in flight: both at once.
    await s.written();
    await s.committed();
    await s.close();
  });

  it("at sync=full, a commit nobody waits on to be written is answered once by the writer thread, after its fsync", async () => {
    const path = join(dir, "quiet.db");
    const s = new TaskStore(path, { synchronous: "full" });
    const answers: string[] = [];
    const worker = (s as unknown as { writer: { worker: { on: (e: string, f: (m: { t: string; synced?: boolean }) => void) => void } } }).writer.worker;
    worker.on("message", (m) => answers.push(`${m.t}${m.synced === true ? "+synced" : ""}`));
    try {
      s.save(row("q1", { status: "succeeded", finishedAt: 2000 }));
      s.save(row("q2"));
      await s.committed();
      assert.deepEqual(answers, ["written+synced"]);
      // A small one somebody waits on is committed on the gateway's thread: the writer thread only syncs it.
      s.save(row("q3"));
      await s.written();
      await s.committed();
      assert.deepEqual(answers.slice(1), ["synced"]);
    } finally {
      await s.close();
    }
  });

  it("committed() resolves at once when nothing is staged", async () => {
    const s = new TaskStore(":memory:");
    await s.committed();
    await s.close();
  });

  it("commits small batches a caller waits on on the gateway's thread, the others on the writer thread; all read back after a reopen", async () => {
    const path = join(dir, "mixed.db");
    const commits: number[] = [];
    const s = new TaskStore(path, { synchronous: "full", onCommit: (rows) => commits.push(rows) });
    s.save(row("small"));
    await s.committed();
    for (let i = 0; i < INLINE_COMMIT_MAX_ROWS + 5; i++) s.save(row(`big-${i}`));
    await s.committed();
    s.save(row("small", { status: "succeeded", output: "1", finishedAt: 2000 }));
    await s.written();
    await s.committed();
    assert.deepEqual(commits, [1, INLINE_COMMIT_MAX_ROWS + 5, 1]);
    await s.close();
    const reopened = new TaskStore(path);
    assert.equal(reopened.get("small")?.status, "succeeded");
    assert.equal(reopened.loadActive().length, INLINE_COMMIT_MAX_ROWS + 5);
    await reopened.close();
  });

  it("the writer thread checkpoints the WAL that commits on the gateway's thread grow (they never checkpoint themselves)", async () => {
    const path = join(dir, "checkpoint.db");
    const s = new TaskStore(path, { synchronous: "normal" });
    try {
      for (let i = 0; i < 1000; i++) {
        s.save(row(`t-${i}`, { status: "succeeded", output: "1", finishedAt: 2000 }));
        await s.written(); // a caller waits for it: committed on the gateway's thread
        await s.committed();
      }
      // Each one-row commit appends a few 4-KiB pages to the WAL. A checkpoint lets the next commit
      // start the file over, so with checkpoints it stays at a hundred commits' worth (without: 12 MB;
      // with the writer thread's own automatic checkpoints at 1,000 pages: 4 MB).
      const walBytes = statSync(`${path}-wal`).size;
      assert.ok(walBytes < 2 * 1024 * 1024, `WAL after 1,000 small commits: ${walBytes} bytes`);
    } finally {
      await s.close(); // a failed assertion must not leave the writer thread holding the process open
    }
  });
  it("commits a caller waits on do not wait for the previous one's fsync; the WAL stays small, and committed() covers them all", async () => {
    const path = join(dir, "pipelined.db");
    const s = new TaskStore(path, { synchronous: "full" });
    try {
      for (let i = 0; i < 1000; i++) {
        s.save(row(`p-${i}`, { status: "succeeded", output: String(i), finishedAt: 2000 }));
        await s.written(); // as a run()'s answer does: not committed()
      }
      await s.committed();
      // Every CHECKPOINT_EVERY-th commit waits for its sync and checkpoint, so the WAL starts over.
      const walBytes = statSync(`${path}-wal`).size;
      assert.ok(walBytes < 2 * 1024 * 1024, `WAL after 1,000 pipelined commits: ${walBytes} bytes`);
    } finally {
      await s.close();
    }
    const reopened = new TaskStore(path);
    try {
      for (const i of [0, 99, 100, 500, 999]) assert.equal(reopened.get(`p-${i}`)?.output, String(i));
    } finally {
      await reopened.close();
    }
  });
});

describe("commitWhere", () => {
  it("commits here only a small batch a caller waits on, while no writer-thread operation may hold the write lock", () => {
    assert.equal(commitWhere({ rows: 1, urgent: true, threadOpsPending: 0 }), "here");
    assert.equal(commitWhere({ rows: INLINE_COMMIT_MAX_ROWS, urgent: true, threadOpsPending: 0 }), "here");
    assert.equal(commitWhere({ rows: INLINE_COMMIT_MAX_ROWS + 1, urgent: true, threadOpsPending: 0 }), "thread");
    assert.equal(commitWhere({ rows: 1, urgent: false, threadOpsPending: 0 }), "thread", "pushes: nobody waits for written()");
    assert.equal(commitWhere({ rows: 1, urgent: true, threadOpsPending: 1 }), "thread", "a delete or a thread commit is still unanswered");
  });
});
