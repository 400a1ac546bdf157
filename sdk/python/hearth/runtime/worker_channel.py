"""The worker's end of the worker channel (docs/protocol.md, "Worker channel"): one long-lived
``POST /v1/workers/channel`` whose chunked request body carries credits (``{"want":n}``),
results (``{"results":[…]}``) and ``{"stop":true}`` up, and whose response carries leases
(``{"tasks":[…]}``), acknowledgements (``{"results":[{"id","status"}]}``), ``{"error":…}`` and
``{"end":true}`` down, one JSON object a line.

Standard library only: http.client sends the request head and reads the response; the body's
chunks go straight to the socket from a writer thread (lines queued while it writes leave as one
chunk), and a reader thread reads the response line by line. Plain http only (an https gateway
is served by lease/results requests).
"""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Tuple

from .. import encoding as enc
from .worker_api import GatewayError

CONNECT_TIMEOUT = 10.0


class Unsupported(Exception):
    """The gateway has no worker channel (404/405): lease with requests."""


# -- the pure parts ---------------------------------------------------------------------------


@dataclass
class Down:
    """What one line of the gateway's side says; unknown fields are ignored."""

    tasks: List[Dict[str, Any]] = field(default_factory=list)
    acks: List[Tuple[str, int, Optional[str]]] = field(default_factory=list)
    end: bool = False
    error: Optional[str] = None
    stopped: bool = False  # the gateway's answer to our stop: every grant it wrote came before


def parse_line(line: bytes) -> Optional[Down]:
    """One line of the response; None when it is blank or not a JSON object."""
    if not line.strip():
        return None
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    down = Down()
    tasks = doc.get("tasks")
    if isinstance(tasks, list):
        down.tasks = [t for t in tasks if isinstance(t, dict)]
    acks = doc.get("results")
    if isinstance(acks, list):
        for a in acks:
            if not isinstance(a, dict):
                continue
            task_id, status, message = a.get("id"), a.get("status"), a.get("message")
            if isinstance(task_id, str) and isinstance(status, int) and not isinstance(status, bool):
                down.acks.append((task_id, status, message if isinstance(message, str) else None))
    down.end = doc.get("end") is True
    down.stopped = doc.get("stopped") is True
    error = doc.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        down.error = message if isinstance(message, str) else "worker channel error"
    return down


class Credit:
    """The credit given on one channel: the gateway never grants more than this many tasks.
    Credit follows the free slots: what a lease's ``max`` would have been."""

    def __init__(self) -> None:
        self.given = 0

    def top_up(self, free: int) -> int:
        """The ``want`` to send so that the credit equals ``free`` (0: send nothing)."""
        delta = free - self.given
        self.given = max(0, self.given + delta)
        return delta

    def granted(self, n: int) -> None:
        self.given = max(0, self.given - n)


@dataclass
class Report:
    """One outcome (an item as in ``/v1/workers/results``) until the gateway answers it."""

    id: str
    item: Dict[str, Any]
    context: Any = None  # the reporter's (its task)
    tries: int = 0


def want_line(delta: int) -> bytes:
    return b'{"want":%d}' % delta


STOP_LINE = b'{"stop":true}'


def results_line(reports: List[Report]) -> bytes:
    return enc.json_dumps({"results": [r.item for r in reports]}).encode("utf-8")


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked request body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


# -- the connection ---------------------------------------------------------------------------


class Events(Protocol):
    """Called from the channel's reader thread, without any lock of the channel held."""

    def tasks(self, channel: "WorkerChannel", docs: List[Dict[str, Any]]) -> None: ...

    def acked(self, report: Report, status: int, message: Optional[str]) -> None: ...

    def returned(self, reports: List[Report]) -> None:
        """Reports the gateway did not answer (the channel broke, or it could not take them):
        to be sent again."""
        ...

    def changed(self, channel: "WorkerChannel") -> None:
        """The channel ended (``{"end":true}``) or closed: it takes no more lines."""
        ...


class WorkerChannel:
    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse, events: Events) -> None:
        self._conn = conn
        self._response = response
        self._events = events
        sock = conn.sock
        assert sock is not None
        self._sock: socket.socket = sock
        self._lock = threading.Lock()
        # Held while taking queued lines and writing them: the writer thread or a flush().
        self._write_lock = threading.Lock()
        self._open = True  # lines may be sent
        self._closed = False  # the response ended or broke
        self._pending: Dict[str, Report] = {}
        self._lines: List[bytes] = []
        self._results: List[Report] = []
        self._wake: "queue.SimpleQueue[bool]" = queue.SimpleQueue()
        self._ending = False
        self._last_sent = False  # the last chunk went out: no more writes
        self.stop_answered = False  # the gateway answered our stop: no grant can follow
        self.credit = Credit()

    @staticmethod
    def open(base_url: str, token: Optional[str], function: str, worker_id: str, events: Events) -> "WorkerChannel":
        """Opens a channel (the gateway answers its head at once). Raises Unsupported (an older
        gateway, or https) or GatewayError."""
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise Unsupported(f"the worker channel needs an http:// gateway URL, not {base_url!r}")
        query = urllib.parse.urlencode({"function": function, "workerId": worker_id, "fold": "1"})
        # fold=1: this runtime folds workflow reducer batches (docs/protocol.md, lease `fold`).
        path = f"{parsed.path.rstrip('/')}/v1/workers/channel?{query}"
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=CONNECT_TIMEOUT)
        try:
            conn.putrequest("POST", path, skip_accept_encoding=True)
            conn.putheader("Content-Type", "application/x-ndjson")
            conn.putheader("Transfer-Encoding", "chunked")
            if token:
                conn.putheader("Authorization", f"Bearer {token}")
            conn.endheaders()
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise GatewayError(f"POST /v1/workers/channel: {err or type(err).__name__}") from err
        if response.status != 200:
            try:
                body = response.read(2000).decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                body = ""
            conn.close()
            if response.status in (404, 405):
                raise Unsupported(f"HTTP {response.status}")
            raise GatewayError(f"worker channel refused: HTTP {response.status}: {body[:500]}", response.status)
        if conn.sock is not None:
            conn.sock.settimeout(None)  # a lease may take long: the gateway ends idle channels itself
        return WorkerChannel(conn, response, events)

    def start(self) -> None:
        threading.Thread(target=self._read, name="hearth-channel-read", daemon=True).start()
        threading.Thread(target=self._write, name="hearth-channel-write", daemon=True).start()

    @property
    def writable(self) -> bool:
        """Lines can be sent (neither side ended it)."""
        return self._open

    @property
    def closed(self) -> bool:
        return self._closed

    def want(self, delta: int, wake: bool = True) -> None:
        if delta != 0:
            self._queue_line(want_line(delta), wake)

    def stop(self) -> None:
        """No more tasks on this channel (draining, fatal); results may still be sent."""
        self._queue_line(STOP_LINE)

    def send_results(self, reports: List[Report], wake: bool = True) -> bool:
        """Queues outcomes; each is answered through ``events.acked`` or handed back through
        ``events.returned``. False (nothing taken) when the channel takes no more lines.
        ``wake=False``: the caller will ``flush()`` them itself."""
        with self._lock:
            if not self._open:
                return False
            for r in reports:
                self._pending[r.id] = r
            self._results.extend(reports)
        if wake:
            self._wake.put(True)
        return True

    def flush(self) -> None:
        """Writes what is queued from the calling thread (one chunk), instead of waking the
        writer thread. Never call it with the worker's lock held: the write may block."""
        with self._write_lock:
            if not self._send_queued():
                self._shutdown()  # the reader sees the end and hands the reports back

    def close(self) -> None:
        """Ends our side; acknowledgements still due arrive before the gateway ends its side."""
        with self._lock:
            self._open = False
            self._ending = True
        self._wake.put(True)

    def abort(self) -> None:
        """Hangs up at once."""
        with self._lock:
            self._open = False
        self._shutdown()

    # -- threads ------------------------------------------------------------------------

    def _queue_line(self, line: bytes, wake: bool = True) -> None:
        with self._lock:
            if not self._open:
                return
            self._lines.append(line)
        if wake:
            self._wake.put(True)

    def _send_queued(self, last: bool = False) -> bool:
        """Writes the queued lines as one chunk (``last``: then the last chunk, if the channel is
        ending). Write lock held. False when the socket failed."""
        if self._last_sent:
            return True
        with self._lock:
            lines, self._lines = self._lines, []
            results, self._results = self._results, []
            ending = self._ending and last
        if results:
            lines.append(results_line(results))
        try:
            if lines:
                self._sock.sendall(chunk(b"\n".join(lines) + b"\n"))
            if ending:
                self._sock.sendall(LAST_CHUNK)
                self._last_sent = True
        except OSError:
            return False
        return True

    def _write(self) -> None:
        while True:
            self._wake.get()
            with self._write_lock:
                if not self._send_queued(last=True):
                    self._shutdown()  # the reader sees the end and hands the reports back
                    return
                if self._last_sent:
                    return

    def _read(self) -> None:
        try:
            while True:
                line = self._response.readline()
                if not line:
                    break
                down = parse_line(line)
                if down is not None:
                    self._on_down(down)
        except (OSError, ValueError, http.client.HTTPException):
            pass
        with self._lock:
            self._open = False
            self._closed = True
            left = list(self._pending.values())
            self._pending.clear()
            self._ending = True
        self._wake.put(True)  # the writer exits
        self._shutdown()
        self._conn.close()
        if left:
            self._events.returned(left)
        self._events.changed(self)

    def _on_down(self, down: Down) -> None:
        if down.tasks:
            self._events.tasks(self, down.tasks)
        for task_id, status, message in down.acks:
            with self._lock:
                report = self._pending.pop(task_id, None)
            if report is not None:
                self._events.acked(report, status, message)
        if down.error is not None:
            # A results line the gateway could not take (its store failed): send them again.
            with self._lock:
                left = list(self._pending.values())
                self._pending.clear()
            if left:
                self._events.returned(left)
        if down.stopped:
            self.stop_answered = True
            self._events.changed(self)
        if down.end:
            self.close()
            self._events.changed(self)

    def _shutdown(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def report_item(task_id: str, lease_id: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    """An outcome as a results item: ``fields`` are the output fields or ``{"error": …}``."""
    return {"id": task_id, "leaseId": lease_id, **fields}


def error_fields(error_type: str, exit_code: Optional[int], message: str) -> Dict[str, Any]:
    error: Dict[str, Any] = {"type": error_type, "message": message}
    if exit_code is not None:
        error["exitCode"] = exit_code
    return {"error": error}
