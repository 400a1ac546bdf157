"""The Python client end to end: a real gateway with caller tokens, Python workers serving the
Functions, and every client call against them."""

from __future__ import annotations

import fractions
import sys
import time
from typing import Iterator, List

import pytest
from gateway import NAMESPACE, FunctionDef, Gateway, Worker
from support import LOCAL_HANDLERS

import hearth
import hearth.client
from hearth.client import errors as e

sys.path.insert(0, str(LOCAL_HANDLERS))
import pickled  # type: ignore[import-not-found]  # noqa: E402 - the handler module itself: its classes travel pickled

F = fractions.Fraction
TOKEN = "caller-secret"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    functions = [
        FunctionDef("add"),
        FunctionDef("echo"),
        FunctionDef("steps", timeout_seconds=5),
        FunctionDef("points", encoding="pickle"),
        FunctionDef("idle"),
    ]
    gw = Gateway(functions, caller_tokens=[TOKEN]).start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def workers(gateway: Gateway) -> Iterator[List[Worker]]:
    started = [
        gateway.worker("add", "binding:add").start(),
        gateway.worker("echo", "binding:identity").start(),
        gateway.worker("steps", "timing:steps").start(),
        gateway.worker("points", "pickled:midpoint", code_path=(LOCAL_HANDLERS,)).start(),
    ]
    try:
        for w in started:
            w.wait_ready()
        yield started
    finally:
        for w in started:
            w.stop()


@pytest.fixture
def client(gateway: Gateway, workers: List[Worker]) -> hearth.Client:
    return hearth.Client(gateway.url, TOKEN, env={})


def test_run_binds_positional_and_keyword_arguments(client: hearth.Client) -> None:
    add = client.function(f"{NAMESPACE}/add")
    assert add.run(40, 2) == 42
    assert add.run(a="4", b="2") == "42"
    assert add.run_input({"a": 1, "b": 1}) == 2


def test_configuration_from_the_environment(gateway: Gateway, workers: List[Worker], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_URL", gateway.url)
    monkeypatch.setenv("HEARTH_TOKEN", TOKEN)
    monkeypatch.setenv("HEARTH_NAMESPACE", NAMESPACE)
    assert hearth.function("echo").run("from env") == "from env"


def test_callers_without_the_token_are_refused(gateway: Gateway) -> None:
    with pytest.raises(e.UnauthorizedError) as err:
        hearth.Client(gateway.url, env={}).function(f"{NAMESPACE}/echo").run(1)
    assert err.value.status == 401 and err.value.exit_code is None


def test_unknown_functions_are_not_found(client: hearth.Client) -> None:
    with pytest.raises(e.NotFoundError):
        client.function(f"{NAMESPACE}/nothing-here").run(1)


def test_push_returns_a_future(client: hearth.Client) -> None:
    task = client.function(f"{NAMESPACE}/echo").push({"nested": [1, 2]})
    assert isinstance(task, hearth.Task) and task.id
    assert task.result(timeout=30) == {"nested": [1, 2]}
    assert task.done()
    doc = task.status()
    assert (doc["status"], doc["function"], doc["attempts"]) == ("succeeded", {"namespace": NAMESPACE, "name": "echo"}, 1)
    assert client.task(task.id).result() == {"nested": [1, 2]}


def test_progress_iterates_until_the_task_ends(client: hearth.Client) -> None:
    task = client.function(f"{NAMESPACE}/steps").push(steps=4, seconds=0.2)
    progress = list(task.progress())
    assert progress[-1] == hearth.Progress(1.0, "step 4")
    assert all(0 < p.value <= 1 for p in progress)
    assert task.result() == {"steps": 4}


def test_events_end_with_the_final_document(client: hearth.Client) -> None:
    task = client.function(f"{NAMESPACE}/steps").push(steps=2, seconds=0.1)
    events = list(task.events())
    assert {ev.event for ev in events} <= {"status", "progress", "done"}
    assert events[-1].event == "done" and events[-1].data["status"] == "succeeded"


def test_errors_carry_the_exit_code_class(client: hearth.Client) -> None:
    with pytest.raises(e.InputRejectedError) as err:
        client.function(f"{NAMESPACE}/add").run(1, 2, 3)
    assert (err.value.type, err.value.exit_code, err.value.status, err.value.attempt) == ("InputRejected", 65, 400, 1)
    assert err.value.task_id
    pushed = client.function(f"{NAMESPACE}/add").push(a=1)
    with pytest.raises(e.InputRejectedError) as later:
        pushed.result()
    assert (later.value.exit_code, later.value.task_id) == (65, pushed.id)
    assert isinstance(later.value, hearth.HearthError)


def test_pickle_carries_python_objects_through_the_gateway(client: hearth.Client) -> None:
    points = client.function(f"{NAMESPACE}/points", encoding="pickle")
    a, b = pickled.Point(F(1, 3), F(0)), pickled.Point(F(1), F(2, 5))
    assert points.run(a, b) == pickled.Point(F(2, 3), F(1, 5))
    assert points.push(a=a, b=a).result() == a
    with pytest.raises(e.BadRequestError, match="encoding pickle"):
        client.function(f"{NAMESPACE}/points").run(1)


def test_idempotency_key_returns_the_same_task(client: hearth.Client) -> None:
    echo = client.function(f"{NAMESPACE}/echo")
    first = echo.push_input("once", idempotency_key="k-1")
    again = echo.push_input("once", idempotency_key="k-1")
    assert first.id == again.id and again.result() == "once"


def test_cancel_stats_and_waiting_on_a_queued_task(client: hearth.Client) -> None:
    idle = client.function(f"{NAMESPACE}/idle", timeout=0.5)  # no worker serves it
    task = idle.push("never")
    assert task.status()["status"] == "queued"
    assert idle.stats()["queueDepth"] == 1
    with pytest.raises(e.TaskTimeoutError) as err:
        task.result()
    assert err.value.task_id == task.id and err.value.exit_code == 124
    with pytest.raises(e.TaskTimeoutError):
        idle.run("never either")  # the gateway stops waiting after the client's timeout
    assert task.cancel()["status"] == "cancelled"
    with pytest.raises(e.TaskCancelledError):
        task.result()
    assert not isinstance(err.value, e.TaskCancelledError)


def test_run_keeps_waiting_past_the_gateways_wait_cap(client: hearth.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each blocking request asks the gateway to wait 0.3 s: a 1 s task takes several rounds,
    # which run() must hide.
    monkeypatch.setattr(hearth.client, "POLL_SECONDS", 0.3)
    started = time.monotonic()
    assert client.function(f"{NAMESPACE}/steps").run(steps=2, seconds=0.5) == {"steps": 2}
    assert time.monotonic() - started >= 1.0


def test_unreachable_gateway_raises_a_hearth_error() -> None:
    with pytest.raises(e.GatewayUnavailableError):
        hearth.Client("http://127.0.0.1:9", env={}).function("a/b").push(1)
