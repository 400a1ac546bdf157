"""Oneshot mode (isolated batch Jobs): one input file in, one termination-log document out, and
the exit code of the outcome's class so that the Job's ``podFailurePolicy`` can act on it."""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import encoding as enc
from ..errors import (
    BAD_CONFIGURATION,
    FATAL,
    TERMINATION_LOG_LIMIT,
    TIMEOUT,
    USER_ERROR,
    FatalError,
)
from . import handler as handlers
from . import setup_progress, task_log
from .config import WorkerConfig
from .context import Context
from .deadline import Clock, Deadline
from .outcome import Failure, classify, encode_output

ELLIPSIS = "…"


def failure_document(failure: Failure, limit: int = TERMINATION_LOG_LIMIT) -> bytes:
    """``{"error": …}``, the message cut so the whole document fits in ``limit`` bytes."""

    def render(message: str) -> bytes:
        return enc.json_dumps({"error": {**failure.to_wire(), "message": message}}).encode("utf-8")

    doc = render(failure.message)
    if len(doc) <= limit:
        return doc
    # Longest prefix that fits: the document grows monotonically with the prefix length.
    low, high = 0, len(failure.message)
    while low < high:
        mid = (low + high + 1) // 2
        if len(render(failure.message[:mid] + ELLIPSIS)) <= limit:
            low = mid
        else:
            high = mid - 1
    return render(failure.message[:low] + ELLIPSIS)


def success_document(fields: Dict[str, Any], limit: int = TERMINATION_LOG_LIMIT) -> Tuple[bytes, int]:
    """The success document and exit 0, or the BadConfiguration document and exit 2 when the
    output does not fit in the kubelet's termination-message limit."""
    doc = enc.json_dumps(fields).encode("utf-8")
    if len(doc) <= limit:
        return doc, 0
    failure = Failure(
        BAD_CONFIGURATION,
        f"output is {len(doc)} bytes; isolated Jobs return at most {limit} bytes: write large results to storage and return a reference",
    )
    return failure_document(failure, limit), failure.exit_code


def read_input(path: Optional[str], encoding: str) -> Any:
    """The task input; raises DecodeError (65) or OSError (the file the operator promised is missing)."""
    if path is None:
        return None
    with open(path, "rb") as f:
        raw = f.read()
    if encoding == enc.PICKLE:
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError as err:
            raise enc.DecodeError("pickle input must be base64 text") from err
        return enc.pickle_loads(enc.b64_decode(text))
    if not raw.strip():
        return None
    return enc.json_loads(raw)


class OneshotRunner:
    """Runs one attempt. I/O is limited to reading the input and the handler's own effects; the
    caller writes the document, so tests can drive this in-process."""

    def __init__(
        self,
        config: WorkerConfig,
        clock: Clock,
        log: Callable[[str], None],
        task: Optional["TaskCall"] = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._log = log
        self._task = task

    def run(self) -> Tuple[bytes, int]:
        config = self._config
        try:
            value = self._task.input() if self._task is not None else read_input(config.input_file, config.encoding)
        except OSError as err:
            return self._fail(Failure(BAD_CONFIGURATION, f"cannot read HEARTH_INPUT_FILE: {err}"))
        except enc.DecodeError as err:
            return self._fail(classify(err))

        loaded = self._setup()
        if isinstance(loaded, tuple):
            return loaded
        handler = loaded

        deadline = Deadline(config.timeout_seconds, self._clock)
        task_id, token = self._task.identity() if self._task is not None else ("oneshot", None)
        task_log.install()
        task = self._task

        def progress(value: float, message: Optional[str]) -> None:
            deadline.extend()
            if task is not None:
                # An isolated call reports ctx.progress to its task, like a warm worker.
                task.progress(value, message)

        context = Context(task_id, 1, config.function, config.timeout_seconds, progress, None, token)
        done = threading.Event()
        result: List[Tuple[bytes, int]] = []
        fields: List[Dict[str, Any]] = []

        tagged = task_log.task(config.task_id) if config.task_id is not None else contextlib.nullcontext()

        def attempt() -> None:
            try:
                with tagged:
                    try:
                        output = handler.call(value, context)
                        fields.append(encode_output(output, config.encoding))
                    except BaseException as err:  # noqa: B036 - reported, never re-raised in this thread
                        failure = classify(err)
                        if failure.type in (USER_ERROR, FATAL):
                            traceback.print_exc()
                        result.append(self._fail(failure))
            finally:
                done.set()

        # A daemon thread: when the deadline passes the process exits without waiting for it.
        threading.Thread(target=attempt, name="hearth-oneshot", daemon=True).start()
        while not done.wait(timeout=max(0.0, min(deadline.remaining(), 1.0))):
            if deadline.expired():
                return self._fail(Failure(TIMEOUT, f"the attempt exceeded timeoutSeconds={config.timeout_seconds:g} without progress"))
        if fields:
            # Delivered here, not in the attempt's thread: the deadline covers the handler only.
            return self._task.deliver(fields[0]) if self._task is not None else success_document(fields[0])
        return result[0] if result else self._fail(Failure(USER_ERROR, "the attempt ended without a result"))

    def _setup(self) -> "handlers.Handler | Tuple[bytes, int]":
        """Loads and sets up the handler under the startup deadline (startupTimeoutSeconds, which
        setup progress extends): the handler, or the document and exit code of the failure."""
        config = self._config
        deadline = Deadline(config.startup_timeout_seconds, self._clock)
        last: List[Tuple[float, Optional[str]]] = []

        def progress(value: float, text: Optional[str]) -> None:
            last[:] = [(value, text)]
            deadline.extend()
            self._log(f"hearth: setup {setup_progress.describe(value, text)}")

        done = threading.Event()
        outcome: List[Any] = []

        def load() -> None:
            try:
                handler = handlers.load(config.handler)
                handler.setup(setup_progress.SetupContext(config.function, config.startup_timeout_seconds))
                outcome.append(handler)
            except (handlers.HandlerConfigError, FatalError) as err:
                outcome.append(classify(err))
            except BaseException as err:  # noqa: B036 - user setup may raise anything, even SystemExit
                traceback.print_exc()
                failure = classify(err)
                outcome.append(Failure(failure.type, f"setup failed: {failure.message}"))
            finally:
                done.set()

        setup_progress.install(progress)
        try:
            # A daemon thread: past the deadline the process exits without waiting for it.
            threading.Thread(target=load, name="hearth-setup", daemon=True).start()
            while not done.wait(timeout=max(0.0, min(deadline.remaining(), 1.0))):
                if deadline.expired():
                    message = setup_progress.timeout_message(config.startup_timeout_seconds, last[0] if last else None)
                    return self._fail(Failure(TIMEOUT, message, "SetupTimeout"))
        finally:
            setup_progress.install(None)
        result = outcome[0] if outcome else Failure(USER_ERROR, "setup ended without a result")
        if isinstance(result, Failure):
            return self._fail(result)
        return result

    def _fail(self, failure: Failure) -> Tuple[bytes, int]:
        self._log(f"hearth: {failure.reason or failure.type} (exit {failure.exit_code}): {failure.message}")
        return failure_document(failure), failure.exit_code


class TaskCall:
    """An isolated call's side of oneshot (``HEARTH_TASK_ID``): the input claimed from the
    gateway, and the output posted back to it (oneshot_task.py)."""

    def input(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def deliver(self, fields: Dict[str, Any]) -> Tuple[bytes, int]:  # pragma: no cover - interface
        raise NotImplementedError

    def identity(self) -> Tuple[str, Optional[str]]:
        """The task's id and its task-scoped token for ``ctx.function(...)`` calls."""
        return "oneshot", None

    def progress(self, value: float, message: Optional[str]) -> None:
        """The handler's ctx.progress; best effort, must not block the handler."""


def write_document(path: str, doc: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(doc)
    except OSError as err:
        # Still exit with the class's code: podFailurePolicy needs only the code.
        print(f"hearth: cannot write termination log {path}: {err}", file=sys.stderr)
