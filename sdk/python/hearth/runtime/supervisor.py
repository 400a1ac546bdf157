"""The warm worker's supervisor (PID 1 of a worker pod).

It owns everything that must outlive the model: the gateway connection (lease, heartbeat,
progress, complete, fail), every attempt's deadline, the probes, and the child process that
holds the model. Re-spawning the child gives fresh state without a container restart, so a
user error or a timeout costs one ``setup()``, never a CrashLoopBackOff.

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

Threads: the main thread runs the control loop; one thread each for leasing, heartbeats, the
probes and reading the child; a small pool posts results. All state is guarded by one
condition variable (reentrant, because the SIGTERM handler runs on the main thread).
"""

from __future__ import annotations

import os
import signal
import site
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ..errors import (
    BAD_CONFIGURATION,
    DISRUPTED,
    EXIT_CODES,
    FATAL,
    TIMEOUT,
    USER_ERROR,
)
from . import gpu, setup_progress
from .channel import Channel, ChannelClosed, Message
from .config import DEFAULT_TERMINATION_LOG, WorkerConfig
from .deadline import Clock, Deadline
from .health import HealthServer
from .outcome import Failure
from .worker_api import GatewayError, WorkerApi

SETUP_TIMEOUT = "SetupTimeout"
STOP_GRACE_SECONDS = 5.0
FATAL_FLUSH_SECONDS = 10.0
POST_ATTEMPTS = 5
SETUP_BACKOFF_MAX = 60.0

Log = Callable[[str], None]

# Child states.
SETUP = "setup"
READY = "ready"
RETIRING = "retiring"  # finishing its tasks, then replaced
STOPPING = "stopping"  # told to exit (or killed); its exit is expected
DEAD = "dead"


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


@dataclass
class ChildHandle:
    gen: int
    proc: "subprocess.Popen[bytes]"
    channel: Channel
    state: str = SETUP
    exited: bool = False
    exit_code: Optional[int] = None
    stop_requested_at: Optional[float] = None
    setup_reported: bool = False
    tasks: Set[str] = field(default_factory=set)
    # The startup deadline (startupTimeoutSeconds), pushed out by setup progress.
    setup_deadline: Optional[Deadline] = None
    setup_started: float = 0.0
    setup_progress: Optional[Tuple[float, Optional[str]]] = None


_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _site_dirs() -> List[str]:
    try:
        return [*site.getsitepackages(), site.getusersitepackages()]
    except AttributeError:  # some virtualenvs' site module lacks them
        return []


def child_python_path(current: str, package_root: str, site_dirs: List[str]) -> Optional[str]:
    """PYTHONPATH for the child, or None to leave it alone. The child must import this very
    package even from a checkout that is not installed; an installed package needs nothing, and
    putting site-packages on PYTHONPATH would let it shadow the standard library and the
    Function's pythonPackages."""
    entries = [p for p in current.split(os.pathsep) if p]
    root = os.path.abspath(package_root)
    if root in (os.path.abspath(p) for p in entries) or root in (os.path.abspath(p) for p in site_dirs):
        return None
    return os.pathsep.join([*entries, root])


def spawn_child(config: WorkerConfig, gen: int) -> ChildHandle:
    parent_sock, child_sock = socket.socketpair()
    env = dict(os.environ)
    # The worker token is the supervisor's business, not user code's.
    env.pop("HEARTH_WORKER_TOKEN", None)
    env.update(gpu.framework_env(config.gpu_fraction, env))
    env["HEARTH_CHILD_FD"] = str(child_sock.fileno())
    env.setdefault("PYTHONUNBUFFERED", "1")
    python_path = child_python_path(env.get("PYTHONPATH", ""), _PACKAGE_ROOT, _site_dirs())
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from hearth.runtime.child import main; main()"],
            env=env,
            pass_fds=(child_sock.fileno(),),
            # Own process group: a terminal's Ctrl-C reaches only the supervisor, which decides,
            # and a kill reaches every process the user's code started.
            start_new_session=True,
        )
    finally:
        child_sock.close()
    return ChildHandle(gen=gen, proc=proc, channel=Channel(parent_sock))


class Supervisor:
    def __init__(
        self,
        config: WorkerConfig,
        api: WorkerApi,
        clock: Clock = time.monotonic,
        log: Log = lambda line: print(line, file=sys.stderr, flush=True),
        spawn: Callable[[WorkerConfig, int], ChildHandle] = spawn_child,
    ) -> None:
        self._config = config
        self._api = api
        self._clock = clock
        self._log = log
        self._spawn = spawn
        self._cv = threading.Condition(threading.RLock())
        self._tasks: Dict[str, Task] = {}
        self._child: Optional[ChildHandle] = None
        self._gen = 0
        self._draining = False
        self._fatal_since: Optional[float] = None
        self._fatal_failure: Optional[Failure] = None
        self._config_failure: Optional[Failure] = None
        self._setup_failure: Optional[Failure] = None
        self._signature: Optional[Dict[str, Any]] = None  # the handler's, as the last ready child reported it
        self._setup_failures = 0
        self._respawn_at = 0.0
        self._leasing = False
        self._posts_outstanding = 0
        self._stopping = False
        self._exit_code: Optional[int] = None
        self._reported: Optional[str] = None
        self._setup_timeout: Optional[Failure] = None
        self._setup_started_at: Optional[float] = None  # wall clock, for heartbeats
        self._last_setup_seconds: Optional[float] = None
        self._setup_version = 0  # bumped on setup progress: the heartbeat goes out at once
        self._posts = ThreadPoolExecutor(max_workers=min(8, config.concurrency + 2), thread_name_prefix="hearth-post")

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> int:
        health: Optional[HealthServer] = None
        if self._config.health_port:
            try:
                health = HealthServer(self._config.health_host, self._config.health_port, self.readiness, self.started)
            except OSError as err:
                self._log(f"hearth: cannot serve health on {self._config.health_host}:{self._config.health_port}: {err}")
                return EXIT_CODES[BAD_CONFIGURATION]
            health.start()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        self._log(
            f"hearth: worker {self._config.worker_id} serving {self._config.function} with {self._config.handler} (concurrency {self._config.concurrency})"
        )
        threads = [
            threading.Thread(target=self._lease_loop, name="hearth-lease", daemon=True),
            threading.Thread(target=self._heartbeat_loop, name="hearth-heartbeat", daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            with self._cv:
                while self._exit_code is None:
                    wake = self._step(self._clock())
                    if self._exit_code is None:
                        self._cv.wait(timeout=wake)
                code = self._exit_code
                self._stopping = True
                self._cv.notify_all()
                child = self._child
                state, ready, error = self._state()
                busy, held = len(self._tasks), list(self._tasks)
                setup = self._setup_report()
        finally:
            if health is not None:
                health.stop()
        if child is not None and not child.exited:
            self._kill(child)
        self._api.stop_leasing()
        try:
            # Tell the gateway now rather than after its worker timeout.
            self._api.heartbeat(busy, ready, state, error.to_wire() if error is not None else None, held, setup)
        except GatewayError:
            pass
        if self._setup_timeout is not None:
            _write_termination_log(self._config.termination_log, self._setup_timeout)
        self._posts.shutdown(wait=False)
        self._log(f"hearth: worker {self._config.worker_id} exiting with {code}")
        return code

    def drain(self) -> None:
        """Stop taking tasks, finish the ones held, then exit 0."""
        with self._cv:
            if not self._draining:
                self._log("hearth: draining: no new leases; finishing tasks in flight")
            self._draining = True
            self._cv.notify_all()
        # A lease long-poll in flight would hold the drain for up to its wait; the heartbeat's
        # task list lets the gateway re-queue anything leased in an answer we never read.
        self._api.stop_leasing()

    def _on_signal(self, signum: int, _frame: Optional[FrameType]) -> None:
        with self._cv:
            if self._draining:
                self._log(f"hearth: second signal {signum}: exiting now")
                self._exit_code = 128 + signum
                self._cv.notify_all()
                return
        self.drain()

    def readiness(self) -> Tuple[bool, Dict[str, Any]]:
        with self._cv:
            state, ready, error = self._state()
            # "reported": the last state the gateway acknowledged (tests wait on it).
            details: Dict[str, Any] = {"state": state, "busy": len(self._tasks), "reported": self._reported}
            if error is not None:
                details["error"] = error.to_wire()
            return ready, details

    def started(self) -> Tuple[bool, Dict[str, Any]]:
        """The kubelet's startup probe: setup() finished once, or the current one reported progress."""
        with self._cv:
            child = self._child
            progressed = child is not None and child.state == SETUP and child.setup_progress is not None
            done = self._last_setup_seconds is not None
            return (done or progressed) and self._setup_timeout is None, {"setup": self._setup_report()}

    def _state(self) -> Tuple[str, bool, Optional[Failure]]:
        """(wire state, ready, error): ``failed`` carries why; ``setup`` covers a child starting
        or about to be replaced."""
        if self._config_failure is not None:
            return "failed", False, self._config_failure
        if self._setup_timeout is not None:
            return "failed", False, self._setup_timeout
        if self._fatal_since is not None:
            return "failed", False, self._fatal_failure
        if self._draining:
            return "draining", False, None
        child = self._child
        if child is not None and child.state == READY:
            return "ready", True, None
        if (child is None or child.state in (STOPPING, DEAD)) and self._setup_failure is not None:
            return "failed", False, self._setup_failure  # backing off before the next setup()
        return "setup", False, None

    # -- the control loop (called with the lock held) ------------------------------------

    def _step(self, now: float) -> float:
        self._expire(now)
        self._reap(now)
        child = self._child

        if child is not None and child.state == SETUP and child.setup_deadline is not None and child.setup_deadline.expired():
            self._setup_timed_out(child)
            return 0.1

        if self._fatal_since is not None:
            if self._posts_outstanding == 0 or now - self._fatal_since > FATAL_FLUSH_SECONDS:
                self._exit_code = EXIT_CODES[FATAL]
            return 0.1

        if child is not None and child.state == RETIRING and not child.tasks:
            self._stop(child, now)

        if child is not None and child.state == STOPPING and not child.exited and child.stop_requested_at is not None:
            if now - child.stop_requested_at > STOP_GRACE_SECONDS:
                self._kill(child)

        if (child is None or child.exited) and self._config_failure is None:
            if not (self._draining and not self._tasks):
                if now >= self._respawn_at:
                    self._start_child()
                else:
                    return max(0.01, min(self._respawn_at - now, 1.0))

        self._dispatch()

        if self._draining and not self._tasks and not self._leasing and self._posts_outstanding == 0:
            if child is not None and not child.exited:
                self._stop(child, now)
            self._exit_code = 0

        wake = 1.0
        for task in self._tasks.values():
            wake = min(wake, task.deadline.remaining())
        if child is not None and child.state == SETUP and child.setup_deadline is not None:
            wake = min(wake, child.setup_deadline.remaining())
        return max(0.01, wake)

    def _setup_timed_out(self, child: ChildHandle) -> None:
        """setup() outlived startupTimeoutSeconds: the child may be stuck anywhere (a download,
        a CUDA init), so the container restarts, with the kubelet's back-off: exit 124."""
        message = setup_progress.timeout_message(self._config.startup_timeout_seconds, child.setup_progress)
        self._setup_timeout = Failure(TIMEOUT, message, SETUP_TIMEOUT)
        self._log(f"hearth: SetupTimeout: {message}; exiting 124 so the container restarts")
        self._kill(child)
        self._api.stop_leasing()
        self._exit_code = EXIT_CODES[TIMEOUT]

    def _setup_report(self) -> Optional[Dict[str, Any]]:
        """The heartbeat's ``setup`` (docs/protocol.md)."""
        if self._setup_started_at is None:
            return None
        report: Dict[str, Any] = {"startedAt": int(self._setup_started_at * 1000), "timeoutSeconds": self._config.startup_timeout_seconds}
        child = self._child
        if child is not None and child.state == SETUP and child.setup_progress is not None:
            value, text = child.setup_progress
            report["progress"] = {"value": value, "message": text} if text is not None else {"value": value}
        if self._last_setup_seconds is not None:
            report["durationSeconds"] = round(self._last_setup_seconds, 3)
        return report

    def _expire(self, now: float) -> None:
        for task in list(self._tasks.values()):
            if not task.deadline.expired():
                continue
            self._forget(task)
            child = self._child
            if not task.abandoned:
                self._log(f"hearth: task {task.id} timed out after {task.timeout_seconds:g}s without progress")
                self._post_fail(task, Failure(TIMEOUT, f"the attempt exceeded timeoutSeconds={task.timeout_seconds:g} without progress"))
            if child is not None and task.child_gen == child.gen and not child.exited:
                # The handler may be stuck where no exception reaches it: only a new process helps.
                self._kill(child)
                self._disrupt(child, "the worker process was restarted after another task timed out")

    def _reap(self, now: float) -> None:
        child = self._child
        if child is None or not child.exited:
            return
        expected = child.state == STOPPING
        if not expected:
            detail = _exit_detail(child.exit_code)
            if child.state == SETUP and not child.setup_reported:
                self._setup_failed(Failure(USER_ERROR, f"setup failed: the worker process died ({detail})"), now)
            elif child.tasks:
                self._log(f"hearth: worker process died ({detail}) with {len(child.tasks)} task(s) in flight")
                for task_id in list(child.tasks):
                    task = self._tasks.get(task_id)
                    if task is not None:
                        self._forget(task)
                        if not task.abandoned:
                            self._post_fail(task, Failure(USER_ERROR, f"the worker process died while running this task ({detail})"))
            else:
                self._log(f"hearth: worker process died while idle ({detail})")
        child.state = DEAD
        child.channel.close()
        self._child = None

    def _start_child(self) -> None:
        self._gen += 1
        try:
            self._child = self._spawn(self._config, self._gen)
        except OSError as err:
            self._setup_failed(Failure(USER_ERROR, f"cannot start the worker process: {err}"), self._clock())
            return
        child = self._child
        child.setup_started = self._clock()
        child.setup_deadline = Deadline(self._config.startup_timeout_seconds, self._clock)
        self._setup_started_at = time.time()
        threading.Thread(target=self._read_child, args=(child,), name=f"hearth-child-{child.gen}", daemon=True).start()

    def _dispatch(self) -> None:
        child = self._child
        if child is None or child.state != READY:
            return
        for task in self._tasks.values():
            if task.child_gen is not None:
                continue
            try:
                child.channel.send(task.message)
            except ChannelClosed:
                return  # the reader sees the exit and _reap handles it
            task.child_gen = child.gen
            child.tasks.add(task.id)

    def _forget(self, task: Task) -> None:
        self._tasks.pop(task.id, None)
        child = self._child
        if child is not None:
            child.tasks.discard(task.id)
        self._cv.notify_all()

    def _abandon(self, task: Task) -> None:
        """The gateway no longer wants this task: tell the handler (``ctx.cancelled``) and
        drop whatever it returns. It keeps its slot until it returns or its deadline passes."""
        task.abandoned = True
        child = self._child
        if task.child_gen is None:
            self._forget(task)  # never started: nothing to run out
        elif child is not None and task.child_gen == child.gen:
            try:
                child.channel.send({"op": "cancel", "id": task.id})
            except ChannelClosed:
                pass

    def _disrupt(self, child: ChildHandle, message: str) -> None:
        for task_id in list(child.tasks):
            task = self._tasks.get(task_id)
            if task is not None:
                self._forget(task)
                if not task.abandoned:
                    self._submit(self._deliver_fail, task, DISRUPTED, None, message)
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

    def _kill(self, child: ChildHandle) -> None:
        child.state = STOPPING
        try:
            os.killpg(child.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _fatal(self, failure: Failure) -> None:
        if self._fatal_since is None:
            self._fatal_since = self._clock()
            self._fatal_failure = failure
        self._api.stop_leasing()

    def _setup_failed(self, failure: Failure, now: float) -> None:
        self._setup_failure = failure
        self._setup_failures += 1
        delay = min(SETUP_BACKOFF_MAX, float(2 ** (self._setup_failures - 1)))
        self._respawn_at = now + delay
        self._log(f"hearth: {failure.message}; starting a new worker process in {delay:g}s")

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
            with self._cv:
                self._on_message(child, message)
                self._cv.notify_all()
        code = child.proc.wait()
        with self._cv:
            child.exited = True
            child.exit_code = code
            self._cv.notify_all()

    def _on_message(self, child: ChildHandle, message: Message) -> None:
        op = message.get("op")
        if op == "ready":
            signature = message.get("signature")
            if isinstance(signature, dict):
                self._signature = signature
            child.setup_reported = True
            if child.state == SETUP:
                child.state = READY
            self._setup_failure = None
            self._setup_failures = 0
            self._last_setup_seconds = self._clock() - child.setup_started
            self._log(f"hearth: worker process {child.proc.pid} ready: setup() finished in {self._last_setup_seconds:.2f}s")
            return
        if op == "setup_progress":
            value, text = message.get("value"), message.get("message")
            if child.state != SETUP or not isinstance(value, (int, float)) or isinstance(value, bool):
                return
            child.setup_progress = (float(value), text if isinstance(text, str) else None)
            if child.setup_deadline is not None:
                child.setup_deadline.extend()
            self._setup_version += 1
            self._log(f"hearth: setup {setup_progress.describe(*child.setup_progress)}")
            return
        if op == "setup_failed":
            child.setup_reported = True
            failure = _failure(message)
            child.state = STOPPING  # it exits by itself
            if failure.type == BAD_CONFIGURATION:
                self._config_failure = failure
                self._log(f"hearth: bad configuration: {failure.message}; not taking tasks")
            elif failure.type == FATAL:
                self._log(f"hearth: FatalError during setup: {failure.message}; exiting 75 so the container restarts")
                self._fatal(failure)
            else:
                self._setup_failed(failure, self._clock())
            return

        task = self._tasks.get(str(message.get("id")))
        if task is None or task.child_gen != child.gen:
            return  # already timed out, or a leftover of a replaced process
        if op == "progress":
            task.deadline.extend()
            if not task.abandoned:
                self._post_progress(task, float(message.get("value", 0.0)), message.get("message"))
        elif op == "done":
            self._forget(task)
            if not task.abandoned:
                fields = {k: message[k] for k in ("output", "outputB64", "outputItemsB64") if k in message}
                self._submit(self._deliver_complete, task, fields)
        elif op == "failed":
            self._forget(task)
            failure = _failure(message)
            if not task.abandoned:
                self._post_fail(task, failure)
            if failure.type == FATAL:
                self._log(f"hearth: FatalError in task {task.id}: {failure.message}; exiting 75 so the container restarts")
                self._fatal(failure)
                self._kill(child)
                self._disrupt(child, "another task on this worker raised FatalError")
            elif failure.type == USER_ERROR and self._config.restart_on_error and child.state == READY:
                child.state = RETIRING

    # -- posting to the gateway ----------------------------------------------------------

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._posts_outstanding += 1

        def run() -> None:
            try:
                fn(*args)
            except Exception as err:  # a post thread must never die silently
                self._log(f"hearth: {err}")
            finally:
                with self._cv:
                    self._posts_outstanding -= 1
                    self._cv.notify_all()

        self._posts.submit(run)

    def _post_fail(self, task: Task, failure: Failure) -> None:
        self._submit(self._deliver_fail, task, failure.type, failure.exit_code, failure.message)

    def _post_progress(self, task: Task, value: float, message: Any) -> None:
        # Progress is coalesced: at most one post per task in flight, the latest value next.
        task.progress_next = (value, message if isinstance(message, str) else None)
        if not task.progress_busy:
            task.progress_busy = True
            self._submit(self._deliver_progress, task)

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

    # -- leasing and heartbeats (own threads) --------------------------------------------

    def _lease_loop(self) -> None:
        backoff = 0.5
        while True:
            with self._cv:
                while True:
                    if self._stopping:
                        return
                    free = self._free_slots()
                    if free > 0:
                        break
                    self._cv.wait()
                self._leasing = True
            try:
                tasks = self._api.lease(free, self._config.lease_wait_ms)
                backoff = 0.5
            except GatewayError as err:
                with self._cv:
                    if self._draining or self._fatal_since is not None or self._stopping:
                        self._leasing = False
                        self._cv.notify_all()
                        return
                self._log(f"hearth: lease failed: {err}; retrying in {backoff:g}s")
                with self._cv:
                    self._leasing = False
                    self._cv.notify_all()
                    if not self._wait_until(self._clock() + backoff):
                        return
                backoff = min(backoff * 2, 10.0)
                continue
            with self._cv:
                self._leasing = False
                for doc in tasks:
                    self._accept(doc)
                self._cv.notify_all()

    def _free_slots(self) -> int:
        child = self._child
        if self._draining or self._fatal_since is not None or self._config_failure is not None:
            return 0
        if child is None or child.state != READY:
            return 0
        return self._config.concurrency - len(self._tasks)

    def _accept(self, doc: Dict[str, Any]) -> None:
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
        self._tasks[task_id] = Task(
            id=task_id,
            attempt=message["attempt"],
            lease_id=lease_id,
            timeout_seconds=seconds,
            deadline=Deadline(seconds, self._clock),
            message=message,
        )

    def _wait_until(self, at: float) -> bool:
        """Sleeps until ``at`` (lock held); False when the supervisor stops first."""
        while not self._stopping:
            left = at - self._clock()
            if left <= 0:
                return True
            self._cv.wait(timeout=left)
        return False

    def _heartbeat_loop(self) -> None:
        failures = 0
        next_at = self._clock()
        sent: Optional[str] = None
        signature_known = False
        sent_version = 0
        while True:
            with self._cv:
                # Every interval, and at once when the state changes: readiness matters to
                # routing, and a failed setup to callers (the gateway refuses them).
                while not self._stopping and self._clock() < next_at and self._state()[0] == sent and self._setup_version == sent_version:
                    self._cv.wait(timeout=max(0.0, next_at - self._clock()))
                if self._stopping:
                    return
                next_at = self._clock() + self._config.heartbeat_ms / 1000
                state, ready, error = self._state()
                busy, held = len(self._tasks), list(self._tasks)
                signature = self._signature if ready and not signature_known else None
                setup, sent_version = self._setup_report(), self._setup_version
            sent = state
            try:
                cancel, signature_known = self._api.heartbeat_answer(
                    busy, ready, state, error.to_wire() if error is not None else None, held, signature, setup
                )
                with self._cv:
                    self._reported = state
                failures = 0
            except GatewayError as err:
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    self._log(f"hearth: heartbeat failed ({failures}x): {err}")
                cancel = []
            with self._cv:
                for task_id in cancel:
                    task = self._tasks.get(task_id)
                    if task is not None and not task.abandoned:
                        self._log(f"hearth: task {task_id} cancelled: its result will be dropped")
                        self._abandon(task)


def _write_termination_log(path: str, failure: Failure) -> None:
    """The kubelet shows it in the container's lastState (and the operator in status). Outside a
    pod (dev mode) there is no /dev/termination-log: write only where one exists or was asked for."""
    if path == DEFAULT_TERMINATION_LOG and not os.path.exists(path):
        return
    from .oneshot import failure_document, write_document

    write_document(path, failure_document(failure))


def _failure(message: Message) -> Failure:
    kind = message.get("type")
    text = message.get("message")
    if not isinstance(kind, str) or kind not in EXIT_CODES:
        kind = USER_ERROR
    return Failure(kind, text if isinstance(text, str) else "")


def _exit_detail(code: Optional[int]) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = ": out of memory?" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"
