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


def test_settled_items_are_folded_by_the_python_reducer(client: hearth.Client) -> None:
    # The first item pauses: the others settle meanwhile and one reducer task folds them in order.
    words = ["pause"] + ["w" * (i % 4 + 1) for i in range(20)]
    run = client.workflow(f"{NAMESPACE}/sum").push(" ".join(words))
    assert run.result(timeout=60) == sum(len(w) for w in words)
    reductions = run.step("total")
    assert len(reductions) < len(words)
    assert all(r.status == "succeeded" for r in reductions)


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


# Pickle on every kind of edge: Fractions (which JSON cannot carry) through a pickle map step, a
# plain edge, a pickle reducer and a pickle router.

PICKLE_WORKFLOWS = [
    workflow(
        "fractions",
        {
            "start": "halves",
            "steps": [
                {"name": "halves", "functionRef": {"name": "halves"}, "map": True, "next": ["double"]},
                {"name": "double", "functionRef": {"name": "double"}, "next": ["total"]},
                {"name": "total", "functionRef": {"name": "total"}, "accumulate": {"initial": 0}},
            ],
        },
    ),
    workflow(
        "fraction-routes",
        {
            "start": "double",
            "steps": [
                {"name": "double", "functionRef": {"name": "double"}, "next": ["pick"]},
                {"name": "pick", "functionRef": {"name": "route-fraction"}, "routes": ["big", "small", "also"]},
                {"name": "big", "functionRef": {"name": "tag-big"}},
                {"name": "small", "functionRef": {"name": "tag-small"}},
                {"name": "also", "functionRef": {"name": "tag-small"}},
            ],
        },
    ),
    workflow("only-halves", {"start": "halves", "steps": [{"name": "halves", "functionRef": {"name": "halves"}, "map": True}]}),
]

PICKLE_FUNCTIONS = {"halves": "halves", "double": "double", "total": "total", "route-fraction": "route_fraction", "tag-big": "tag_big", "tag-small": "tag_small"}


@pytest.fixture(scope="module")
def pickle_gateway() -> Iterator[Gateway]:
    functions = [FunctionDef(name, encoding="pickle", concurrency=4) for name in PICKLE_FUNCTIONS]
    gw = Gateway(functions, caller_tokens=[TOKEN], extra_manifests=PICKLE_WORKFLOWS).start()
    started: List[Worker] = []
    try:
        started = [gw.worker(name, f"flows:{handler}", code_path=(LOCAL_HANDLERS,)).start() for name, handler in PICKLE_FUNCTIONS.items()]
        for w in started:
            w.wait_ready(60)
        yield gw
    finally:
        for w in started:
            w.stop()
        gw.stop()


def test_pickled_values_cross_map_reducer_and_plain_edges(pickle_gateway: Gateway) -> None:
    import fractions

    client = hearth.Client(pickle_gateway.url, TOKEN, env={})
    wf = client.workflow(f"{NAMESPACE}/fractions", encoding="pickle")
    run = wf.push(3)
    # halves: 1/2, 1/3, 1/4 → double: 1, 2/3, 1/2 → total: 0 + 1 + 2/3 + 1/2
    assert run.result(timeout=60) == fractions.Fraction(13, 6)
    assert run.step("halves")[0].output == [fractions.Fraction(1, 2), fractions.Fraction(1, 3), fractions.Fraction(1, 4)]
    assert [i.output for i in run.step("double")] == [fractions.Fraction(1), fractions.Fraction(2, 3), fractions.Fraction(1, 2)]
    assert [i.output for i in run.step("total")][-1] == fractions.Fraction(13, 6)
    # An empty fan-out reduces to the initial value, pickled by the gateway.
    assert wf.run(0) == 0
    # A terminal pickle map step's output is the list.
    assert client.workflow(f"{NAMESPACE}/only-halves", encoding="pickle").run(2) == [fractions.Fraction(1, 2), fractions.Fraction(1, 3)]


def test_a_pickle_router_picks_routes(pickle_gateway: Gateway) -> None:
    import fractions

    wf = hearth.Client(pickle_gateway.url, TOKEN, env={}).workflow(f"{NAMESPACE}/fraction-routes", encoding="pickle")
    assert wf.run(fractions.Fraction(3, 4)) == ("big", fractions.Fraction(3, 2))
    # Two routes taken: the outputs by step, still Python objects.
    assert wf.run(fractions.Fraction(1, 4)) == {"small": [("small", fractions.Fraction(1, 2))], "also": [("small", fractions.Fraction(1, 2))]}
