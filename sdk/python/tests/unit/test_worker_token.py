"""The warm worker's token source (projected ServiceAccount token file, rotated by the kubelet)
and the worker API's one retry with a fresh read after a 401, against a real HTTP server."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hearth.runtime.config import from_env
from hearth.runtime.worker_api import WorkerApi
from hearth.runtime.worker_token import WorkerTokenSource


def test_reads_the_file_and_rereads_when_fresh_or_old(tmp_path):
    f = tmp_path / "token"
    f.write_text("one\n")
    now = [0.0]
    src = WorkerTokenSource(str(f), "env-token", clock=lambda: now[0], max_age=60)
    assert src.current() == "one"
    f.write_text("two")
    assert src.current() == "one"  # cached
    assert src.current(fresh=True) == "two"
    f.write_text("three")
    now[0] = 61.0
    assert src.current() == "three"


def test_falls_back_to_the_env_token_and_keeps_the_last_good_one(tmp_path):
    f = tmp_path / "token"
    assert WorkerTokenSource(None, "env-token").current() == "env-token"
    src = WorkerTokenSource(str(f), "env-token")
    assert src.current() == "env-token"
    assert src.problem is not None and "cannot read" in src.problem
    f.write_text("sa-token")
    assert src.current(fresh=True) == "sa-token"
    f.unlink()
    assert src.current(fresh=True) == "sa-token"


def test_config_reads_the_token_file_variable():
    env = {"HEARTH_HANDLER": "m:f", "HEARTH_FUNCTION": "ns/fn", "HEARTH_GATEWAY_URL": "http://127.0.0.1:1", "HEARTH_WORKER_TOKEN_FILE": "/var/run/hearth/worker-token/token"}
    assert from_env(env).worker_token_file == "/var/run/hearth/worker-token/token"


def test_a_401_rereads_the_rotated_file_and_retries_once(tmp_path):
    f = tmp_path / "token"
    f.write_text("old")
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            n = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(n)
            auth = self.headers.get("Authorization", "")
            seen.append(auth)
            ok = auth == "Bearer new"
            body = json.dumps({"cancel": []} if ok else {"error": {"type": "Unauthorized", "message": "expired"}}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        src = WorkerTokenSource(str(f), None)
        api = WorkerApi(f"http://127.0.0.1:{server.server_address[1]}", src, "ns/fn", "w1")
        assert api.token() == "old"
        f.write_text("new")  # the kubelet rotated it
        api.heartbeat(0, True, "ready", None, [], None)
        assert seen == ["Bearer old", "Bearer new"]
    finally:
        server.shutdown()
