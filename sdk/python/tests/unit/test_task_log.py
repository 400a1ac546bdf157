"""Task-tagged output (hearth.runtime.task_log): lines written inside a task carry its tag, whole
lines per thread, and output outside a task is untouched."""

import io
import threading

from hearth.runtime import task_log


def _stream():
    inner = io.StringIO()
    return inner, task_log.TaskTaggedStream(inner)


def test_lines_inside_a_task_are_tagged_and_outside_are_not(monkeypatch):
    inner, stream = _stream()
    monkeypatch.setattr("sys.stdout", stream)
    stream.write("before\n")
    with task_log.task("t1"):
        stream.write("hello ")
        stream.write("world\nsecond\n")
        stream.write("unfinished")
    stream.write("after\n")
    assert inner.getvalue() == "before\n[task:t1] hello world\n[task:t1] second\n[task:t1] unfinished\nafter\n"


def test_concurrent_tasks_never_share_a_line(monkeypatch):
    inner, stream = _stream()
    monkeypatch.setattr("sys.stdout", stream)
    barrier = threading.Barrier(2)

    def work(task_id):
        with task_log.task(task_id):
            for i in range(50):
                stream.write(f"{task_id} part ")
                if i == 0:
                    barrier.wait()
                stream.write(f"{i}\n")

    threads = [threading.Thread(target=work, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = inner.getvalue().splitlines()
    assert len(lines) == 100
    for line in lines:
        tag, rest = line.split("] ", 1)
        assert rest.startswith(tag[len("[task:"):] + " part "), line
