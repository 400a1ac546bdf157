"""The Python client: call Functions through the gateway's caller API (docs/protocol.md).

``run()`` blocks and returns the output; ``push()`` returns a :class:`Task`, a future whose
``result()`` waits, whose ``progress()`` streams progress, and whose errors carry the task's
exit-code class. Configuration comes from arguments or the environment: ``HEARTH_URL`` (the
gateway, e.g. ``http://hearth-gateway.hearth-system:8080``; default ``http://127.0.0.1:8080``),
``HEARTH_TOKEN`` (a caller token) and ``HEARTH_NAMESPACE`` (for Function references without a
namespace; default ``default``).
"""

from __future__ import annotations

import os
import socket
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from .. import encoding as enc
from . import sse
from .errors import (
    GatewayUnavailableError,
    HearthError,
    TaskCancelledError,
    TaskTimeoutError,
    from_error_body,
)
from .transport import Response, Transport

__all__ = ["Client", "Function", "Progress", "Run", "StepItem", "Task", "TaskEvent", "Workflow", "function", "workflow"]

#: How long one blocking request may wait at the gateway before the client asks again. Short
#: enough that proxies and load balancers never cut the connection.
POLL_SECONDS = 30.0
#: Socket read timeout on top of the wait the gateway was asked for.
SLACK_SECONDS = 30.0
TERMINAL = ("succeeded", "failed", "cancelled")
#: Where ``hearth dev`` and a port-forwarded gateway listen (the TypeScript client's default too).
DEFAULT_URL = "http://127.0.0.1:8080"
#: Inputs per ``:pushMany`` request of ``map()``.
MAP_BATCH = 5000


@dataclass(frozen=True)
class Progress:
    value: float
    message: Optional[str]


@dataclass(frozen=True)
class TaskEvent:
    """One event of a task's stream: ``progress``, ``status`` or ``done``."""

    event: str
    data: Any


def _seconds(value: float) -> str:
    return f"{max(0.001, value):.3f}".rstrip("0").rstrip(".") + "s"


def _pack(args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The wire input for a call: an array for positional arguments, an object for keywords."""
    if args and kwargs:
        raise TypeError("pass a Function's inputs by position or by name, not both: the call carries an array or an object")
    return dict(kwargs) if kwargs else list(args)


class Client:
    """A connection to one gateway. Thread-safe; cheap to create."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *, env: Optional[Mapping[str, str]] = None) -> None:
        environ = os.environ if env is None else env
        # HEARTH_GATEWAY_URL: handler code calling another Function from inside a worker pod.
        url = url or environ.get("HEARTH_URL") or environ.get("HEARTH_GATEWAY_URL") or DEFAULT_URL
        self._transport = Transport(url, token if token is not None else environ.get("HEARTH_TOKEN") or None)
        self._namespace = environ.get("HEARTH_NAMESPACE") or "default"

    @property
    def url(self) -> str:
        return self._transport.base_url

    def function(self, ref: str, *, encoding: str = enc.JSON, timeout: Optional[float] = None) -> "Function":
        """``ref`` is ``"namespace/name"`` or ``"name"``. ``timeout`` (seconds) bounds how long
        ``run()`` and ``result()`` wait; None waits as long as the task takes."""
        namespace, sep, name = ref.partition("/")
        if not sep:
            namespace, name = self._namespace, ref
        if not namespace or not name or "/" in name:
            raise ValueError(f'a Function reference is "namespace/name" or "name", got {ref!r}')
        if encoding not in enc.ENCODINGS:
            raise ValueError(f"encoding must be json or pickle, got {encoding!r}")
        return Function(self._transport, namespace, name, encoding, timeout)

    def task(self, task_id: str, *, encoding: str = enc.JSON, timeout: Optional[float] = None) -> "Task":
        """A handle on an existing task, e.g. one pushed by another process."""
        return Task(self._transport, task_id, encoding, timeout)

    def workflow(self, ref: str, *, encoding: str = enc.JSON, timeout: Optional[float] = None) -> "Workflow":
        """A Workflow (docs/workflows.md): ``run()`` blocks for the run's output, ``push()`` returns
        a :class:`Run` whose ``step(name)`` lists each step's outputs."""
        namespace, sep, name = ref.partition("/")
        if not sep:
            namespace, name = self._namespace, ref
        if not namespace or not name or "/" in name:
            raise ValueError(f'a Workflow reference is "namespace/name" or "name", got {ref!r}')
        if encoding not in enc.ENCODINGS:
            raise ValueError(f"encoding must be json or pickle, got {encoding!r}")
        return Workflow(self._transport, namespace, name, encoding, timeout)

    def workflow_run(self, run_id: str, *, timeout: Optional[float] = None) -> "Run":
        """A handle on an existing workflow run."""
        return Run(self._transport, run_id, enc.JSON, timeout)


def function(
    ref: str,
    *,
    url: Optional[str] = None,
    token: Optional[str] = None,
    encoding: str = enc.JSON,
    timeout: Optional[float] = None,
) -> "Function":
    """``hearth.function("ns/name").run(...)``: the one-line way in."""
    return Client(url, token).function(ref, encoding=encoding, timeout=timeout)


def workflow(
    ref: str, *, url: Optional[str] = None, token: Optional[str] = None, encoding: str = enc.JSON, timeout: Optional[float] = None
) -> "Workflow":
    """``hearth.workflow("ns/name").push(...)`` → a :class:`Run` with ``.step("name")``.
    ``encoding`` is the start step's (``pickle`` sends the input pickled)."""
    return Client(url, token).workflow(ref, encoding=encoding, timeout=timeout)


class Function:
    def __init__(self, transport: Transport, namespace: str, name: str, encoding: str, timeout: Optional[float]) -> None:
        self._transport = transport
        self.namespace = namespace
        self.name = name
        self.encoding = encoding
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Function({self.namespace}/{self.name}, encoding={self.encoding})"

    @property
    def _path(self) -> str:
        q = urllib.parse.quote
        return f"/v1/namespaces/{q(self.namespace, safe='')}/functions/{q(self.name, safe='')}"

    def _body(self, value: Any) -> Tuple[bytes, Dict[str, str]]:
        if self.encoding == enc.PICKLE:
            return enc.pickle_dumps(value), {"Content-Type": enc.PICKLE_CONTENT_TYPE}
        try:
            text = enc.json_dumps(value)
        except (TypeError, ValueError) as err:
            raise TypeError(f"input is not JSON-serializable ({err}); use encoding='pickle' for Python objects") from err
        return text.encode("utf-8"), {"Content-Type": "application/json"}

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the Function and returns its output; positional arguments travel as an array,
        keyword arguments as an object (bound to the handler's parameters by name)."""
        return self.run_input(_pack(args, kwargs))

    def push(self, *args: Any, **kwargs: Any) -> "Task":
        """Queues a call and returns its :class:`Task` at once."""
        return self.push_input(_pack(args, kwargs))

    def run_input(self, value: Any) -> Any:
        """Like :meth:`run` with the input document given as is (an object binds by name, an
        array by position, anything else is the single argument)."""
        started = time.monotonic()
        wait = POLL_SECONDS if self.timeout is None else min(POLL_SECONDS, self.timeout)
        body, headers = self._body(value)
        response = self._transport.request(
            "POST", f"{self._path}:run?timeout={_seconds(wait)}", body=body, headers=headers, timeout=wait + SLACK_SECONDS
        )
        task_id = response.headers.get("hearth-task-id")
        if response.status == 200:
            return _decode_output(response, self.encoding)
        error = response.error(task_id)
        if isinstance(error, TaskTimeoutError) and error.task_id and error.status == 504:
            # The gateway stopped waiting, not the task: keep waiting on the task itself (whose
            # own document says whether the attempt timed out).
            left = None if self.timeout is None else self.timeout - (time.monotonic() - started)
            handle = self._handle(error.task_id)
            handle.timeout = left
            return handle.result()
        raise error

    def map(self, items: Iterable[Any], *, return_exceptions: bool = False) -> Iterator[Any]:
        """Runs the Function once per item and yields the outputs in input order, each as soon as
        it and those before it are done. Each item is one call's input document (as with
        :meth:`run_input`). JSON Functions get one batched push (``:pushMany``); pickle ones a
        push per item. A failed item raises its error when reached, or is yielded as the
        exception with ``return_exceptions=True`` (the others still come)."""
        tasks = self.push_many(items)
        for task in tasks:
            try:
                value = task.result()
            except HearthError as err:
                if not return_exceptions:
                    raise
                yield err
                continue
            yield value

    def push_many(self, items: Iterable[Any]) -> List["Task"]:
        """Queues one call per item, durable when this returns; the tasks in input order."""
        values = list(items)
        if not values:
            return []
        if self.encoding == enc.PICKLE:
            return [self.push_input(v) for v in values]
        tasks: List[Task] = []
        for start in range(0, len(values), MAP_BATCH):
            chunk = values[start : start + MAP_BATCH]
            try:
                body = enc.json_dumps({"inputs": chunk}).encode("utf-8")
            except (TypeError, ValueError) as err:
                raise TypeError(f"an input is not JSON-serializable ({err}); use encoding='pickle' for Python objects") from err
            response = self._transport.request(
                "POST", f"{self._path}:pushMany", body=body, headers={"Content-Type": "application/json"}, timeout=SLACK_SECONDS * 2
            )
            if response.status != 202:
                raise response.error()
            doc = response.json()
            ids = doc.get("ids") if isinstance(doc, dict) else None
            if not isinstance(ids, list) or len(ids) != len(chunk):
                raise GatewayUnavailableError(f"pushMany answered without one id per input: {doc!r}"[:300], status=response.status)
            tasks.extend(Task(self._transport, str(i), self.encoding, self.timeout) for i in ids)
        return tasks

    def push_input(self, value: Any, *, idempotency_key: Optional[str] = None) -> "Task":
        body, headers = self._body(value)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        response = self._transport.request("POST", f"{self._path}:push", body=body, headers=headers, timeout=SLACK_SECONDS)
        if response.status not in (200, 202):
            raise response.error()
        doc = response.json()
        task_id = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(task_id, str):
            raise GatewayUnavailableError(f"push answered without a task id: {doc!r}"[:300], status=response.status)
        return self._handle(task_id)

    def _handle(self, task_id: str) -> "Task":
        return Task(self._transport, task_id, self.encoding, self.timeout)

    def stats(self) -> Dict[str, Any]:
        """``{"queueDepth", "inFlight", "warmWorkers", "busyWorkers"}``."""
        response = self._transport.request("GET", f"{self._path}/stats", timeout=SLACK_SECONDS)
        if response.status != 200:
            raise response.error()
        doc = response.json()
        return doc if isinstance(doc, dict) else {}


class Task:
    """A pushed call: a future over the gateway's task document."""

    def __init__(self, transport: Transport, task_id: str, encoding: str, timeout: Optional[float]) -> None:
        self._transport = transport
        self.id = task_id
        self.encoding = encoding
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Task({self.id})"

    @property
    def _path(self) -> str:
        return f"/v1/tasks/{urllib.parse.quote(self.id, safe='')}"

    def status(self, wait: Optional[float] = None) -> Dict[str, Any]:
        """The task document now, or once terminal within ``wait`` seconds."""
        query = f"?wait={_seconds(wait)}" if wait else ""
        response = self._transport.request("GET", self._path + query, timeout=(wait or 0) + SLACK_SECONDS)
        if response.status != 200:
            raise response.error(self.id)
        doc = response.json()
        if not isinstance(doc, dict):
            raise GatewayUnavailableError(f"task document is not an object: {doc!r}"[:300], status=response.status)
        return doc

    def done(self) -> bool:
        return self.status().get("status") in TERMINAL

    def wait(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Long-polls until the task is terminal; raises TaskTimeoutError when ``timeout``
        (default: the Function's) passes first. The task keeps running."""
        limit = self.timeout if timeout is None else timeout
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            if left <= 0:
                raise TaskTimeoutError(f"gave up waiting after {limit:g}s; the task is still running", task_id=self.id)
            doc = self.status(wait=left)
            if doc.get("status") in TERMINAL:
                return doc

    def result(self, timeout: Optional[float] = None) -> Any:
        """The output; raises the task's error (a :class:`HearthError` subclass) if it failed."""
        return self._outcome(self.wait(timeout))

    def cancel(self) -> Dict[str, Any]:
        response = self._transport.request("DELETE", self._path, timeout=SLACK_SECONDS)
        if response.status != 200:
            raise response.error(self.id)
        doc = response.json()
        return doc if isinstance(doc, dict) else {}

    def events(self) -> Iterator[TaskEvent]:
        """The task's event stream until ``done``. Reconnects when the stream breaks."""
        failures = 0
        while True:
            try:
                conn, response = self._transport.open(
                    "GET", self._path + "/events", headers={"Accept": "text/event-stream"}, timeout=POLL_SECONDS * 10
                )
            except GatewayUnavailableError:
                failures += 1
                if failures >= 5:
                    raise
                time.sleep(0.2 * failures)
                continue
            try:
                if response.status != 200:
                    raise Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()).error(self.id)
                for event in sse.parse(response):
                    failures = 0
                    data = _json_or_text(event.data)
                    yield TaskEvent(event.event, data)
                    if event.event == "done":
                        return
            except (OSError, socket.timeout):
                pass  # the stream broke or idled out; the document below says whether to go on
            finally:
                conn.close()
            doc = self.status()
            if doc.get("status") in TERMINAL:
                yield TaskEvent("done", doc)
                return
            failures += 1
            if failures >= 5:
                raise GatewayUnavailableError("the task's event stream keeps breaking", task_id=self.id)

    def progress(self) -> Iterator[Progress]:
        """Progress updates until the task ends (then call :meth:`result`)."""
        for event in self.events():
            if event.event == "progress" and isinstance(event.data, dict):
                value = event.data.get("value")
                message = event.data.get("message")
                yield Progress(float(value) if isinstance(value, (int, float)) else 0.0, message if isinstance(message, str) else None)

    def _outcome(self, doc: Dict[str, Any]) -> Any:
        status = doc.get("status")
        if status == "succeeded":
            if self.encoding == enc.PICKLE or "outputB64" in doc:
                raw = doc.get("outputB64")
                if not isinstance(raw, str):
                    raise GatewayUnavailableError("the task succeeded without outputB64 but the Function uses pickle", task_id=self.id)
                return enc.pickle_loads(enc.b64_decode(raw))
            return doc.get("output")
        if status == "cancelled":
            raise TaskCancelledError("the task was cancelled", task_id=self.id, attempt=_attempt(doc))
        error = from_error_body({"error": doc.get("error") or {}}, None, self.id)
        if error.attempt is None:
            error.attempt = _attempt(doc)
        raise error


class Workflow(Function):
    """A Workflow: ``run()`` blocks for the run's output; ``push()`` returns a :class:`Run`."""

    def __repr__(self) -> str:
        return f"Workflow({self.namespace}/{self.name})"

    @property
    def _path(self) -> str:
        q = urllib.parse.quote
        return f"/v1/namespaces/{q(self.namespace, safe='')}/workflows/{q(self.name, safe='')}"

    def _handle(self, task_id: str) -> "Run":
        return Run(self._transport, task_id, self.encoding, self.timeout)

    def push(self, *args: Any, **kwargs: Any) -> "Run":
        run = self.push_input(_pack(args, kwargs))
        assert isinstance(run, Run)
        return run

    def push_many(self, items: Iterable[Any]) -> List["Task"]:
        """One run per item (Workflows have no batched push)."""
        return [self.push_input(v) for v in items]


@dataclass(frozen=True)
class StepItem:
    """One execution of a step: ``path`` is its item's position in each fan-out above it."""

    path: List[int]
    task_id: str
    kind: str
    status: str
    attempts: int
    output: Any
    error: Optional[Dict[str, Any]]
    cached: bool


class Run(Task):
    """A workflow run: a task (``result()``, ``cancel()``, ``status()``), plus the outputs of
    each step (:meth:`step`) and its step events (:meth:`step_events`, :meth:`progress`)."""

    def __repr__(self) -> str:
        return f"Run({self.id})"

    def step_page(self, step: str, *, limit: int = 1000, after: Optional[str] = None) -> Tuple[List[StepItem], Optional[str]]:
        """One page of a step's executions in item order, and the cursor of the next page."""
        query = {"limit": str(limit)}
        if after is not None:
            query["after"] = after
        path = f"{self._path}/steps/{urllib.parse.quote(step, safe='')}?{urllib.parse.urlencode(query)}"
        response = self._transport.request("GET", path, timeout=SLACK_SECONDS)
        if response.status != 200:
            raise response.error(self.id)
        doc = response.json()
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise GatewayUnavailableError(f"step page without items: {doc!r}"[:300], task_id=self.id)
        nxt = doc.get("next")
        return [_step_item(i) for i in items if isinstance(i, dict)], nxt if isinstance(nxt, str) else None

    def step(self, step: str) -> List[StepItem]:
        """Every execution of ``step`` so far (all pages), in item order; ``.output`` of each."""
        items: List[StepItem] = []
        after: Optional[str] = None
        while True:
            page, after = self.step_page(step, after=after)
            items.extend(page)
            if after is None:
                return items

    def step_events(self) -> Iterator[Dict[str, Any]]:
        """Step events (``{step, path, taskId, event: queued|started|progress|finished|failed|cancelled, …}``)
        until the run ends; the current state of every execution is replayed first."""
        for event in self.events():
            if event.event == "step" and isinstance(event.data, dict):
                yield event.data

    def progress(self) -> Iterator[Progress]:
        """The run's progress: the share of the step executions known so far that have ended,
        with the latest event as the message (the share can fall when a fan-out adds items)."""
        states: Dict[str, str] = {}
        for event in self.step_events():
            task_id = event.get("taskId")
            kind = event.get("event")
            if not isinstance(task_id, str) or not isinstance(kind, str):
                continue
            if kind != "progress":
                states[task_id] = kind
            ended = sum(1 for s in states.values() if s in ("finished", "failed", "cancelled"))
            path = event.get("path")
            where = f"[{','.join(str(p) for p in path)}]" if isinstance(path, list) and path else ""
            yield Progress(ended / len(states) if states else 0.0, f"{event.get('step')}{where} {kind}")


def _step_item(doc: Dict[str, Any]) -> StepItem:
    path = doc.get("path")
    output: Any = doc.get("output")
    if "outputB64" in doc and isinstance(doc["outputB64"], str):
        output = enc.pickle_loads(enc.b64_decode(doc["outputB64"]))
    error = doc.get("error")
    attempts = doc.get("attempts")
    return StepItem(
        path=[int(p) for p in path] if isinstance(path, list) else [],
        task_id=str(doc.get("taskId", "")),
        kind=str(doc.get("kind", "call")),
        status=str(doc.get("status", "")),
        attempts=attempts if isinstance(attempts, int) else 0,
        output=output,
        error=error if isinstance(error, dict) else None,
        cached=doc.get("cached") is True,
    )


def _attempt(doc: Mapping[str, Any]) -> Optional[int]:
    attempts = doc.get("attempts")
    return attempts if isinstance(attempts, int) else None


def _json_or_text(text: str) -> Any:
    try:
        return enc.json_loads(text)
    except enc.DecodeError:
        return text


def _decode_output(response: Response, encoding: str) -> Any:
    if response.content_type == enc.PICKLE_CONTENT_TYPE:
        return enc.pickle_loads(response.body)
    if not response.body:
        return None
    try:
        return enc.json_loads(response.body)
    except enc.DecodeError as err:
        raise GatewayUnavailableError(f"the output is not JSON: {err}", status=response.status) from err
