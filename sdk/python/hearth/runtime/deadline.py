"""An attempt's deadline: ``timeout_seconds`` from the start, pushed out by every progress update."""

from __future__ import annotations

import threading
import time
from typing import Callable

Clock = Callable[[], float]


class Deadline:
    def __init__(self, timeout_seconds: float, clock: Clock = time.monotonic) -> None:
        self._timeout = timeout_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._at = clock() + timeout_seconds

    @property
    def timeout_seconds(self) -> float:
        return self._timeout

    def extend(self) -> None:
        """The full timeout again, from now (never earlier than the current deadline)."""
        with self._lock:
            self._at = max(self._at, self._clock() + self._timeout)

    def remaining(self) -> float:
        with self._lock:
            return self._at - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0
