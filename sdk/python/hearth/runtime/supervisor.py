"""The warm worker's process supervision: the child process that holds the model (started by
child_process.py), its setup deadline, every attempt's deadline and the state the probes and
heartbeats report. Talking to the gateway is not its business: leases arrive through
:meth:`Supervisor.accept` (warm.py) and outcomes and progress leave through :class:`Reports`
(reporter.py).

Re-spawning the child gives fresh state without a container restart, so a user error or a
timeout costs one ``setup()``, never a CrashLoopBackOff.

Per exit-code class (docs/protocol.md):

- ``UserError``: fail the task; retire the child (fresh ``setup()``) if ``restartOnError``.
- ``InputRejected``: fail the task; the child stays.
- ``Timeout``: fail the task, kill the child (it may be stuck in native code) and start a new
  one.
- ``Fatal``: fail the task, then exit 75 so that the kubelet restarts the container.

Tasks that were running beside one that timed out or raised ``FatalError`` lose their process
through no fault of their own: they are reported ``Disrupted`` (re-queued, attempt not counted).
- ``BadConfiguration`` while loading: stop leasing, report ``failed`` in heartbeats, keep the
  process alive (the operator shows ``Degraded``; no restart loop).

Threads: the main thread runs :meth:`Supervisor.step` (warm.py's control loop); a thread reads
each child. All state of the warm worker is guarded by one condition variable (reentrant,
because the SIGTERM handler runs on the main thread), shared with warm.py and reporter.py.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Dict, Optional, Protocol, Tuple

from ..errors import (
    BAD_CONFIGURATION,
    DISRUPTED,
    EXIT_CODES,
    FATAL,
    TIMEOUT,
    USER_ERROR,
)
from . import setup_progress
from .channel import ChannelClosed, Message
from .child_process import DEAD, READY, RETIRING, SETUP, STOPPING, ChildHandle, exit_detail, spawn_child
from .config import WorkerConfig
from .deadline import Clock, Deadline
from .outcome import Failure

SETUP_TIMEOUT = "SetupTimeout"
STOP_GRACE_SECONDS = 5.0
FATAL_FLUSH_SECONDS = 10.0
SETUP_BACKOFF_MAX = 60.0

Log = Callable[[str], None]


@dataclass
class Task:
    id: str
    attempt: int
    lease_id: str
    timeout_seconds: float
    deadline: Deadline
    message: Message
    child_gen: Optional[int] = None  # None: waiting for a ready child
    abandoned: bool = False  # cancelled or lease lost: run out, but report nothing
    progress_busy: bool = False
    progress_next: Optional[Tuple[float, Optional[str]]] = None


class Reports(Protocol):
    """Where outcomes and progress go (reporter.py). Called with the lock held; must not block."""

    def complete(self, task: "Task", fields: Dict[str, Any]) -> None: ...

    def fail(self, task: "Task", error_type: str, exit_code: Optional[int], message: str) -> None: ...

    def progress(self, task: "Task", value: float, message: Any) -> None: ...

    def outstanding(self) -> int:
        """Reports not yet answered by the gateway."""
        ...

    def deferred_flush(self) -> ContextManager[None]:
        """Within it, this thread's reports are queued on the worker channel without waking its
        writer thread; they are written by this thread when the block ends (lock released)."""
        ...


class Leases(Protocol):
    """The warm loop's leasing (warm.py)."""

    def stop(self) -> None:
        """No more leases (drain, fatal, setup timeout): cut a wait in flight short."""
        ...

    def busy(self) -> bool:
        """A lease is in flight: its answer may still bring tasks."""
        ...

    def top_up(self) -> bool:
        """Free slots may have changed: bring the worker channel's credit up to date now, so that
        a ``want`` leaves with the outcome that freed the slot (lock held). False when no channel
        takes credit (leasing with requests, or between channels): then wake the waiters."""
        ...


class Supervisor:
    def __init__(
        self,
        config: WorkerConfig,
        cv: threading.Condition,
        reports: Reports,
        leases: Leases,
        clock: Clock = time.monotonic,
        log: Log = lambda line: print(line, file=sys.stderr, flush=True),
        spawn: Callable[[WorkerConfig, int], ChildHandle] = spawn_child,
    ) -> None:
        self._config = config
        self._cv = cv
        self._reports = reports
        self._leases = leases
        self._clock = clock
        self._log = log
        self._spawn = spawn
        self.tasks: Dict[str, Task] = {}
        self.child: Optional[ChildHandle] = None
        self._gen = 0
        self.draining = False
        self.fatal_since: Optional[float] = None
        self._fatal_failure: Optional[Failure] = None
        self.config_failure: Optional[Failure] = None
        self._setup_failure: Optional[Failure] = None
        self.signature: Optional[Dict[str, Any]] = None  # the handler's, as the last ready child reported it
        self._setup_failures = 0
        self._respawn_at = 0.0
        self.stopping = False
        self.exit_code: Optional[int] = None
        self.reported: Optional[str] = None
        self.setup_timeout: Optional[Failure] = None
        self._setup_started_at: Optional[float] = None  # wall clock, for heartbeats
        self._last_setup_seconds: Optional[float] = None
        self.setup_version = 0  # bumped on setup progress: the heartbeat goes out at once
        # When the control loop next runs step() by itself (its wait's timeout): a new task
        # whose deadline comes sooner must wake it; others need not.
        self.next_step_at = 0.0

    def readiness(self) -> Tuple[bool, Dict[str, Any]]:
        with self._cv:
            state, ready, error = self.state()
            # "reported": the last state the gateway acknowledged (tests wait on it).
            details: Dict[str, Any] = {"state": state, "busy": len(self.tasks), "reported": self.reported}
            if error is not None:
                details["error"] = error.to_wire()
            return ready, details

    def started(self) -> Tuple[bool, Dict[str, Any]]:
        """The kubelet's startup probe: setup() finished once, or the current one reported progress."""
        with self._cv:
            child = self.child
            progressed = child is not None and child.state == SETUP and child.setup_progress is not None
            done = self._last_setup_seconds is not None
            return (done or progressed) and self.setup_timeout is None, {"setup": self.setup_report()}

    def state(self) -> Tuple[str, bool, Optional[Failure]]:
        """(wire state, ready, error): ``failed`` carries why; ``setup`` covers a child starting
        or about to be replaced."""
        if self.config_failure is not None:
            return "failed", False, self.config_failure
        if self.setup_timeout is not None:
            return "failed", False, self.setup_timeout
        if self.fatal_since is not None:
            return "failed", False, self._fatal_failure
        if self.draining:
            return "draining", False, None
        child = self.child
        if child is not None and child.state == READY:
            return "ready", True, None
        if (child is None or child.state in (STOPPING, DEAD)) and self._setup_failure is not None:
            return "failed", False, self._setup_failure  # backing off before the next setup()
        return "setup", False, None

    # -- the control loop (called with the lock held) ------------------------------------

    def step(self, now: float) -> float:
        self._expire(now)
        self._reap(now)
        child = self.child

        if child is not None and child.state == SETUP and child.setup_deadline is not None and child.setup_deadline.expired():
            self._setup_timed_out(child)
            return 0.1

        if self.fatal_since is not None:
            if self._reports.outstanding() == 0 or now - self.fatal_since > FATAL_FLUSH_SECONDS:
                self.exit_code = EXIT_CODES[FATAL]
            return 0.1

        if child is not None and child.state == RETIRING and not child.tasks:
            self._stop(child, now)

        if child is not None and child.state == STOPPING and not child.exited and child.stop_requested_at is not None:
            if now - child.stop_requested_at > STOP_GRACE_SECONDS:
                self.kill(child)

        if (child is None or child.exited) and self.config_failure is None:
            if not (self.draining and not self.tasks):
                if now >= self._respawn_at:
                    self._start_child()
                else:
                    return max(0.01, min(self._respawn_at - now, 1.0))

        self._dispatch()

        if self.draining and not self.tasks and not self._leases.busy() and self._reports.outstanding() == 0:
            if child is not None and not child.exited:
                self._stop(child, now)
            self.exit_code = 0

        wake = 1.0
        for task in self.tasks.values():
            wake = min(wake, task.deadline.remaining())
        if child is not None and child.state == SETUP and child.setup_deadline is not None:
            wake = min(wake, child.setup_deadline.remaining())
        return max(0.01, wake)

    def _setup_timed_out(self, child: ChildHandle) -> None:
        """setup() outlived startupTimeoutSeconds: the child may be stuck anywhere (a download,
        a CUDA init), so the container restarts, with the kubelet's back-off: exit 124."""
        message = setup_progress.timeout_message(self._config.startup_timeout_seconds, child.setup_progress)
        self.setup_timeout = Failure(TIMEOUT, message, SETUP_TIMEOUT)
        self._log(f"hearth: SetupTimeout: {message}; exiting 124 so the container restarts")
        self.kill(child)
        self._leases.stop()
        self.exit_code = EXIT_CODES[TIMEOUT]

    def setup_report(self) -> Optional[Dict[str, Any]]:
        """The heartbeat's ``setup`` (docs/protocol.md)."""
        if self._setup_started_at is None:
            return None
        report: Dict[str, Any] = {"startedAt": int(self._setup_started_at * 1000), "timeoutSeconds": self._config.startup_timeout_seconds}
        child = self.child
        if child is not None and child.state == SETUP and child.setup_progress is not None:
            value, text = child.setup_progress
            report["progress"] = {"value": value, "message": text} if text is not None else {"value": value}
        if self._last_setup_seconds is not None:
            report["durationSeconds"] = round(self._last_setup_seconds, 3)
        return report

    def _expire(self, now: float) -> None:
        for task in list(self.tasks.values()):
            if not task.deadline.expired():
                continue
            self._forget(task)
            child = self.child
            if not task.abandoned:
                self._log(f"hearth: task {task.id} timed out after {task.timeout_seconds:g}s without progress")
                self._fail(task, Failure(TIMEOUT, f"the attempt exceeded timeoutSeconds={task.timeout_seconds:g} without progress"))
            if child is not None and task.child_gen == child.gen and not child.exited:
                # The handler may be stuck where no exception reaches it: only a new process helps.
                self.kill(child)
                self._disrupt(child, "the worker process was restarted after another task timed out")

    def _reap(self, now: float) -> None:
        child = self.child
        if child is None or not child.exited:
            return
        expected = child.state == STOPPING
        if not expected:
            detail = exit_detail(child.exit_code)
            if child.state == SETUP and not child.setup_reported:
                self._setup_failed(Failure(USER_ERROR, f"setup failed: the worker process died ({detail})"), now)
            elif child.tasks:
                self._log(f"hearth: worker process died ({detail}) with {len(child.tasks)} task(s) in flight")
                for task_id in list(child.tasks):
                    task = self.tasks.get(task_id)
                    if task is not None:
                        self._forget(task)
                        if not task.abandoned:
                            self._fail(task, Failure(USER_ERROR, f"the worker process died while running this task ({detail})"))
            else:
                self._log(f"hearth: worker process died while idle ({detail})")
        child.state = DEAD
        child.channel.close()
        self.child = None

    def _start_child(self) -> None:
        self._gen += 1
        try:
            self.child = self._spawn(self._config, self._gen)
        except OSError as err:
            self._setup_failed(Failure(USER_ERROR, f"cannot start the worker process: {err}"), self._clock())
            return
        child = self.child
        child.setup_started = self._clock()
        child.setup_deadline = Deadline(self._config.startup_timeout_seconds, self._clock)
        self._setup_started_at = time.time()
        threading.Thread(target=self._read_child, args=(child,), name=f"hearth-child-{child.gen}", daemon=True).start()

    def dispatch(self) -> None:
        """Hands the tasks waiting for a ready child to it now (lock held): the thread that
        accepted them sends them, rather than waking the control loop to do it."""
        self._dispatch()

    def _dispatch(self) -> None:
        child = self.child
        if child is None or child.state != READY:
            return
        for task in self.tasks.values():
            if task.child_gen is not None:
                continue
            try:
                child.channel.send(task.message)
            except ChannelClosed:
                return  # the reader sees the exit and _reap handles it
            task.child_gen = child.gen
            child.tasks.add(task.id)

    def _forget(self, task: Task, notify: bool = True) -> None:
        self.tasks.pop(task.id, None)
        child = self.child
        if child is not None:
            child.tasks.discard(task.id)
        if notify:
            self._cv.notify_all()

    def wants_step(self) -> bool:
        """Whether the control loop must run step() before it would by itself (lock held): a task
        waits for dispatch or has a deadline sooner than its next step."""
        return any(t.child_gen is None or t.deadline.remaining() + self._clock() < self.next_step_at for t in self.tasks.values())

    def _routine_done(self, child: ChildHandle) -> bool:
        """A task finished and the control loop need not look: no draining, no fatal wait, no
        child to retire. (Leasing learns of the free slot from top_up(), in _read_child.)"""
        return not self.draining and self.fatal_since is None and child.state == READY

    def abandon(self, task: Task) -> None:
        """The gateway no longer wants this task: tell the handler (``ctx.cancelled``) and
        drop whatever it returns. It keeps its slot until it returns or its deadline passes."""
        task.abandoned = True
        child = self.child
        if task.child_gen is None:
            self._forget(task)  # never started: nothing to run out
        elif child is not None and task.child_gen == child.gen:
            try:
                child.channel.send({"op": "cancel", "id": task.id})
            except ChannelClosed:
                pass

    def _disrupt(self, child: ChildHandle, message: str) -> None:
        for task_id in list(child.tasks):
            task = self.tasks.get(task_id)
            if task is not None:
                self._forget(task)
                if not task.abandoned:
                    self._reports.fail(task, DISRUPTED, None, message)
        child.tasks.clear()

    def _stop(self, child: ChildHandle, now: float) -> None:
        if child.state == STOPPING:
            return
        child.state = STOPPING
        child.stop_requested_at = now
        try:
            child.channel.send({"op": "shutdown"})
        except ChannelClosed:
            pass

    def kill(self, child: ChildHandle) -> None:
        child.state = STOPPING
        try:
            os.killpg(child.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _fatal(self, failure: Failure) -> None:
        if self.fatal_since is None:
            self.fatal_since = self._clock()
            self._fatal_failure = failure
        self._leases.stop()

    def _setup_failed(self, failure: Failure, now: float) -> None:
        self._setup_failure = failure
        self._setup_failures += 1
        delay = min(SETUP_BACKOFF_MAX, float(2 ** (self._setup_failures - 1)))
        self._respawn_at = now + delay
        self._log(f"hearth: {failure.message}; starting a new worker process in {delay:g}s")

    def _fail(self, task: Task, failure: Failure) -> None:
        self._reports.fail(task, failure.type, failure.exit_code, failure.message)

    # -- the warm loop's side (called with the lock held) ---------------------------------

    def begin_drain(self) -> bool:
        """No new tasks; the ones held finish, then step() exits 0. False if already draining."""
        first = not self.draining
        self.draining = True
        self._cv.notify_all()
        return first

    def free_slots(self) -> int:
        """How many more tasks the worker takes now (the lease's ``max``, the channel's credit)."""
        child = self.child
        if self.draining or self.fatal_since is not None or self.config_failure is not None:
            return 0
        if child is None or child.state != READY:
            return 0
        return self._config.concurrency - len(self.tasks)

    def accept(self, doc: Dict[str, Any]) -> None:
        """A leased task (a lease answer's or the channel's grant): runs once a child is ready."""
        task_id, lease_id = doc.get("id"), doc.get("leaseId")
        if not isinstance(task_id, str) or not isinstance(lease_id, str):
            self._log(f"hearth: ignoring a leased task without id/leaseId: {str(doc)[:200]}")
            return
        timeout = doc.get("timeoutSeconds")
        seconds = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else self._config.timeout_seconds
        attempt = doc.get("attempt")
        message: Message = {"op": "task", "id": task_id, "attempt": attempt if isinstance(attempt, int) else 1, "timeoutSeconds": seconds}
        for key in ("input", "inputB64", "token", "outputItems", "fold"):
            if key in doc:
                message[key] = doc[key]
        self.tasks[task_id] = Task(
            id=task_id,
            attempt=message["attempt"],
            lease_id=lease_id,
            timeout_seconds=seconds,
            deadline=Deadline(seconds, self._clock),
            message=message,
        )

    def wait_until(self, at: float) -> bool:
        """Sleeps until ``at`` (lock held); False when the worker stops first."""
        while not self.stopping:
            left = at - self._clock()
            if left <= 0:
                return True
            self._cv.wait(timeout=left)
        return False

    # -- messages from the child (reader thread) -----------------------------------------

    def _read_child(self, child: ChildHandle) -> None:
        while True:
            try:
                message = child.channel.receive()
            except ValueError as err:
                self._log(f"hearth: bad message from worker process: {err}")
                message = None
            if message is None:
                break
            # An outcome's results line (and the credit it frees) leaves from this thread once
            # the lock is released: no hand-off to the channel's writer thread.
            with self._reports.deferred_flush():
                with self._cv:
                    look = self._on_message(child, message)
                    # No channel to take the credit (lease requests): the lease loop waits for a slot.
                    if not self._leases.top_up() or look:
                        self._cv.notify_all()
        code = child.proc.wait()
        with self._cv:
            child.exited = True
            child.exit_code = code
            self._cv.notify_all()

    def _on_message(self, child: ChildHandle, message: Message) -> bool:
        """Handles one message of the child; True when the other threads must look (a state
        change), False for a routine outcome (most messages: no wake-ups)."""
        op = message.get("op")
        if op == "ready":
            signature = message.get("signature")
            if isinstance(signature, dict):
                self.signature = signature
            child.setup_reported = True
            if child.state == SETUP:
                child.state = READY
            self._setup_failure = None
            self._setup_failures = 0
            self._last_setup_seconds = self._clock() - child.setup_started
            self._log(f"hearth: worker process {child.proc.pid} ready: setup() finished in {self._last_setup_seconds:.2f}s")
            return True
        if op == "setup_progress":
            value, text = message.get("value"), message.get("message")
            if child.state != SETUP or not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            child.setup_progress = (float(value), text if isinstance(text, str) else None)
            if child.setup_deadline is not None:
                child.setup_deadline.extend()
            self.setup_version += 1
            self._log(f"hearth: setup {setup_progress.describe(*child.setup_progress)}")
            return True
        if op == "setup_failed":
            child.setup_reported = True
            failure = _failure(message)
            child.state = STOPPING  # it exits by itself
            if failure.type == BAD_CONFIGURATION:
                self.config_failure = failure
                self._log(f"hearth: bad configuration: {failure.message}; not taking tasks")
            elif failure.type == FATAL:
                self._log(f"hearth: FatalError during setup: {failure.message}; exiting 75 so the container restarts")
                self._fatal(failure)
            else:
                self._setup_failed(failure, self._clock())
            return True

        task = self.tasks.get(str(message.get("id")))
        if task is None or task.child_gen != child.gen:
            return False  # already timed out, or a leftover of a replaced process
        if op == "progress":
            task.deadline.extend()  # later, never sooner: the control loop need not look
            if not task.abandoned:
                self._reports.progress(task, float(message.get("value", 0.0)), message.get("message"))
            return False
        if op == "done":
            routine = self._routine_done(child)
            self._forget(task, notify=not routine)
            if not task.abandoned:
                fields: Dict[str, Any] = {k: message[k] for k in ("output", "outputB64", "outputItemsB64") if k in message}
                self._reports.complete(task, fields)
            return not routine
        if op == "failed":
            self._forget(task)
            failure = _failure(message)
            if not task.abandoned:
                self._fail(task, failure)
            if failure.type == FATAL:
                self._log(f"hearth: FatalError in task {task.id}: {failure.message}; exiting 75 so the container restarts")
                self._fatal(failure)
                self.kill(child)
                self._disrupt(child, "another task on this worker raised FatalError")
            elif failure.type == USER_ERROR and self._config.restart_on_error and child.state == READY:
                child.state = RETIRING
        return True


def _failure(message: Message) -> Failure:
    kind = message.get("type")
    text = message.get("message")
    if not isinstance(kind, str) or kind not in EXIT_CODES:
        kind = USER_ERROR
    return Failure(kind, text if isinstance(text, str) else "")
