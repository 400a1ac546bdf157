"""Reporting to the gateway: every outcome (complete, fail, ``Disrupted``) and progress update the
supervisor hands over (docs/protocol.md, "Worker API"). Outcomes go over the worker channel
(worker_channel.py) while the warm loop has one attached; reports a broken channel did not get
answered wait for the next channel (or, once leasing stopped, go as requests). Without the
channel (``HEARTH_WORKER_CHANNEL=off``, an older gateway) each outcome is its own
complete/fail request from a small thread pool, with retries. Progress is always a request,
coalesced per task, and a task's result waits for its progress posts: a caller's last progress
event should come before its result.

Everything here is called with the worker's lock held and never blocks it: the posts run on the
pool, which takes the lock only to read and update the task's progress fields.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

from ..errors import BAD_CONFIGURATION, EXIT_CODES
from .deadline import Clock
from .supervisor import Log, Task
from .worker_api import GatewayError, WorkerApi
from .worker_channel import Report, WorkerChannel, error_fields, report_item

POST_ATTEMPTS = 5
# A report handed back by a channel (broken, or its store failed) is sent again this often.
RESEND_ATTEMPTS = 5


class Reporter:
    def __init__(
        self,
        api: WorkerApi,
        cv: threading.Condition,
        concurrency: int,
        clock: Clock,
        log: Log,
        abandon: Callable[[Task], None],
        channel: bool = False,
    ) -> None:
        """``abandon(task)`` (lock held): the gateway no longer holds the task's lease.
        ``channel``: outcomes go over the worker channel once one is attached."""
        self._api = api
        self._cv = cv
        self._clock = clock
        self._log = log
        self._abandon = abandon
        self._outstanding = 0
        # The worker channel's side: the channel outcomes go to, the ones waiting for one, and
        # whether they go as requests instead (no channel, or leasing stopped).
        self._channel: Optional[WorkerChannel] = None
        self._unsent: List[Report] = []
        self._requests = not channel
        self._posts = ThreadPoolExecutor(max_workers=min(8, concurrency + 2), thread_name_prefix="hearth-post")
        # Per thread: the channels this thread queued reports on inside deferred_flush().
        self._local = threading.local()

    @contextmanager
    def deferred_flush(self) -> Iterator[None]:
        """See supervisor.Reports.deferred_flush. Called WITHOUT the lock held."""
        self._local.channels = []
        try:
            yield
        finally:
            channels: List[WorkerChannel] = self._local.channels
            self._local.channels = None
            for channel in channels:
                channel.flush()

    # -- the supervisor's side (lock held) ------------------------------------------------

    def complete(self, task: Task, fields: Dict[str, Any]) -> None:
        if self._requests and not self._unsent and self._channel is None:
            self._submit(self._deliver_complete, task, fields)
        else:
            self._report(task, report_item(task.id, task.lease_id, fields))

    def fail(self, task: Task, error_type: str, exit_code: Optional[int], message: str) -> None:
        if self._requests and not self._unsent and self._channel is None:
            self._submit(self._deliver_fail, task, error_type, exit_code, message)
        else:
            self._report(task, report_item(task.id, task.lease_id, error_fields(error_type, exit_code, message)))

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

    # -- the worker channel's side (lock held) --------------------------------------------

    def attach(self, channel: WorkerChannel) -> None:
        """Outcomes go over ``channel`` from now on; the ones waiting for a channel go now."""
        self._channel = channel
        waiting, self._unsent = self._unsent, []
        for report in waiting:
            self._send(report)

    def detach(self, channel: WorkerChannel) -> None:
        if self._channel is channel:
            self._channel = None

    def use_requests(self) -> None:
        """No new channel is coming (leasing stopped, or the gateway has none): outcomes that
        find no open channel go as requests."""
        self._requests = True
        waiting, self._unsent = self._unsent, []
        for report in waiting:
            self._send(report)

    def acked(self, report: Report, status: int, message: Optional[str]) -> None:
        """The gateway's answer to a report sent over a channel (reader thread)."""
        with self._cv:
            self._outstanding -= 1
            # Only a stopping worker (draining, fatal: leasing stopped, see use_requests) waits
            # for its reports to be answered; a serving one need not be woken by every answer.
            if self._outstanding == 0 and self._requests:
                self._cv.notify_all()
        if status == 409:
            self._log(f"hearth: result of task {report.id} dropped: the lease was lost")
        elif status == 413:
            self._log(
                f"hearth: the output of task {report.id} is too large for the gateway: {message}; the task fails with BadConfiguration"
            )
        elif status != 200:
            self._log(f"hearth: reporting task {report.id} failed: HTTP {status}: {message or ''}")

    def returned(self, reports: List[Report]) -> None:
        """Reports a channel did not answer (it broke, or the gateway could not take them):
        sent again, on the next channel, after a short pause (reader thread)."""
        self._log(f"hearth: {len(reports)} result(s) not acknowledged on the worker channel; sending them again")
        with self._cv:
            for report in reports:
                report.tries += 1
                if report.tries > RESEND_ATTEMPTS:
                    self._log(f"hearth: giving up reporting task {report.id}: the gateway did not take it {RESEND_ATTEMPTS} times")
                    self._outstanding -= 1
                    continue
                timer = threading.Timer(0.05 * 2 ** (report.tries - 1), self._resend, (report,))
                timer.daemon = True
                timer.start()
            self._cv.notify_all()

    def _resend(self, report: Report) -> None:
        with self._cv:
            self._send(report)

    def _report(self, task: Task, item: Dict[str, Any]) -> None:
        self._outstanding += 1
        report = Report(task.id, item, task)
        if task.progress_busy:
            self._posts.submit(self._send_after_progress, report)
        else:
            self._send(report)

    def _send_after_progress(self, report: Report) -> None:
        self._after_progress(report.context)
        with self._cv:
            self._send(report)

    def defer(self, channel: WorkerChannel) -> bool:
        """True when this thread is inside deferred_flush(): ``channel`` is then written when the
        block ends, and lines queued on it need not wake its writer thread."""
        deferred: Optional[List[WorkerChannel]] = getattr(self._local, "channels", None)
        if deferred is None:
            return False
        if channel not in deferred:
            deferred.append(channel)
        return True

    def _send(self, report: Report) -> None:
        channel = self._channel
        if channel is not None and channel.send_results([report], wake=not self.defer(channel)):
            return
        if not self._requests:
            self._unsent.append(report)  # the warm loop is opening the next channel
            return
        # As a complete/fail request of its own, with the request path's retries.
        task: Task = report.context
        error = report.item.get("error")
        if isinstance(error, dict):
            self._submit(self._deliver_fail, task, error["type"], error.get("exitCode"), error["message"])
        else:
            fields = {k: v for k, v in report.item.items() if k not in ("id", "leaseId")}
            self._submit(self._deliver_complete, task, fields)
        self._outstanding -= 1

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
