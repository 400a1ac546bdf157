"""The gateway's worker API (docs/protocol.md, "Worker API"), over plain http.client.

Each thread keeps its own keep-alive connection: lease long-polls must not hold up heartbeats
or completions.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from .. import encoding as enc

REQUEST_TIMEOUT = 15.0
CONNECT_TIMEOUT = 5.0


class GatewayError(Exception):
    """The gateway could not be reached or answered with an unexpected status."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class WorkerApi:
    def __init__(self, base_url: str, token: Union[None, str, Callable[[bool], Optional[str]]], function: str, worker_id: str) -> None:
        """``token``: a fixed token, or a source that re-reads a rotating token file
        (worker_token.WorkerTokenSource: called with ``fresh``)."""
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"gateway URL must be http(s)://host[:port], got {base_url!r}")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._token: Callable[[bool], Optional[str]] = token if callable(token) else (lambda _fresh: token)
        # Set by a 401: the next request re-reads the token (the kubelet may have rotated it).
        self._token_stale = False
        self._function = function
        self._worker_id = worker_id
        self._local = threading.local()
        self._lease_lock = threading.Lock()
        self._lease_conn: Optional[http.client.HTTPConnection] = None
        self._leasing_stopped = False

    # -- the endpoints -------------------------------------------------------------------

    def lease(self, max_tasks: int, wait_ms: int) -> List[Dict[str, Any]]:
        """Long-polls for up to ``max_tasks``; :meth:`stop_leasing` cuts the wait short."""
        # "fold": this runtime folds workflow reducer batches (docs/protocol.md).
        body = {"function": self._function, "workerId": self._worker_id, "max": max_tasks, "waitMs": wait_ms, "ready": True, "fold": True}
        # A connection of its own, opened under the lock, so that stop_leasing() always has a
        # socket to cut (one TCP handshake per long-poll costs nothing next to the wait).
        with self._lease_lock:
            if self._leasing_stopped:
                raise GatewayError("leasing stopped")
            conn = self._new_connection(CONNECT_TIMEOUT)
            try:
                conn.connect()
            except OSError as err:
                conn.close()
                raise GatewayError(f"POST /v1/workers/lease: {err}") from err
            if conn.sock is not None:
                conn.sock.settimeout(wait_ms / 1000 + REQUEST_TIMEOUT)
            self._lease_conn = conn
        try:
            status, doc = self._exchange(conn, "/v1/workers/lease", body)
        except (OSError, http.client.HTTPException) as err:
            raise GatewayError(f"POST /v1/workers/lease: {err or type(err).__name__}") from err
        finally:
            with self._lease_lock:
                self._lease_conn = None
            conn.close()
        self._expect(status, doc, "lease")
        tasks = doc.get("tasks") if isinstance(doc, dict) else None
        if not isinstance(tasks, list):
            raise GatewayError(f"lease response has no tasks list: {doc!r}"[:500], status)
        return [t for t in tasks if isinstance(t, dict)]

    def stop_leasing(self) -> None:
        """Aborts a lease long-poll in flight (from another thread) and refuses new ones:
        draining must not wait for the poll. Tasks in an answer never read are re-queued by the
        gateway: heartbeats list the tasks this worker really holds."""
        with self._lease_lock:
            self._leasing_stopped = True
            conn = self._lease_conn
            if conn is not None and conn.sock is not None:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def heartbeat(
        self,
        busy: int,
        ready: bool,
        state: str,
        error: Optional[Dict[str, str]],
        tasks: List[str],
        setup: Optional[Dict[str, Any]] = None,
    ) -> List[str]:
        return self.heartbeat_answer(busy, ready, state, error, tasks, None, setup)[0]

    def heartbeat_answer(
        self,
        busy: int,
        ready: bool,
        state: str,
        error: Optional[Dict[str, str]],
        tasks: List[str],
        signature: Optional[Dict[str, Any]] = None,
        setup: Optional[Dict[str, Any]] = None,
    ) -> "tuple[List[str], bool]":
        """(tasks to cancel, whether the gateway knows this Function's signature). ``signature``
        is sent until the gateway says it knows it; ``setup`` is what setup() is doing / took."""
        body: Dict[str, Any] = {
            "function": self._function,
            "workerId": self._worker_id,
            "busy": busy,
            "ready": ready,
            "state": state,
            "tasks": tasks,
        }
        if error is not None:
            body["error"] = error
        if signature is not None:
            body["signature"] = signature
        if setup is not None:
            body["setup"] = setup
        status, doc = self._post("/v1/workers/heartbeat", body)
        self._expect(status, doc, "heartbeat")
        cancel = doc.get("cancel") if isinstance(doc, dict) else None
        known = isinstance(doc, dict) and doc.get("signatureKnown") is True
        return ([str(c) for c in cancel] if isinstance(cancel, list) else []), known

    def progress(self, task_id: str, lease_id: str, value: float, message: Optional[str]) -> bool:
        """False when the lease is no longer held (the task was cancelled or expired)."""
        body: Dict[str, Any] = {"leaseId": lease_id, "value": value}
        if message is not None:
            body["message"] = message
        return self._task_post(task_id, "progress", body)

    def complete(self, task_id: str, lease_id: str, fields: Dict[str, Any]) -> bool:
        """False when the lease was lost and the result dropped."""
        return self._task_post(task_id, "complete", {"leaseId": lease_id, **fields})

    def fail(self, task_id: str, lease_id: str, exit_code: Optional[int], error_type: str, message: str) -> bool:
        """``exit_code`` None for classes no process exits with (``Disrupted``)."""
        body: Dict[str, Any] = {"leaseId": lease_id, "type": error_type, "message": message}
        if exit_code is not None:
            body["exitCode"] = exit_code
        return self._task_post(task_id, "fail", body)

    def task_call(self, task_id: str, action: str, body: Dict[str, Any]) -> Tuple[int, Any]:
        """``POST /v1/tasks/{id}/{action}``: the status and parsed body, whatever the status."""
        return self._post(f"/v1/tasks/{urllib.parse.quote(task_id, safe='')}/{action}", body)

    # -- plumbing ------------------------------------------------------------------------

    def _task_post(self, task_id: str, action: str, body: Dict[str, Any]) -> bool:
        path = f"/v1/tasks/{urllib.parse.quote(task_id, safe='')}/{action}"
        status, doc = self._post(path, body)
        if status == 409:
            return False
        self._expect(status, doc, action)
        return True

    @staticmethod
    def _expect(status: int, doc: Any, what: str) -> None:
        if 200 <= status < 300:
            return
        detail = doc.get("error") if isinstance(doc, dict) else None
        message = detail.get("message") if isinstance(detail, dict) else None
        raise GatewayError(f"{what}: gateway answered {status}: {message or doc!r}"[:1000], status)

    def _new_connection(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=timeout)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn: Optional[http.client.HTTPConnection] = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection(timeout)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop_connection(self) -> None:
        conn: Optional[http.client.HTTPConnection] = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def _exchange(self, conn: http.client.HTTPConnection, path: str, body: Dict[str, Any]) -> Tuple[int, Any]:
        status, raw, _ = self._send(conn, path, body)
        return status, _parse(raw)

    def token(self, fresh: bool = False) -> Optional[str]:
        """The credential to send now (re-read after a 401, or when ``fresh``)."""
        stale, self._token_stale = self._token_stale, False
        return self._token(fresh or stale)

    def _send(self, conn: http.client.HTTPConnection, path: str, body: Dict[str, Any]) -> Tuple[int, bytes, bool]:
        headers = {"Content-Type": "application/json"}
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("POST", self._prefix + path, body=enc.json_dumps(body).encode("utf-8"), headers=headers)
        response = conn.getresponse()
        if response.status == 401:
            self._token_stale = True
        return response.status, response.read(), response.will_close

    def _post(self, path: str, body: Dict[str, Any], timeout: float = REQUEST_TIMEOUT) -> Tuple[int, Any]:
        # One silent retry, only for a keep-alive connection the server closed while idle: the
        # request never reached it, so repeating it cannot record anything twice.
        for attempt in (1, 2):
            conn = self._connection(timeout)
            reused = conn.sock is not None
            try:
                status, raw, will_close = self._send(conn, path, body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self._drop_connection()
                if reused and attempt == 1:
                    continue
                raise GatewayError(f"POST {path}: {err or type(err).__name__}") from err
            except (OSError, http.client.HTTPException) as err:
                self._drop_connection()
                raise GatewayError(f"POST {path}: {err or type(err).__name__}") from err
            if will_close:
                self._drop_connection()
            if status == 401 and attempt == 1 and self._token_stale:
                # Refused before the body was read: once more with a fresh read of the token file.
                continue
            return status, _parse(raw)
        raise AssertionError("unreachable")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw[:500].decode("utf-8", "replace")
