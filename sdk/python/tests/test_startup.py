"""The startup deadline end to end (Python runtime): real gateway, real supervisor and child
processes. A setup() hanging past startupTimeoutSeconds makes the worker exit 124 with the reason
(SetupTimeout) in its log, termination message and the gateway's setup summary; one that keeps
reporting progress outlives the bare deadline and serves calls; the gateway shows its progress
while it loads and, afterwards, how long setup took."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from gateway import NAMESPACE, FunctionDef, Gateway, Worker
from support import LOCAL_HANDLERS, run_oneshot

from hearth import Client

FUNCTIONS = [FunctionDef("hangs"), FunctionDef("loads-ctx"), FunctionDef("loads-module")]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    gw = Gateway(FUNCTIONS, signing_key="pytest-signing-key", worker_timeout="2s").start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def workers() -> Iterator[List[Worker]]:
    started: List[Worker] = []
    yield started
    for w in started:
        w.stop()


def setup_of(gw: Gateway, name: str) -> Optional[Dict[str, Any]]:
    with urllib.request.urlopen(f"{gw.url}/v1/setup", timeout=5) as r:
        body = json.loads(r.read())
    return next((f for f in body["functions"] if f["name"] == name), None)


def eventually(check: Any, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_setup_hanging_past_the_deadline_exits_124_with_setup_timeout(gateway: Gateway, workers: List[Worker], tmp_path: Path) -> None:
    log = tmp_path / "termination-log"
    w = gateway.worker(
        "hangs", "startup:Hangs", code_path=(LOCAL_HANDLERS,), extra_env={"HEARTH_STARTUP_TIMEOUT_SECONDS": "1.5", "HEARTH_TERMINATION_LOG": str(log)}
    ).start()
    workers.append(w)
    started = time.monotonic()
    assert w.wait_exit(30) == 124, w.log()
    assert time.monotonic() - started >= 1.4
    assert "SetupTimeout: setup() did not finish within startupTimeoutSeconds=1.5 (last progress: 10% downloading weights)" in w.log()
    doc = json.loads(log.read_text())
    assert doc["error"]["type"] == "Timeout" and doc["error"]["reason"] == "SetupTimeout"
    failure = eventually(lambda: (setup_of(gateway, "hangs") or {}).get("lastFailure"), what="the gateway's setup failure")
    assert failure["reason"] == "SetupTimeout"
    assert "10% downloading weights" in failure["message"]


@pytest.mark.parametrize("name,handler", [("loads-ctx", "startup:ReportsThroughContext"), ("loads-module", "startup:ReportsThroughModule")])
def test_setup_progress_extends_the_deadline(gateway: Gateway, workers: List[Worker], name: str, handler: str) -> None:
    # 12 steps of 0.5 s = 6 s of setup against a 3 s deadline (which also covers starting the
    # child and importing the handler: slow on a loaded machine).
    w = gateway.worker(
        name, handler, code_path=(LOCAL_HANDLERS,), extra_env={"HEARTH_STARTUP_TIMEOUT_SECONDS": "3", "SETUP_STEPS": "12", "SETUP_STEP_SECONDS": "0.5"}
    ).start()
    workers.append(w)
    during = eventually(lambda: (setup_of(gateway, name) or {}).get("progress"), what="setup progress at the gateway")
    assert 0 < during["value"] < 1
    assert "shard" in during.get("message", "") or "layer" in during.get("message", "")
    status, body = w.probe("/startupz")
    assert status in (200, 0) or (status == 503 and body["started"] is False)
    w.wait_ready(60)
    assert w.probe("/startupz")[0] == 200
    Client(gateway.url, env={}).function(f"{NAMESPACE}/{name}", timeout=30).run(None)
    after = eventually(lambda: (lambda s: s if s and "lastDurationSeconds" in s else None)(setup_of(gateway, name)), what="the setup duration")
    assert after["lastDurationSeconds"] >= 6
    assert "lastFailure" not in after
    assert "setup() finished in" in w.log()
    assert w.proc is not None and w.proc.poll() is None
    with urllib.request.urlopen(f"{gateway.url}/metrics", timeout=5) as r:
        metrics = r.read().decode()
    assert f'hearth_gateway_worker_setup_seconds_count{{namespace="{NAMESPACE}",function="{name}"}} 1' in metrics


def test_oneshot_applies_the_startup_deadline() -> None:
    result = run_oneshot("startup:Hangs", code_path=LOCAL_HANDLERS, extra_env={"HEARTH_STARTUP_TIMEOUT_SECONDS": "1"})
    assert result.exit_code == 124, result.stderr
    assert result.document["error"]["type"] == "Timeout"
    assert result.document["error"]["reason"] == "SetupTimeout"
    assert "startupTimeoutSeconds=1 " in result.document["error"]["message"]


def test_oneshot_setup_progress_extends_the_deadline() -> None:
    result = run_oneshot(
        "startup:ReportsThroughModule",
        code_path=LOCAL_HANDLERS,
        extra_env={"HEARTH_STARTUP_TIMEOUT_SECONDS": "1", "SETUP_STEPS": "5", "SETUP_STEP_SECONDS": "0.5"},
    )
    assert result.exit_code == 0, result.stderr
    assert result.document == {"output": "loaded"}
    assert "setup 83% layer 5" in result.stderr
