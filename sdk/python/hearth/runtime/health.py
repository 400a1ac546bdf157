"""``GET /healthz`` (the supervisor is alive), ``GET /readyz`` (a child finished ``setup()``
and the worker takes tasks) and ``GET /startupz`` (setup finished or reported progress: from then
the runtime's own startup deadline governs; see src/workload/startup.ts) for the kubelet's probes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Optional, Tuple

Status = Callable[[], Tuple[bool, Dict[str, Any]]]


class HealthServer:
    def __init__(self, host: str, port: int, status: Status, startup: Optional[Status] = None) -> None:
        """``status()`` returns (ready, details) and must be cheap and thread-safe."""

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._reply(200, {"status": "ok"})
                elif path == "/readyz":
                    ready, details = status()
                    self._reply(200 if ready else 503, {"ready": ready, **details})
                elif path == "/startupz":
                    started, details = (startup or status)()
                    self._reply(200 if started else 503, {"started": started, **details})
                else:
                    self._reply(404, {"error": {"type": "NotFound", "message": f"no route {path}"}})

            def _reply(self, code: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - probes every few seconds would flood the log
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the serving loop to notice, and shutdown
        # should not wait on the probes.
        self._thread = threading.Thread(target=lambda: self._server.serve_forever(poll_interval=0.05), name="hearth-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
