"""The warm worker (PID 1 of a worker pod): the loop that leases tasks from the gateway and hands
them to the supervisor (supervisor.py), heartbeats, the probes, and draining on SIGTERM (no new
leases, finish the tasks held, exit 0). Outcomes go back through the reporter (reporter.py).

Leasing is the worker channel (worker_channel.py, docs/protocol.md): one long-lived request
whose credit follows the supervisor's free slots; a new one when the gateway ends it or it
breaks. A gateway without it (404), an https gateway, or ``HEARTH_WORKER_CHANNEL=off``: lease
long-polls instead.

Threads: the main thread runs the control loop (``Supervisor.step``); one thread each for
leasing (the channel's credit) and heartbeats, the probes' server, a reader per child, a reader
and a writer per channel, and the reporter's post pool. All of them share one condition
variable (reentrant, because the SIGTERM handler runs on the main thread).

The hot path hands nothing from thread to thread: the channel's reader thread hands a leased task
to the child itself, and the child's reader thread writes its outcome — with the credit the free
slot gives back — to the channel itself once it has released the lock. A routine outcome wakes no
other thread; state changes (ready, draining, fatal, a child to retire, a deadline sooner than the
control loop's next step) still wake them all. A sequential run() costs the supervisor about 3
context switches instead of about 20 (bench/invoke-python).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable, Dict, List, Optional

from ..errors import BAD_CONFIGURATION, EXIT_CODES
from .child_process import ChildHandle, spawn_child
from .config import DEFAULT_TERMINATION_LOG, WorkerConfig
from .deadline import Clock
from .health import HealthServer
from .outcome import Failure
from .reporter import Reporter
from .supervisor import Log, Supervisor
from .worker_api import GatewayError, WorkerApi
from .worker_channel import Report, Unsupported, WorkerChannel


# A drain waits at most this long for the gateway to answer the channel's stop (grants in flight).
STOP_ANSWER_WAIT_SECONDS = 2.0


class WarmWorker:
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
        self._cv = threading.Condition(threading.RLock())
        self._leasing = False
        self._leasing_stopped = False
        self._channel: Optional[WorkerChannel] = None
        self._stop_wait_until = 0.0  # stop(): how long a drain waits for the gateway's answer
        self._reports = Reporter(
            api, self._cv, config.concurrency, clock, log, abandon=lambda task: self.supervisor.abandon(task), channel=config.worker_channel
        )
        self.supervisor = Supervisor(config, self._cv, self._reports, self, clock, log, spawn)

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> int:
        sup = self.supervisor
        health: Optional[HealthServer] = None
        if self._config.health_port:
            try:
                health = HealthServer(self._config.health_host, self._config.health_port, sup.readiness, sup.started)
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
        lease_loop = self._channel_loop if self._config.worker_channel else self._lease_loop
        threads = [
            threading.Thread(target=lease_loop, name="hearth-lease", daemon=True),
            threading.Thread(target=self._heartbeat_loop, name="hearth-heartbeat", daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            with self._cv:
                while sup.exit_code is None:
                    now = self._clock()
                    wake = sup.step(now)
                    if sup.exit_code is None:
                        sup.next_step_at = now + wake
                        self._cv.wait(timeout=wake)
                code = sup.exit_code
                sup.stopping = True
                self._cv.notify_all()
                child = sup.child
                state, ready, error = sup.state()
                busy, held = len(sup.tasks), list(sup.tasks)
                setup = sup.setup_report()
        finally:
            if health is not None:
                health.stop()
        if child is not None and not child.exited:
            sup.kill(child)
        self.stop()
        channel = self._channel
        if channel is not None:
            channel.close()
        try:
            # Tell the gateway now rather than after its worker timeout.
            self._api.heartbeat(busy, ready, state, error.to_wire() if error is not None else None, held, setup)
        except GatewayError:
            pass
        if sup.setup_timeout is not None:
            _write_termination_log(self._config.termination_log, sup.setup_timeout)
        self._reports.shutdown()
        self._log(f"hearth: worker {self._config.worker_id} exiting with {code}")
        return code

    def drain(self) -> None:
        """Stop taking tasks, finish the ones held, then exit 0."""
        with self._cv:
            if self.supervisor.begin_drain():
                self._log("hearth: draining: no new leases; finishing tasks in flight")
        # A lease long-poll in flight would hold the drain for up to its wait; the heartbeat's
        # task list lets the gateway re-queue anything leased in an answer we never read.
        self.stop()

    def _on_signal(self, signum: int, _frame: Optional[FrameType]) -> None:
        with self._cv:
            if self.supervisor.draining:
                self._log(f"hearth: second signal {signum}: exiting now")
                self.supervisor.exit_code = 128 + signum
                self._cv.notify_all()
                return
        self.drain()

    # -- supervisor.Leases ---------------------------------------------------------------

    def stop(self) -> None:
        with self._cv:
            self._leasing_stopped = True
            channel = self._channel
            if channel is not None:
                # Results still go over it. A grant the gateway wrote before it read the stop still
                # arrives and runs: busy() holds the drain until the gateway answers the stop
                # (``{"stopped":true}``, after every grant) or the channel closes.
                channel.stop()
                self._stop_wait_until = self._clock() + STOP_ANSWER_WAIT_SECONDS
            self._reports.use_requests()
            self._cv.notify_all()
        self._api.stop_leasing()

    def busy(self) -> bool:
        """A lease request is in flight, or a stopped channel may still bring grants (an older
        gateway never answers the stop: then the wait is bounded)."""
        if self._leasing:
            return True
        channel = self._channel
        return channel is not None and not channel.closed and not channel.stop_answered and self._clock() < self._stop_wait_until

    def top_up(self) -> bool:
        channel = self._channel
        if channel is None or not channel.writable or self.supervisor.stopping or self._leasing_stopped:
            return False
        delta = channel.credit.top_up(self.supervisor.free_slots())
        if delta != 0:
            channel.want(delta, wake=not self._reports.defer(channel))
        return True

    # -- the worker channel (worker_channel.Events, from a channel's reader thread) -------

    def tasks(self, channel: WorkerChannel, docs: List[Dict[str, Any]]) -> None:
        with self._cv:
            channel.credit.granted(len(docs))
            for doc in docs:
                self.supervisor.accept(doc)
            # This thread hands them to the child: no wake-up of the control loop on the way,
            # unless a deadline comes before its next step.
            self.supervisor.dispatch()
            if self.supervisor.wants_step():
                self._cv.notify_all()

    def acked(self, report: Report, status: int, message: Optional[str]) -> None:
        self._reports.acked(report, status, message)

    def returned(self, reports: List[Report]) -> None:
        self._reports.returned(reports)

    def changed(self, channel: WorkerChannel) -> None:
        with self._cv:
            self._cv.notify_all()

    def _channel_loop(self) -> None:
        """One channel after another until leasing stops; its credit follows the free slots."""
        sup = self.supervisor
        backoff = 0.1
        while True:
            with self._cv:
                if sup.stopping or self._leasing_stopped:
                    return
            try:
                channel = WorkerChannel.open(
                    # A fresh read of the token file per channel: the kubelet rotates it.
                    self._config.gateway_url or "", self._api.token(fresh=True), self._config.function, self._config.worker_id, self
                )
            except Unsupported as why:
                self._log(f"hearth: the gateway has no worker channel ({why}); leasing with requests")
                with self._cv:
                    self._reports.use_requests()
                self._lease_loop()
                return
            except GatewayError as err:
                self._log(f"hearth: worker channel failed: {err}; retrying in {backoff:g}s")
                with self._cv:
                    if not sup.wait_until(self._clock() + backoff):
                        return
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            with self._cv:
                previous, self._channel = self._channel, channel
                if previous is not None:
                    self._reports.detach(previous)
                self._reports.attach(channel)
                channel.start()
                if self._leasing_stopped:  # stop() came while it was opening: as stop() does
                    channel.stop()
                    self._stop_wait_until = self._clock() + STOP_ANSWER_WAIT_SECONDS
                while channel.writable and not sup.stopping and not self._leasing_stopped:
                    delta = channel.credit.top_up(sup.free_slots())
                    if delta != 0:
                        channel.want(delta)
                    self._cv.wait()
                if not self._leasing_stopped:
                    self._reports.detach(channel)

    # -- leasing and heartbeats (own threads) --------------------------------------------

    def _lease_loop(self) -> None:
        sup = self.supervisor
        backoff = 0.5
        while True:
            with self._cv:
                while True:
                    if sup.stopping:
                        return
                    free = sup.free_slots()
                    if free > 0:
                        break
                    self._cv.wait()
                self._leasing = True
            try:
                tasks = self._api.lease(free, self._config.lease_wait_ms)
                backoff = 0.5
            except GatewayError as err:
                with self._cv:
                    if sup.draining or sup.fatal_since is not None or sup.stopping:
                        self._leasing = False
                        self._cv.notify_all()
                        return
                self._log(f"hearth: lease failed: {err}; retrying in {backoff:g}s")
                with self._cv:
                    self._leasing = False
                    self._cv.notify_all()
                    if not sup.wait_until(self._clock() + backoff):
                        return
                backoff = min(backoff * 2, 10.0)
                continue
            with self._cv:
                self._leasing = False
                for doc in tasks:
                    sup.accept(doc)
                self._cv.notify_all()

    def _heartbeat_loop(self) -> None:
        sup = self.supervisor
        failures = 0
        next_at = self._clock()
        sent: Optional[str] = None
        signature_known = False
        sent_version = 0
        while True:
            with self._cv:
                # Every interval, and at once when the state changes: readiness matters to
                # routing, and a failed setup to callers (the gateway refuses them).
                while not sup.stopping and self._clock() < next_at and sup.state()[0] == sent and sup.setup_version == sent_version:
                    self._cv.wait(timeout=max(0.0, next_at - self._clock()))
                if sup.stopping:
                    return
                next_at = self._clock() + self._config.heartbeat_ms / 1000
                state, ready, error = sup.state()
                busy, held = len(sup.tasks), list(sup.tasks)
                signature = sup.signature if ready and not signature_known else None
                setup, sent_version = sup.setup_report(), sup.setup_version
            sent = state
            try:
                cancel, signature_known = self._api.heartbeat_answer(
                    busy, ready, state, error.to_wire() if error is not None else None, held, signature, setup
                )
                with self._cv:
                    sup.reported = state
                failures = 0
            except GatewayError as err:
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    self._log(f"hearth: heartbeat failed ({failures}x): {err}")
                cancel = []
            with self._cv:
                for task_id in cancel:
                    task = sup.tasks.get(task_id)
                    if task is not None and not task.abandoned:
                        self._log(f"hearth: task {task_id} cancelled: its result will be dropped")
                        sup.abandon(task)


def _write_termination_log(path: str, failure: Failure) -> None:
    """The kubelet shows it in the container's lastState (and the operator in status). Outside a
    pod (dev mode) there is no /dev/termination-log: write only where one exists or was asked for."""
    if path == DEFAULT_TERMINATION_LOG and not os.path.exists(path):
        return
    from .oneshot import failure_document, write_document

    write_document(path, failure_document(failure))
