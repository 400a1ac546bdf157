// Task-tagged log lines (src/protocol/logs.ts, src/runtime/task-log.ts): the tag both runtimes
// put on a handler's lines and how `hearth logs task <id>` recognises them.
import assert from "node:assert/strict";
import { it } from "node:test";
import { lineOfTask, taskTag } from "../../src/protocol/logs.ts";
import { tagChunk } from "../../src/runtime/task-log.ts";
import { lastLines } from "../../src/logs/dev-files.ts";

it("tags every line that starts in a chunk, not a continued one nor the empty end", () => {
  assert.equal(tagChunk("a\nb\n", taskTag("t1"), true), "[task:t1] a\n[task:t1] b\n");
  assert.equal(tagChunk("rest\nnext", taskTag("t1"), false), "rest\n[task:t1] next");
  assert.equal(tagChunk("\n", taskTag("t1"), true), "[task:t1] \n");
});

it("finds a task's lines and only them", () => {
  assert.equal(lineOfTask("[task:abc] hello", "abc"), "hello");
  assert.equal(lineOfTask("[task:abcd] hello", "abc"), undefined);
  assert.equal(lineOfTask("hello [task:abc] ", "abc"), undefined);
});

it("keeps the last n lines of a log", () => {
  assert.deepEqual(lastLines("a\nb\nc\n", 2), ["b", "c"]);
  assert.deepEqual(lastLines("a\nb\nc\n", 0), []);
  assert.deepEqual(lastLines("a\nb", undefined), ["a", "b"]);
  assert.deepEqual(lastLines("", undefined), []);
});
