"""The warm worker's credential for the gateway (docs/protocol.md "Worker authentication").

The pod's projected ServiceAccount token, which the kubelet writes to HEARTH_WORKER_TOKEN_FILE
and rotates (about hourly), else HEARTH_WORKER_TOKEN (dev workers, pods of an older operator).
The file is re-read when a worker channel (re)connects, after a 401, and at least every minute.
"""

import threading
import time
from typing import Callable, Optional

MAX_AGE_SECONDS = 60.0


def _read(path: str) -> str:
    with open(path, "r", encoding="utf-8") as f:
        return f.read()


class WorkerTokenSource:
    def __init__(
        self,
        file: Optional[str],
        fallback: Optional[str],
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE_SECONDS,
        read: Callable[[str], str] = _read,
    ) -> None:
        self._file = file
        self._fallback = fallback
        self._clock = clock
        self._max_age = max_age
        self._read = read
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._read_at: Optional[float] = None
        self.problem: Optional[str] = None

    def current(self, fresh: bool = False) -> Optional[str]:
        """The token to send now; ``fresh`` re-reads the file (a 401, a new channel)."""
        if self._file is None:
            return self._fallback
        with self._lock:
            now = self._clock()
            if fresh or self._read_at is None or now - self._read_at >= self._max_age:
                self._read_at = now
                try:
                    token = self._read(self._file).strip()
                except OSError as err:
                    # Keep the last good token: a rotation replaces the file atomically.
                    self.problem = f"cannot read {self._file}: {err}"
                else:
                    if token:
                        self._token = token
                        self.problem = None
                    else:
                        self.problem = f"{self._file} is empty"
            return self._token or self._fallback

    def __call__(self, fresh: bool = False) -> Optional[str]:
        return self.current(fresh)


def token_source(file: Optional[str], token: Optional[str]) -> WorkerTokenSource:
    return WorkerTokenSource(file, token)
