"""Every shared protocol case against the Python runtime in oneshot mode, as real processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import pytest
from cases import TERMINATION_LOG_LIMIT, load_cases, mismatch
from support import OneshotResult, run_oneshot

CASES = load_cases("oneshot")


@pytest.fixture(scope="module")
def results() -> Dict[str, OneshotResult]:
    # Most of the wall time is cases waiting for deadlines: run them side by side.
    def one(case: Dict[str, Any]) -> OneshotResult:
        return run_oneshot(case["handler"], case["input"], timeout_seconds=case.get("timeoutSeconds"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        return dict(zip((c["name"] for c in CASES), pool.map(one, CASES)))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: Dict[str, Any], results: Dict[str, OneshotResult]) -> None:
    result = results[case["name"]]
    assert len(result.raw) <= TERMINATION_LOG_LIMIT, f"termination document is {len(result.raw)} bytes"
    problem = mismatch(case, result.exit_code, result.document.get("output"), result.document.get("error"))
    assert problem is None, f"{problem}\nstderr:\n{result.stderr[-2000:]}"
    if result.exit_code == 0:
        assert set(result.document) == {"output"}
    else:
        assert set(result.document) == {"error"} and set(result.document["error"]) == {"type", "message"}
