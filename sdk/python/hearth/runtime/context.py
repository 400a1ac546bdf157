"""The task context a handler receives through a parameter named ``ctx`` or ``context``."""

from __future__ import annotations

import math
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client, Function

ProgressSink = Callable[[float, Optional[str]], None]

MAX_PROGRESS_MESSAGE = 1024


def check_progress(progress: Any, message: Any) -> Tuple[float, Optional[str]]:
    """Validates a progress update (raises ValueError, a user error); long messages are cut."""
    if isinstance(progress, bool) or not isinstance(progress, (int, float)) or not math.isfinite(progress):
        raise ValueError(f"progress must be a number between 0 and 1, got {progress!r}")
    if not 0 <= progress <= 1:
        raise ValueError(f"progress must be between 0 and 1, got {progress}")
    if message is not None and not isinstance(message, str):
        raise ValueError(f"progress message must be a string, got {type(message).__name__}")
    if message is not None and len(message) > MAX_PROGRESS_MESSAGE:
        message = message[: MAX_PROGRESS_MESSAGE - 1] + "…"
    return float(progress), message


class FunctionCaller(str):
    """``ctx.function``: the ``<namespace>/<name>`` of the Function being served (a ``str``, as
    before), and callable to call another Function from inside the handler::

        text = ctx.function("default/whisper").run(url)
        task = ctx.function("embed").push(chunk)      # a bare name: this Function's namespace

    The call carries the task-scoped token of the running task: the gateway records this task
    as the parent of the one started, cancels it when this one is cancelled, and refuses chains
    of calls deeper than its limit (docs/workflows.md, "Calls from inside a handler").
    """

    _client_factory: Callable[[], "Client"]

    def __new__(cls, name: str, client_factory: Callable[[], "Client"]) -> "FunctionCaller":
        self = super().__new__(cls, name)
        self._client_factory = client_factory
        return self

    def __call__(self, ref: str, *, encoding: str = "json", timeout: Optional[float] = None) -> "Function":
        namespace = self.partition("/")[0]
        if "/" not in ref and namespace:
            ref = f"{namespace}/{ref}"
        return self._client_factory().function(ref, encoding=encoding, timeout=timeout)


class Context:
    """What a handler may know and do about the task it is running.

    ``update_progress`` reports progress to callers (streamed as ``progress`` events) and
    extends the attempt's deadline by the Function's full ``timeoutSeconds`` from now, so a
    long job that keeps reporting never times out while one that hangs still does.
    """

    def __init__(
        self,
        task_id: str,
        attempt: int,
        function: str,
        timeout_seconds: float,
        sink: ProgressSink,
        cancelled: Optional[threading.Event] = None,
        token: Optional[str] = None,
    ) -> None:
        self._task_id = task_id
        self._token = token
        self._client: Optional["Client"] = None
        self._client_lock = threading.Lock()
        self._attempt = attempt
        self._function = function
        self._timeout_seconds = timeout_seconds
        self._sink = sink
        self._cancelled = cancelled if cancelled is not None else threading.Event()

    @property
    def task_id(self) -> str:
        return self._task_id

    @property
    def attempt(self) -> int:
        return self._attempt

    @property
    def function(self) -> FunctionCaller:
        """``<namespace>/<name>`` of the Function being served; call it to call another Function:
        ``ctx.function("ns/name").run(...)`` (see :class:`FunctionCaller`)."""
        return FunctionCaller(self._function, self._calls)

    @property
    def function_name(self) -> str:
        """``<namespace>/<name>`` of the Function being served."""
        return self._function

    def _calls(self) -> "Client":
        from ..client import Client

        with self._client_lock:
            if self._client is None:
                url = os.environ.get("HEARTH_GATEWAY_URL")
                if not url:
                    raise RuntimeError("ctx.function(...) needs the gateway: HEARTH_GATEWAY_URL is not set in this worker")
                self._client = Client(url, self._token)
            return self._client

    @property
    def timeout_seconds(self) -> float:
        return self._timeout_seconds

    @property
    def artifacts(self) -> Dict[str, str]:
        """``spec.artifacts``: name → path."""
        from .artifacts import artifacts

        return artifacts()

    @property
    def cancelled(self) -> bool:
        """True once the caller cancelled the task (or its lease was lost): a long handler may
        stop early; whatever it returns afterwards is dropped."""
        return self._cancelled.is_set()

    def wait_cancelled(self, timeout: Optional[float] = None) -> bool:
        """Sleeps up to ``timeout`` seconds, waking early on cancellation; True if cancelled."""
        return self._cancelled.wait(timeout)

    def update_progress(self, progress: float, message: Optional[str] = None) -> None:
        """Report ``progress`` (0..1) with an optional message; extends the deadline."""
        self._sink(*check_progress(progress, message))

    # Node's spelling, so that examples translate literally between the runtimes.
    updateProgress = update_progress
