"""The Python client's workflows and map() end to end: a real gateway serving Workflows from
its manifests file, and real Python workers for every step."""

from __future__ import annotations

from typing import Iterator, List

import pytest
from gateway import NAMESPACE, FunctionDef, Gateway, Worker
from support import LOCAL_HANDLERS

import hearth
from hearth.client import errors as e

TOKEN = "workflow-secret"


def workflow(name: str, spec: dict) -> dict:
    return {"apiVersion": "hearth.dev/v1alpha1", "kind": "Workflow", "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}


WORKFLOWS = [
    workflow(
        "sum",
        {
            "start": "split",
            "steps": [
                {"name": "split", "functionRef": {"name": "split"}, "map": True, "next": ["measure"]},
                {"name": "measure", "functionRef": {"name": "length"}, "next": ["total"]},
                {"name": "total", "functionRef": {"name": "add"}, "accumulate": {"initial": 0}},
            ],
        },
    ),
    workflow(
        "triage",
        {
            "start": "pick",
            "steps": [
                {"name": "pick", "functionRef": {"name": "pick"}, "routes": ["loud", "count"]},
                {"name": "loud", "functionRef": {"name": "loud"}},
                {"name": "count", "functionRef": {"name": "length"}},
            ],
        },
    ),
]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    functions = [FunctionDef("split"), FunctionDef("length", concurrency=8), FunctionDef("add"), FunctionDef("pick"), FunctionDef("loud")]
    gw = Gateway(functions, caller_tokens=[TOKEN], extra_manifests=WORKFLOWS).start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def workers(gateway: Gateway) -> Iterator[List[Worker]]:
    started = [gateway.worker(name, f"flows:{name}", code_path=(LOCAL_HANDLERS,)).start() for name in ("split", "length", "add", "pick", "loud")]
    try:
        for w in started:
            w.wait_ready(60)
        yield started
    finally:
        for w in started:
            w.stop()


@pytest.fixture
def client(gateway: Gateway, workers: List[Worker]) -> hearth.Client:
    return hearth.Client(gateway.url, TOKEN, env={})


def test_map_yields_outputs_in_input_order_from_one_batched_push(client: hearth.Client) -> None:
    words = ["a", "bbb", "cc", "dddd"] * 25
    assert list(client.function(f"{NAMESPACE}/length").map(words)) == [len(w) for w in words]
    assert list(client.function(f"{NAMESPACE}/length").map([])) == []


def test_map_reports_errors_per_item(client: hearth.Client) -> None:
    length = client.function(f"{NAMESPACE}/length")
    out = list(length.map(["ab", "fail-me", "abc"], return_exceptions=True))
    assert out[0] == 2 and out[2] == 3
    assert isinstance(out[1], e.HearthError) and "cannot measure fail-me" in str(out[1])
    got: List[int] = []
    with pytest.raises(e.HearthError, match="cannot measure fail-me"):
        for value in length.map(["ab", "fail-me", "abc"]):
            got.append(value)
    assert got == [2]


def test_workflow_run_and_push_with_step_outputs_and_progress(client: hearth.Client) -> None:
    wf = client.workflow(f"{NAMESPACE}/sum")
    assert wf.run("one three five") == 12
    run = wf.push("a bb ccc")
    assert isinstance(run, hearth.Run)
    progress = list(run.progress())
    assert run.result(timeout=60) == 6
    assert [item.output for item in run.step("measure")] == [1, 2, 3]
    assert [item.path for item in run.step("measure")] == [[0], [1], [2]]
    assert run.step("split")[0].output == ["a", "bb", "ccc"]
    assert all(item.status == "succeeded" for item in run.step("total"))
    assert progress and progress[-1].value == 1.0
    assert any(p.message is not None and p.message.startswith("measure[") for p in progress)
    doc = run.status()
    assert doc["kind"] == "workflow" and doc["steps"]["measure"] == {"succeeded": 3}
    again = client.workflow_run(run.id)
    assert again.result() == 6


def test_module_level_workflow_and_routes(gateway: Gateway, workers: List[Worker]) -> None:
    triage = hearth.workflow(f"{NAMESPACE}/triage", url=gateway.url, token=TOKEN)
    assert triage.run("hi") == "HI"
    assert triage.run("a much longer text") == 18


def test_a_failing_step_fails_the_run_naming_the_step(client: hearth.Client) -> None:
    with pytest.raises(e.HearthError, match='step "measure" item \\[1\\] failed on attempt 1: UserError: .*cannot measure fail-now'):
        client.workflow(f"{NAMESPACE}/sum").run("ok fail-now")


def test_cancelling_a_run_cancels_it(client: hearth.Client) -> None:
    run = client.workflow(f"{NAMESPACE}/sum").push("slow-one")
    for ev in run.step_events():
        if ev.get("step") == "measure" and ev.get("event") == "started":
            break
    run.cancel()
    with pytest.raises(e.TaskCancelledError):
        run.result(timeout=30)
    assert run.step("measure")[0].status == "cancelled"


def test_an_unknown_workflow_is_not_found(client: hearth.Client) -> None:
    with pytest.raises(e.HearthError) as err:
        client.workflow(f"{NAMESPACE}/nope").push(1)
    assert err.value.status == 404
