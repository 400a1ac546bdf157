"""Oneshot mode for an isolated call (``HEARTH_TASK_ID``, docs/protocol.md "Isolated calls"):
the input is claimed from the gateway task and the output posted back to it, so neither is
bounded by a pod annotation or the kubelet's 4 KiB termination message. Failures are not posted:
the exit code goes through the batch Job's podFailurePolicy and the gateway reads the verdict."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple, Union

from .. import encoding as enc
from ..errors import BAD_CONFIGURATION, FATAL, TERMINATION_LOG_LIMIT
from .config import WorkerConfig
from .oneshot import TaskCall, failure_document, success_document
from .outcome import Failure
from .worker_api import GatewayError, WorkerApi


def delivered_document(task_id: str, fields: Dict[str, Any]) -> bytes:
    """The termination message of a delivered output: the output itself if it fits, else where it is."""
    inline = enc.json_dumps(fields).encode("utf-8")
    if len(inline) <= TERMINATION_LOG_LIMIT:
        return inline
    return enc.json_dumps({"outputRef": {"kind": "Task", "name": task_id}}).encode("utf-8")


def _message(doc: Any, status: int) -> str:
    detail = doc.get("error") if isinstance(doc, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else None
    return str(message) if message else f"HTTP {status}"


class Ended(Exception):
    """The task needs no run (cancelled, or finished by an earlier attempt)."""


class GatewayTask(TaskCall):
    def __init__(
        self,
        config: WorkerConfig,
        log: Callable[[str], None],
        patience: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        assert config.task_id is not None and config.gateway_url is not None
        self._task_id = config.task_id
        self._gateway = config.gateway_url
        self._worker_id = config.worker_id
        self._encoding = config.encoding
        self._api = WorkerApi(config.gateway_url, config.task_token, config.function, config.worker_id)
        self._log = log
        self._patience = patience
        self._sleep = sleep
        self._grant: Optional[Dict[str, Any]] = None
        # Progress goes out on its own connection from one thread at a time; the latest update wins.
        self._progress_api = WorkerApi(config.gateway_url, config.task_token, config.function, config.worker_id)
        self._progress_lock = threading.Lock()
        self._progress_next: Optional[Tuple[float, Optional[str]]] = None
        self._progress_thread: Optional[threading.Thread] = None

    def _post(self, action: str, body: Dict[str, Any]) -> Union[Tuple[int, Any], str]:
        """Retries network errors and 5xx within the patience; returns (status, doc) or the last error."""
        deadline = time.monotonic() + self._patience
        wait = 0.25
        while True:
            try:
                status, doc = self._api.task_call(self._task_id, action, body)
                if status < 500:
                    return status, doc
                last: Union[Tuple[int, Any], str] = (status, doc)
            except GatewayError as err:
                last = str(err)
            if time.monotonic() + wait > deadline:
                return last
            self._log(f"hearth: gateway {action} failed ({last if isinstance(last, str) else 'HTTP %d' % last[0]}); retrying in {wait:g}s")
            self._sleep(wait)
            wait = min(wait * 2, 5.0)

    def claim(self) -> Optional[Failure]:
        """None once claimed; a Failure when the attempt cannot start. Raises Ended."""
        answer = self._post("claim", {"workerId": self._worker_id})
        if isinstance(answer, str):
            return Failure(FATAL, f"cannot reach the gateway at {self._gateway} to claim task {self._task_id}: {answer}")
        status, doc = answer
        if status == 200 and isinstance(doc, dict) and isinstance(doc.get("leaseId"), str):
            self._grant = doc
            return None
        if status == 409:
            raise Ended(_message(doc, status))
        if status >= 500:
            return Failure(FATAL, f"the gateway could not hand out task {self._task_id}: {_message(doc, status)}")
        return Failure(BAD_CONFIGURATION, f"the gateway refused the claim of task {self._task_id} ({status}): {_message(doc, status)}")

    def input(self) -> Any:
        grant = self._grant or {}
        if self._encoding == enc.PICKLE:
            return enc.pickle_loads(enc.b64_decode(str(grant.get("inputB64", ""))))
        return grant.get("input")

    def progress(self, value: float, message: Optional[str]) -> None:
        """Posts ctx.progress to the task, like a warm worker: one try per update, in the background."""
        with self._progress_lock:
            self._progress_next = (value, message)
            if self._progress_thread is not None:
                return
            self._progress_thread = threading.Thread(target=self._pump_progress, name="hearth-progress", daemon=True)
            self._progress_thread.start()

    def _pump_progress(self) -> None:
        lease_id = str((self._grant or {}).get("leaseId", ""))
        while True:
            with self._progress_lock:
                nxt = self._progress_next
                self._progress_next = None
                if nxt is None:
                    self._progress_thread = None
                    return
            body: Dict[str, Any] = {"leaseId": lease_id, "value": nxt[0]}
            if nxt[1] is not None:
                body["message"] = nxt[1]
            try:
                status, doc = self._progress_api.task_call(self._task_id, "progress", body)
                if status != 200:
                    self._log(f"hearth: progress not taken ({_message(doc, status)})")
            except GatewayError as err:
                self._log(f"hearth: cannot post progress: {err}")

    def _wait_progress(self, timeout: float = 5.0) -> None:
        """The last progress goes out before the result (a caller's events stay in order), briefly."""
        with self._progress_lock:
            thread = self._progress_thread
        if thread is not None:
            thread.join(timeout)

    def deliver(self, fields: Dict[str, Any]) -> Tuple[bytes, int]:
        self._wait_progress()
        lease_id = str((self._grant or {}).get("leaseId", ""))
        answer = self._post("complete", {"leaseId": lease_id, **fields})
        if isinstance(answer, tuple):
            status, doc = answer
            if status == 200:
                return delivered_document(self._task_id, fields), 0
            if status == 409:
                # Cancelled, or a newer attempt holds the task: the gateway has what it needs.
                self._log(f"hearth: the gateway did not take the output: {_message(doc, status)}")
                return enc.json_dumps({"outputRef": {"kind": "Task", "name": self._task_id}}).encode("utf-8"), 0
            if status == 413:
                failure = Failure(BAD_CONFIGURATION, f"the gateway refused the output: {_message(doc, status)}")
                return failure_document(failure), failure.exit_code
        # Unreachable or failing: the termination message is the fallback, within its 4 KiB.
        self._log(f"hearth: cannot post the output to the gateway ({answer if isinstance(answer, str) else 'HTTP %d' % answer[0]}); falling back to the termination message")
        return success_document(fields)

    def identity(self) -> Tuple[str, Optional[str]]:
        token = (self._grant or {}).get("token")
        return self._task_id, token if isinstance(token, str) else None

    def ended_document(self) -> bytes:
        return enc.json_dumps({"outputRef": {"kind": "Task", "name": self._task_id}}).encode("utf-8")
