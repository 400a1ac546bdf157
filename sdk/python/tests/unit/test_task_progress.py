"""An isolated call's ctx progress goes to its gateway task (oneshot_task.GatewayTask.progress):
with the task token and the claim's lease, the latest update winning, the last one out before
the output; a gateway that refuses or cannot be reached never fails the call."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

from hearth.runtime.config import from_env
from hearth.runtime.oneshot_task import GatewayTask


def _server(seen: List[Tuple[str, str, Dict[str, Any]]], delay: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
            seen.append((self.path, self.headers.get("authorization", ""), body))
            if self.path.endswith("/claim"):
                answer = {"id": "t-1", "attempt": 1, "leaseId": "lease-1", "input": None, "encoding": "json"}
            else:
                time.sleep(delay)
                answer = {}
            raw = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _task(url: str, logs: List[str]) -> GatewayTask:
    config = from_env({"HEARTH_MODE": "oneshot", "HEARTH_HANDLER": "m:f", "HEARTH_GATEWAY_URL": url, "HEARTH_TASK_ID": "t-1", "HEARTH_TASK_TOKEN": "task-token", "HEARTH_FUNCTION": "ns/fn"})
    return GatewayTask(config, logs.append, patience=0.0)


def test_progress_goes_to_the_task_latest_wins_last_before_the_output() -> None:
    seen: List[Tuple[str, str, Dict[str, Any]]] = []
    server = _server(seen, delay=0.1)
    try:
        task = _task(f"http://127.0.0.1:{server.server_address[1]}", [])
        assert task.claim() is None
        task.progress(0.1, "one")
        time.sleep(0.03)  # the first post is on its way
        task.progress(0.2, "two")
        task.progress(0.3, None)
        _doc, code = task.deliver({"output": "ok"})
        assert code == 0
        progress = [(auth, body) for path, auth, body in seen if path == "/v1/tasks/t-1/progress"]
        assert [body for _auth, body in progress] == [{"leaseId": "lease-1", "value": 0.1, "message": "one"}, {"leaseId": "lease-1", "value": 0.3}]
        assert all(auth == "Bearer task-token" for auth, _body in progress)
        assert seen[-1][0] == "/v1/tasks/t-1/complete"
    finally:
        server.shutdown()


def test_an_unreachable_gateway_never_fails_the_call() -> None:
    logs: List[str] = []
    task = _task("http://127.0.0.1:1", logs)
    task.progress(0.5, None)
    _doc, code = task.deliver({"output": "ok"})
    assert code == 0
    assert any("cannot post progress" in line for line in logs), logs
