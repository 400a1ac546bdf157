"""The Python warm worker on the worker channel (docs/protocol.md, "Worker channel"), end to end:
real gateway, real supervisor and child processes. Many tasks through channels the gateway ends
every second, through channels cut mid-stream by a proxy, and with the channel turned off; each
task's output is recorded once and is the right one."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from gateway import NAMESPACE, FunctionDef, Gateway, Worker
from support import LOCAL_HANDLERS

from hearth import Client

SIGNING_KEY = "pytest-channel-signing-key"
HANDLER = "channel_echo:echo"


class CuttingProxy:
    """A TCP proxy to the gateway whose :meth:`cut` breaks every connection open through it."""

    def __init__(self, target_url: str) -> None:
        host_port = target_url.split("://", 1)[1].rstrip("/")
        host, port = host_port.rsplit(":", 1)
        self._target = (host, int(port))
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        self._conns: List[socket.socket] = []
        self._closed = False
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
            self.cuts += 1
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._server.close()
        self.cut()


@pytest.fixture
def started() -> Iterator[List[Any]]:
    """Gateways, workers and proxies to stop after the test, in reverse order."""
    things: List[Any] = []
    yield things
    for thing in reversed(things):
        thing.stop() if hasattr(thing, "stop") else thing.close()


def start_gateway(started: List[Any], *extra_args: str, concurrency: int = 4) -> Gateway:
    gw = Gateway([FunctionDef("echo", concurrency=concurrency, timeout_seconds=60)], signing_key=SIGNING_KEY, extra_args=extra_args).start()
    started.append(gw)
    return gw


def start_worker(started: List[Any], gw: Gateway, log: Path, url: str = "", **env: str) -> Worker:
    w = Worker(
        url or gw.url,
        gw.functions["echo"],
        HANDLER,
        code_path=(LOCAL_HANDLERS,),
        token=gw.token_for("echo"),
        extra_env={"CHANNEL_LOG": str(log), **env},
    )
    started.append(w.start())
    return w.wait_ready()


def push_and_collect(gw: Gateway, n: int, sleep: float) -> Tuple[List[Dict[str, Any]], List[Any]]:
    f = Client(gw.url, env={}).function(f"{NAMESPACE}/echo", timeout=120)
    tasks = f.push_many([{"n": i, "sleep": sleep} for i in range(n)])
    return [t.result(timeout=120) for t in tasks], tasks


def runs_per_item(log: Path) -> Dict[int, int]:
    counts: Dict[int, int] = {}
    for line in log.read_text().split():
        counts[int(line)] = counts.get(int(line), 0) + 1
    return counts


def test_many_tasks_through_channels_the_gateway_ends_every_second(started: List[Any], tmp_path: Path) -> None:
    # --request-timeout 2s: the gateway ends each channel after 1 s ({"end":true}); the worker
    # opens the next one while the previous one still delivers its acknowledgements.
    gw = start_gateway(started, "--request-timeout", "2s")
    log = tmp_path / "runs"
    worker = start_worker(started, gw, log)
    n = 300
    # 300 × 50 ms over 4 slots ≈ 3.75 s of work: at least 3 channels even on an idle machine
    # (at 20 ms the work fitted in 2 channels there).
    outputs, tasks = push_and_collect(gw, n, sleep=0.05)
    assert outputs == [{"n": i, "square": i * i} for i in range(n)]
    assert all(t.status()["attempts"] == 1 for t in tasks[:20])
    # Exactly once: no task ran twice, none was lost.
    assert runs_per_item(log) == {i: 1 for i in range(n)}
    counts = gw.request_counts()
    assert counts.get("channel", 0) >= 3, f"{counts}\n{worker.log()}"
    # Leases and outcomes went over the channels, not as requests.
    for route in ("lease", "results", "complete", "fail"):
        assert counts.get(route, 0) == 0, f"{route}: {counts}"


def test_channels_cut_mid_stream_lose_no_result(started: List[Any], tmp_path: Path) -> None:
    gw = start_gateway(started)
    proxy = CuttingProxy(gw.url)
    started.append(proxy)
    log = tmp_path / "runs"
    worker = start_worker(started, gw, log, url=proxy.url)
    done = threading.Event()

    def cutter() -> None:
        while not done.wait(0.15):
            proxy.cut()

    threading.Thread(target=cutter, daemon=True).start()
    n = 200
    try:
        outputs, _ = push_and_collect(gw, n, sleep=0.02)
    finally:
        done.set()
    # Every output recorded, once, right: a result whose acknowledgement the cut swallowed is
    # reported again on the next channel (the gateway answers a repeat with the same lease as
    # the first); a grant the cut swallowed is re-queued by the heartbeat's task list.
    assert outputs == [{"n": i, "square": i * i} for i in range(n)]
    assert set(runs_per_item(log)) == set(range(n))
    assert proxy.cuts >= 3
    counts = gw.request_counts()
    assert counts.get("channel", 0) >= 3, f"{counts}\n{worker.log()}"
    for route in ("lease", "complete", "fail"):
        assert counts.get(route, 0) == 0, f"{route}: {counts}"


def test_channel_off_leases_with_requests(started: List[Any], tmp_path: Path) -> None:
    gw = start_gateway(started)
    log = tmp_path / "runs"
    start_worker(started, gw, log, HEARTH_WORKER_CHANNEL="off")
    outputs, _ = push_and_collect(gw, 40, sleep=0.0)
    assert outputs == [{"n": i, "square": i * i} for i in range(40)]
    assert runs_per_item(log) == {i: 1 for i in range(40)}
    counts = gw.request_counts()
    assert counts.get("channel", 0) == 0 and counts.get("lease", 0) > 0 and counts.get("complete", 0) > 0, counts


def test_a_worker_drains_over_the_channel(started: List[Any], tmp_path: Path) -> None:
    """SIGTERM mid-stream: the tasks held finish and are reported before the worker exits 0."""
    gw = start_gateway(started, concurrency=2)
    log = tmp_path / "runs"
    worker = start_worker(started, gw, log)
    f = Client(gw.url, env={}).function(f"{NAMESPACE}/echo", timeout=60)
    tasks = f.push_many([{"n": i, "sleep": 0.5} for i in range(2)])
    deadline = time.monotonic() + 20
    while not (log.exists() and len(log.read_text().split()) == 2):
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.02)
    worker.terminate()
    assert worker.wait_exit(20) == 0, worker.log()
    assert [t.result(timeout=10) for t in tasks] == [{"n": i, "square": i * i} for i in range(2)]
    assert gw.request_counts().get("complete", 0) == 0
