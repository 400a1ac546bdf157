"""Reporting to the gateway: every outcome (complete, fail, ``Disrupted``) and progress update the
supervisor hands over, posted from a small thread pool with retries (docs/protocol.md, "Worker
API"). Progress is coalesced per task, and a task's result waits for its progress posts: a
caller's last progress event should come before its result.

Everything here is called with the worker's lock held and never blocks it: the posts run on the
pool, which takes the lock only to read and update the task's progress fields.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional

from ..errors import BAD_CONFIGURATION, EXIT_CODES
from .deadline import Clock
from .supervisor import Log, Task
from .worker_api import GatewayError, WorkerApi

POST_ATTEMPTS = 5


class Reporter:
    def __init__(
        self,
        api: WorkerApi,
        cv: threading.Condition,
        concurrency: int,
        clock: Clock,
        log: Log,
        abandon: Callable[[Task], None],
    ) -> None:
        """``abandon(task)`` (lock held): the gateway no longer holds the task's lease."""
        self._api = api
        self._cv = cv
        self._clock = clock
        self._log = log
        self._abandon = abandon
        self._outstanding = 0
        self._posts = ThreadPoolExecutor(max_workers=min(8, concurrency + 2), thread_name_prefix="hearth-post")

    # -- the supervisor's side (lock held) ------------------------------------------------

    def complete(self, task: Task, fields: Dict[str, Any]) -> None:
        self._submit(self._deliver_complete, task, fields)

    def fail(self, task: Task, error_type: str, exit_code: Optional[int], message: str) -> None:
        self._submit(self._deliver_fail, task, error_type, exit_code, message)

    def progress(self, task: Task, value: float, message: Any) -> None:
        # Progress is coalesced: at most one post per task in flight, the latest value next.
        task.progress_next = (value, message if isinstance(message, str) else None)
        if not task.progress_busy:
            task.progress_busy = True
            self._submit(self._deliver_progress, task)

    def outstanding(self) -> int:
        return self._outstanding

    def shutdown(self) -> None:
        self._posts.shutdown(wait=False)

    # -- the post threads ---------------------------------------------------------------

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._outstanding += 1

        def run() -> None:
            try:
                fn(*args)
            except Exception as err:  # a post thread must never die silently
                self._log(f"hearth: {err}")
            finally:
                with self._cv:
                    self._outstanding -= 1
                    self._cv.notify_all()

        self._posts.submit(run)

    def _retrying(self, what: str, call: Callable[[], bool]) -> bool:
        delay = 0.2
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                return call()
            except GatewayError as err:
                retriable = err.status is None or err.status >= 500
                if not retriable or attempt == POST_ATTEMPTS:
                    raise
                self._log(f"hearth: {what} failed ({err}); retrying in {delay:g}s")
                time.sleep(delay)
                delay *= 2
        return False

    def _after_progress(self, task: Task) -> None:
        """Waits (briefly) for the task's progress posts: a caller's last progress event should
        come before its result, and the gateway refuses progress for a finished task."""
        with self._cv:
            deadline = self._clock() + 5.0
            while task.progress_busy and self._clock() < deadline:
                self._cv.wait(timeout=0.05)

    def _deliver_complete(self, task: Task, fields: Dict[str, Any]) -> None:
        self._after_progress(task)
        try:
            held = self._retrying("complete", lambda: self._api.complete(task.id, task.lease_id, fields))
        except GatewayError as err:
            if err.status == 413:
                message = f"the output is too large for the gateway: {err}"
                self._deliver_fail(task, BAD_CONFIGURATION, EXIT_CODES[BAD_CONFIGURATION], message)
                return
            raise
        if not held:
            self._log(f"hearth: result of task {task.id} dropped: the lease was lost")

    def _deliver_fail(self, task: Task, error_type: str, exit_code: Optional[int], message: str) -> None:
        self._after_progress(task)
        held = self._retrying("fail", lambda: self._api.fail(task.id, task.lease_id, exit_code, error_type, message))
        if not held:
            self._log(f"hearth: failure of task {task.id} dropped: the lease was lost")

    def _deliver_progress(self, task: Task) -> None:
        while True:
            with self._cv:
                update = task.progress_next
                task.progress_next = None
                if update is None or task.abandoned:
                    task.progress_busy = False
                    self._cv.notify_all()
                    return
            try:
                held = self._api.progress(task.id, task.lease_id, update[0], update[1])
            except GatewayError as err:
                self._log(f"hearth: progress of task {task.id} not delivered: {err}")
                continue
            if not held:
                with self._cv:
                    self._log(f"hearth: task {task.id} was cancelled or its lease expired: abandoning it")
                    self._abandon(task)
