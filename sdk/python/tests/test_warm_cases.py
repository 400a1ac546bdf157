"""Every shared protocol case in warm mode: a real gateway, a real Python warm worker per
handler, and the Python client as the caller. The class a caller sees must be the class the
case names; setup-time outcomes are read from the worker itself (its /readyz report or its
exit code), because such a worker never takes the task."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from cases import load_cases, mismatch
from gateway import NAMESPACE, FunctionDef, Gateway, Worker

from hearth import Client, HearthError
from hearth.client.errors import NotReadyError
from hearth.errors import EXIT_CODES, exit_code_of

CASES = load_cases("warm")
CLASS_OF_EXIT = {code: kind for kind, code in EXIT_CODES.items()}


def group_key(case: Dict[str, Any]) -> Tuple[str, int]:
    return case["handler"], int(case.get("timeoutSeconds", 30))


GROUPS: Dict[Tuple[str, int], List[Dict[str, Any]]] = {}
for _case in CASES:
    GROUPS.setdefault(group_key(_case), []).append(_case)
NAMES = {key: f"case-{i}" for i, key in enumerate(GROUPS)}


@dataclass
class Outcome:
    exit_code: int
    output: Any
    error: Optional[Dict[str, Any]]
    note: str = ""


def run_group(gw: Gateway, key: Tuple[str, int], cases: List[Dict[str, Any]]) -> Dict[str, Outcome]:
    handler, _ = key
    name = NAMES[key]
    fn = Client(gw.url, env={}).function(f"{NAMESPACE}/{name}", timeout=60)
    out: Dict[str, Outcome] = {}
    worker: Optional[Worker] = None
    try:
        for case in cases:
            if worker is None or (worker.proc is not None and worker.proc.poll() is not None):
                if worker is not None:
                    worker.stop()
                worker = gw.worker(name, handler).start()
            state, detail = worker.settle()
            if state == "exited":
                kind = CLASS_OF_EXIT.get(detail, "?")
                out[case["name"]] = Outcome(detail, None, {"type": kind, "message": worker.log()}, "worker exited during setup")
                continue
            if state == "failed":
                error = detail.get("error") or {}
                note = "worker reports a failed setup"
                if error.get("type") == "BadConfiguration":
                    # The gateway must refuse callers rather than queue work nobody will take.
                    try:
                        fn.run_input(case["input"])
                        note += "; the gateway accepted a call anyway"
                    except NotReadyError as err:
                        if "BadConfiguration" not in err.message:
                            note += f"; NotReady without the class: {err.message}"
                out[case["name"]] = Outcome(exit_code_of(error.get("type", "")) or -1, None, error, note)
                continue
            try:
                out[case["name"]] = Outcome(0, fn.run_input(case["input"]), None)
            except HearthError as err:
                out[case["name"]] = Outcome(err.exit_code or -1, None, {"type": err.type, "message": err.message})
            if out[case["name"]].exit_code == EXIT_CODES["Fatal"]:
                code = worker.wait_exit(timeout=15)
                if code != 75:
                    out[case["name"]].note = f"after FatalError the worker exited {code}, not 75"
    finally:
        if worker is not None:
            worker.stop()
    return out


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    gw = Gateway([FunctionDef(NAMES[key], timeout_seconds=key[1]) for key in GROUPS]).start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def outcomes(gateway: Gateway) -> Dict[str, Outcome]:
    results: Dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for part in pool.map(lambda item: run_group(gateway, *item), GROUPS.items()):
            results.update(part)
    return results


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: Dict[str, Any], outcomes: Dict[str, Outcome]) -> None:
    outcome = outcomes[case["name"]]
    problem = mismatch(case, outcome.exit_code, outcome.output, outcome.error)
    assert problem is None, f"{problem} ({outcome.note})"
    assert "anyway" not in outcome.note and "not 75" not in outcome.note and "without the class" not in outcome.note, outcome.note
