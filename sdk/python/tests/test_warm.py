"""The warm worker's contract, end to end: real gateway, real supervisor and child processes,
real handler code, the Python client as the caller."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
from gateway import NAMESPACE, FunctionDef, Gateway, Worker
from support import LOCAL_HANDLERS

from hearth import Client, Function
from hearth.client import errors as e

FUNCTIONS = [
    FunctionDef("counted"),
    FunctionDef("no-restart"),
    FunctionDef("short", timeout_seconds=1),
    FunctionDef("fatal"),
    FunctionDef("slow-setup"),
    FunctionDef("drain"),
    FunctionDef("concurrent", concurrency=3),
    FunctionDef("concurrent-timeout", timeout_seconds=1, concurrency=2),
    FunctionDef("broken"),
    FunctionDef("setup-fails"),
    FunctionDef("vessl"),
    FunctionDef("crash"),
    FunctionDef("cancel"),
    FunctionDef("authz"),
    FunctionDef("disrupted"),
]
SIGNING_KEY = "pytest-signing-key"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    # Workers heartbeat every 200 ms here: a worker silent for 2 s is gone.
    gw = Gateway(FUNCTIONS, signing_key=SIGNING_KEY, worker_timeout="2s").start()
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


def start(gw: Gateway, workers: List[Worker], function: str, handler: str, **kwargs: Any) -> Worker:
    kwargs.setdefault("code_path", (LOCAL_HANDLERS,))
    w = gw.worker(function, handler, **kwargs).start()
    workers.append(w)
    return w


def fn(gw: Gateway, name: str, **kwargs: Any) -> Function:
    return Client(gw.url, env={}).function(f"{NAMESPACE}/{name}", timeout=30, **kwargs)


def eventually(check: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_setup_runs_once_per_worker_across_many_calls(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "counted", "lifecycle:Counted").wait_ready()
    results = [fn(gateway, "counted").run("ok") for _ in range(8)]
    assert {r["pid"] for r in results} == {results[0]["pid"]}
    assert [r["setups"] for r in results] == [1] * 8
    assert [r["calls"] for r in results] == list(range(1, 9))


def test_user_error_respawns_the_model_process_with_a_fresh_setup(gateway: Gateway, workers: List[Worker]) -> None:
    worker = start(gateway, workers, "counted", "lifecycle:Counted").wait_ready()
    f = fn(gateway, "counted")
    before = f.run("ok")
    with pytest.raises(e.UserCodeError) as err:
        f.run("boom")
    assert (err.value.exit_code, err.value.status) == (1, 500)
    assert "ValueError: boom" in err.value.message and "lifecycle.py" in err.value.message
    after = f.run("ok")
    assert after["pid"] != before["pid"] and after["calls"] == 1
    assert worker.proc is not None and worker.proc.poll() is None  # the supervisor never restarted


def test_without_restart_on_error_the_model_process_is_kept(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "no-restart", "lifecycle:Counted", restart_on_error=False).wait_ready()
    f = fn(gateway, "no-restart")
    before = f.run("ok")
    with pytest.raises(e.UserCodeError):
        f.run("boom")
    after = f.run("ok")
    assert (after["pid"], after["calls"]) == (before["pid"], 3)


def test_bad_input_is_rejected_with_65_and_the_worker_survives(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "counted", "lifecycle:Counted").wait_ready()
    f = fn(gateway, "counted")
    first = f.run("ok")
    with pytest.raises(e.InputRejectedError) as unbound:
        f.run_input({"op": "ok", "unexpected": 1})
    assert (unbound.value.exit_code, unbound.value.status) == (65, 400)
    with pytest.raises(e.InputRejectedError, match="op must be something else"):
        f.run("reject")
    after = f.run("ok")
    # predict() ran for "ok", "reject", "ok": input that does not bind never reaches it.
    assert (after["pid"], after["calls"]) == (first["pid"], 3)


def test_timeout_fails_the_task_with_124_and_respawns_the_model_process(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "short", "lifecycle:Counted").wait_ready()
    f = fn(gateway, "short")
    before = f.run("ok")
    started = time.monotonic()
    with pytest.raises(e.TaskTimeoutError) as err:
        f.run("sleep:30")
    assert err.value.exit_code == 124 and "timeoutSeconds=1" in err.value.message
    assert time.monotonic() - started < 10
    after = f.run("ok")
    assert after["pid"] != before["pid"]


def test_progress_extends_the_deadline_and_streams_to_the_caller(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "short", "lifecycle:Counted").wait_ready()
    task = fn(gateway, "short").push("steps:5,0.5")  # 2.5 s of work, a 1 s deadline
    seen = [(p.value, p.message) for p in task.progress()]
    result = task.result()
    assert result["calls"] >= 1
    assert seen[-1] == (1.0, "step 5")
    assert [v for v, _ in seen] == sorted(v for v, _ in seen)
    assert task.status()["status"] == "succeeded"


def test_fatal_error_fails_the_task_with_75_and_the_supervisor_exits_75(gateway: Gateway, workers: List[Worker]) -> None:
    worker = start(gateway, workers, "fatal", "lifecycle:Counted").wait_ready()
    with pytest.raises(e.WorkerFatalError) as err:
        fn(gateway, "fatal").run("fatal")
    assert err.value.exit_code == 75 and "device lost" in err.value.message
    assert worker.wait_exit(timeout=15) == 75


def test_readiness_is_false_while_setup_runs(gateway: Gateway, workers: List[Worker]) -> None:
    worker = start(gateway, workers, "slow-setup", "lifecycle:Counted", extra_env={"LIFECYCLE_SETUP_SECONDS": "1.5"})
    eventually(lambda: worker.probe("/healthz")[0] == 200, what="/healthz")
    status, body = worker.probe("/readyz")
    assert status == 503 and body["state"] == "setup"
    worker.wait_ready()
    assert fn(gateway, "slow-setup").run("ok")["setups"] == 1


def test_sigterm_drains_running_tasks_then_exits_0(gateway: Gateway, workers: List[Worker]) -> None:
    worker = start(gateway, workers, "drain", "lifecycle:Counted").wait_ready()
    task = fn(gateway, "drain").push("sleep:1.5")
    eventually(lambda: task.status()["status"] == "running", what="the task to start")
    worker.terminate()
    eventually(lambda: worker.probe("/readyz")[1]["state"] == "draining", what="draining")
    assert worker.probe("/readyz")[0] == 503
    assert worker.wait_exit(timeout=15) == 0
    assert task.result(timeout=5)["pid"] > 0  # finished and reported before the exit
    # It leased nothing after the signal: a call now waits for a worker.
    later = fn(gateway, "drain").push("ok")
    time.sleep(0.5)
    assert later.status()["status"] == "queued"
    later.cancel()


def test_concurrency_runs_tasks_side_by_side_in_one_model_process(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "concurrent", "lifecycle:Counted").wait_ready()
    f = fn(gateway, "concurrent")
    started = time.monotonic()
    tasks = [f.push("sleep:1") for _ in range(3)]
    results = [t.result() for t in tasks]
    assert time.monotonic() - started < 2.5  # serially it would take 3 s
    assert len({r["pid"] for r in results}) == 1


def test_a_timeout_disrupts_the_other_tasks_of_its_process_and_they_are_retried(
    gateway: Gateway, workers: List[Worker], tmp_path: Path
) -> None:
    log = tmp_path / "starts"
    start(gateway, workers, "concurrent-timeout", "lifecycle:Counted", extra_env={"LIFECYCLE_LOG": str(log)}).wait_ready()
    f = fn(gateway, "concurrent-timeout")
    hung = f.push("sleep:30")
    bystander = f.push("steps:4,0.5")  # keeps its own deadline alive with progress
    eventually(lambda: f"start {bystander.id} " in (log.read_text() if log.exists() else ""), what="both tasks to start")
    with pytest.raises(e.TaskTimeoutError):
        hung.result()
    # The bystander lost its process through no fault of its own: re-queued (not failed) and
    # run again from the start in the new process.
    result = bystander.result()
    runs = [line.split()[2] for line in log.read_text().splitlines() if line.startswith(f"start {bystander.id} ")]
    assert len(runs) == 2 and runs[0] != runs[1] and result["pid"] == int(runs[1])
    assert bystander.status()["status"] == "succeeded"


def test_bad_configuration_keeps_the_worker_alive_and_the_gateway_refuses_callers(gateway: Gateway, workers: List[Worker]) -> None:
    worker = start(gateway, workers, "broken", "lifecycle:NoSuchClass")
    state, body = worker.settle()
    assert state == "failed" and body["error"]["type"] == "BadConfiguration"
    assert "NoSuchClass" in body["error"]["message"]
    with pytest.raises(e.NotReadyError, match="BadConfiguration"):
        fn(gateway, "broken").run("ok")
    time.sleep(1)
    assert worker.proc is not None and worker.proc.poll() is None  # no restart loop
    assert worker.log().count("hearth: bad configuration") == 1


def test_setup_that_raises_is_reported_and_retried_with_backoff(gateway: Gateway, workers: List[Worker], tmp_path: Path) -> None:
    marker = tmp_path / "healed"
    (tmp_path / "flaky.py").write_text(
        "import os\n"
        "class Model:\n"
        "    def setup(self):\n"
        f"        if not os.path.exists({str(marker)!r}):\n"
        "            raise RuntimeError('weights missing')\n"
        "    def predict(self, x):\n"
        "        return x\n"
    )
    worker = start(gateway, workers, "setup-fails", "flaky:Model", code_path=(tmp_path,))
    state, body = worker.settle()
    assert state == "failed" and body["error"] == {"type": "UserError", "message": body["error"]["message"]}
    assert "weights missing" in body["error"]["message"]
    marker.write_text("")  # the next setup() succeeds
    eventually(lambda: worker.probe("/readyz")[0] == 200, timeout=10, what="the retried setup")
    assert fn(gateway, "setup-fails").run("back") == "back"


def test_a_vessl_runner_serves_unchanged(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "vessl", "vessl_runner:SentimentRunner").wait_ready()
    assert fn(gateway, "vessl").run_input({"text": "great cast, good plot"}) == {"label": "positive", "score": 3}


def test_a_crashed_model_process_fails_its_task_and_is_replaced(gateway: Gateway, workers: List[Worker]) -> None:
    start(gateway, workers, "crash", "lifecycle:Counted").wait_ready()
    f = fn(gateway, "crash")
    before = f.run("ok")
    with pytest.raises(e.UserCodeError, match="exit code 3"):
        f.run("exit")
    assert f.run("ok")["pid"] != before["pid"]


def test_cancel_reaches_the_handler_and_frees_the_worker(gateway: Gateway, workers: List[Worker], tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    (tmp_path / "patient.py").write_text(
        "def wait(seconds, ctx):\n"
        "    cancelled = ctx.wait_cancelled(seconds)\n"
        f"    open({str(seen)!r}, 'a').write(str(cancelled) + ' ')\n"
        "    return 'cancelled' if cancelled else 'finished'\n"
    )
    start(gateway, workers, "cancel", "patient:wait", code_path=(tmp_path,)).wait_ready()
    f = fn(gateway, "cancel")
    task = f.push(20)
    eventually(lambda: task.status()["status"] == "running", what="the task to start")
    assert task.cancel()["status"] == "cancelled"
    eventually(seen.exists, what="the handler to see the cancellation")
    assert seen.read_text() == "True "
    with pytest.raises(e.TaskCancelledError):
        task.result()
    # The slot is free again (concurrency 1): the next task runs at once and to the end.
    assert f.run(0.1) == "finished"


def test_workers_need_their_functions_token(gateway: Gateway, workers: List[Worker]) -> None:
    impostor = start(gateway, workers, "authz", "lifecycle:Counted", token=gateway.token_for("counted"))
    impostor.wait_ready()
    task = fn(gateway, "authz").push("ok")
    # Refused on the worker channel (or, with HEARTH_WORKER_CHANNEL=off, on the lease request).
    refused = ("worker channel failed", "lease failed")
    eventually(lambda: any(r in impostor.log() for r in refused) and "401" in impostor.log(), what="the lease to be refused")
    assert task.status()["status"] == "queued"
    impostor.stop()
    start(gateway, workers, "authz", "lifecycle:Counted").wait_ready()  # the right token
    assert task.result()["calls"] == 1


def test_a_vanished_worker_s_task_is_requeued_and_finished_elsewhere(gateway: Gateway, workers: List[Worker], tmp_path: Path) -> None:
    log = tmp_path / "starts"
    env = {"LIFECYCLE_LOG": str(log)}
    doomed = start(gateway, workers, "disrupted", "lifecycle:Counted", extra_env=env).wait_ready()
    task = fn(gateway, "disrupted").push("sleep:1")
    eventually(lambda: f"start {task.id} " in (log.read_text() if log.exists() else ""), what="the task to start")
    assert doomed.proc is not None
    doomed.proc.kill()  # the pod is gone: no drain, no report
    assert doomed.wait_exit() == -9
    survivor = start(gateway, workers, "disrupted", "lifecycle:Counted", extra_env=env).wait_ready()
    result = task.result()
    runs = [line.split()[2] for line in log.read_text().splitlines() if line.startswith(f"start {task.id} ")]
    assert len(runs) == 2 and result["pid"] == int(runs[1]) != int(runs[0])
    assert survivor.proc is not None and survivor.proc.poll() is None
    # The orphaned model process noticed its supervisor was gone and exited.
    eventually(lambda: not _alive(int(runs[0])), what="the orphaned model process to exit")


def _alive(pid: int) -> bool:
    """Running, not merely unreaped (a container's PID 1 may be slow to reap orphans)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
