"""Progress from ``setup()``: ``hearth.setup_progress(0.4, "weights")`` anywhere in handler code,
or ``ctx.update_progress(...)`` on the context ``setup(self, ctx)`` receives. Each update shows in
the worker's log and the Function's status ("loading: 40% weights") and extends the startup
deadline (``startupTimeoutSeconds``) by its full length, as a task's progress extends its own.

The sink is process-wide on purpose: a worker's child process runs exactly one ``setup()``, and
user code deep inside a model loader has no context object to hand.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Optional

from .artifacts import artifacts as artifact_paths
from .context import check_progress

Sink = Callable[[float, Optional[str]], None]

_lock = threading.Lock()
_sink: Optional[Sink] = None


def install(sink: Optional[Sink]) -> None:
    """The runtime points setup progress at its supervisor (None: ignore updates)."""
    global _sink
    with _lock:
        _sink = sink


def setup_progress(progress: float, message: Optional[str] = None) -> None:
    """Report setup progress (0..1, optional message). Outside a worker (a unit test importing
    the handler) it only validates its arguments."""
    value, text = check_progress(progress, message)
    with _lock:
        sink = _sink
    if sink is not None:
        sink(value, text)


class SetupContext:
    """What ``setup(self, ctx)`` receives."""

    def __init__(self, function: str, startup_timeout_seconds: float) -> None:
        self._function = function
        self._startup_timeout_seconds = startup_timeout_seconds

    @property
    def function(self) -> str:
        """``<namespace>/<name>`` of the Function being served."""
        return self._function

    @property
    def startup_timeout_seconds(self) -> float:
        return self._startup_timeout_seconds

    @property
    def artifacts(self) -> Dict[str, str]:
        """``spec.artifacts``: name → path, in place before ``setup()`` runs."""
        return artifact_paths()

    def update_progress(self, progress: float, message: Optional[str] = None) -> None:
        """Report setup progress (0..1); extends the startup deadline."""
        setup_progress(progress, message)

    # Node's spelling.
    updateProgress = update_progress


def describe(value: float, message: Optional[str]) -> str:
    pct = f"{round(value * 100)}%"
    return f"{pct} {message}" if message else pct


def timeout_message(timeout_seconds: float, last: Optional["tuple[float, Optional[str]]"]) -> str:
    tail = "no progress was reported" if last is None else f"last progress: {describe(*last)}"
    return (
        f"setup() did not finish within startupTimeoutSeconds={timeout_seconds:g} ({tail}); "
        "report progress from setup() to extend the deadline, or raise spec.startupTimeoutSeconds"
    )
