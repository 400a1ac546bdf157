"""Task-tagged output: every line a handler writes to ``sys.stdout``/``sys.stderr`` while it
runs a task starts with ``[task:<id>] ``, so ``hearth logs task <id>`` finds that task's lines
in a worker's log (docs/protocol.md, "Log lines"). Tasks run on threads, so the current task is
per thread and each thread's partial line is held until it ends: concurrent tasks never share a
line. Output outside a task (setup(), the runtime) is written untouched. Native code writing to
file descriptor 1/2 directly bypasses ``sys.stdout`` and is not tagged."""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Iterator, TextIO

_current = threading.local()


def task_tag(task_id: str) -> str:
    return f"[task:{task_id}] "


class TaskTaggedStream:
    """Wraps a text stream; writes made inside :func:`task` are tagged line by line."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        task_id = getattr(_current, "task_id", None)
        if task_id is None:
            return self._inner.write(text)
        pending = _pending(self)
        pending.append(text)
        joined = "".join(pending)
        if "\n" not in joined:
            return len(text)
        complete, _, rest = joined.rpartition("\n")
        pending[:] = [rest] if rest else []
        self._emit(task_id, complete)
        return len(text)

    def finish(self, task_id: str) -> None:
        """Writes what the current thread still holds for this stream (the task ended mid-line)."""
        pending = _pending(self)
        if pending:
            rest = "".join(pending)
            pending.clear()
            self._emit(task_id, rest)

    def _emit(self, task_id: str, text: str) -> None:
        tag = task_tag(task_id)
        out = "".join(f"{tag}{line}\n" for line in text.split("\n"))
        with self._lock:
            self._inner.write(out)
            self._inner.flush()

    def flush(self) -> None:
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _pending(stream: TaskTaggedStream) -> list:
    held = getattr(_current, "pending", None)
    if held is None:
        held = {}
        _current.pending = held
    return held.setdefault(id(stream), [])


def install() -> None:
    """Wraps ``sys.stdout`` and ``sys.stderr`` once (the child calls it after setup())."""
    if not isinstance(sys.stdout, TaskTaggedStream):
        sys.stdout = TaskTaggedStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, TaskTaggedStream):
        sys.stderr = TaskTaggedStream(sys.stderr)  # type: ignore[assignment]


@contextlib.contextmanager
def task(task_id: str) -> Iterator[None]:
    """Output of the current thread inside the block belongs to ``task_id``."""
    _current.task_id = task_id
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, TaskTaggedStream):
                stream.finish(task_id)
        _current.task_id = None
