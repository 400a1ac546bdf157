"""The real gateway (``hearth gateway`` from the TypeScript sources) and real warm workers
(``python -m hearth.runtime``) as subprocesses, for the end-to-end tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from support import REPO_ROOT, SHARED_HANDLERS, runtime_env

NAMESPACE = "pytest"


def node_binary() -> str:
    """The pinned Node 24 (hack/test.ts passes HEARTH_NODE; the system node is too old)."""
    return os.environ.get("HEARTH_NODE") or str(REPO_ROOT / "node_modules" / ".bin" / "node")


def worker_token(signing_key: str, namespace: str, name: str) -> str:
    """Same as src/auth/worker-token.ts."""
    digest = hmac.new(signing_key.encode(), f"worker:{namespace}/{name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class FunctionDef:
    """A Function the gateway serves. ``handler`` is only what the manifest says; the worker is
    told its handler directly, so tests can give workers handlers the API would refuse."""

    name: str
    timeout_seconds: int = 30
    encoding: str = "json"
    concurrency: int = 1
    max_retries: int = 0

    def manifest(self) -> Dict[str, Any]:
        return {
            "apiVersion": "hearth.dev/v1alpha1",
            "kind": "Function",
            "metadata": {"name": self.name, "namespace": NAMESPACE},
            "spec": {
                "image": "local/python-tests:dev",
                "handler": "app:Model",
                "runtime": "python",
                "timeoutSeconds": self.timeout_seconds,
                "encoding": self.encoding,
                "concurrency": self.concurrency,
                "retries": {"maxRetries": self.max_retries, "initialBackoffSeconds": 1},
            },
        }


def _drain(stream: IO[bytes], sink: List[str]) -> None:
    for line in iter(stream.readline, b""):
        sink.append(line.decode("utf-8", "replace"))


class Gateway:
    def __init__(
        self,
        functions: Sequence[FunctionDef],
        *,
        caller_tokens: Sequence[str] = (),
        signing_key: Optional[str] = None,
        worker_timeout: str = "10s",
        extra_manifests: Sequence[Dict[str, Any]] = (),
        extra_args: Sequence[str] = (),
    ) -> None:
        self.functions = {f.name: f for f in functions}
        # Other objects the gateway serves from its manifests file (Workflows).
        self.extra_manifests = list(extra_manifests)
        self.worker_timeout = worker_timeout
        self.extra_args = list(extra_args)  # more `hearth gateway` flags
        self.caller_tokens = list(caller_tokens)
        # The gateway fails closed: the worker API always needs a signing key (workers started
        # through worker() get their Function's token), and a gateway without caller tokens
        # opens its caller API only with an explicit --insecure-open.
        self.signing_key = signing_key or "pytest-default-signing-key-0123456789"
        self._tmp = tempfile.TemporaryDirectory(prefix="hearth-gateway-")
        self.log: List[str] = []
        self.url = ""
        self._proc: Optional["subprocess.Popen[bytes]"] = None

    def start(self, timeout: float = 60) -> "Gateway":
        tmp = Path(self._tmp.name)
        functions_file = tmp / "functions.yaml"
        docs = [f.manifest() for f in self.functions.values()] + self.extra_manifests
        functions_file.write_text("\n---\n".join(json.dumps(d) for d in docs))
        args = [
            node_binary(),
            str(REPO_ROOT / "src" / "cli" / "main.ts"),
            "gateway",
            "--port", "0",
            "--host", "127.0.0.1",
            "--store", str(tmp / "gateway.db"),
            "--store-sync", "normal",
            "--functions", str(functions_file),
            "--log-level", "info",
            "--worker-timeout", self.worker_timeout,
        ]  # fmt: skip
        if self.caller_tokens:
            (tmp / "callers").write_text("\n".join(self.caller_tokens))
            args += ["--caller-tokens-file", str(tmp / "callers")]
        (tmp / "signing-key").write_text(self.signing_key)
        args += ["--worker-signing-key-file", str(tmp / "signing-key")]
        if not self.caller_tokens:
            args += ["--insecure-open"]
        args += self.extra_args
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        self._proc = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        for raw in iter(self._proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.log.append(line)
            if '"gateway listening"' in line:
                self.url = json.loads(line)["url"]
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.stop()
            raise RuntimeError("the gateway did not start:\n" + "".join(self.log[-50:]))
        threading.Thread(target=_drain, args=(self._proc.stdout, self.log), daemon=True).start()
        return self

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._tmp.cleanup()

    def request_counts(self) -> Dict[str, int]:
        """``hearth_gateway_requests_total`` per route (all status codes), from /metrics."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as r:
            text = r.read().decode("utf-8")
        counts: Dict[str, int] = {}
        for m in re.finditer(r'^hearth_gateway_requests_total\{route="([^"]+)",code="\d+"\} (\d+)$', text, re.M):
            counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
        return counts

    def token_for(self, name: str) -> Optional[str]:
        return worker_token(self.signing_key, NAMESPACE, name) if self.signing_key else None

    def worker(self, function: str, handler: str, **kwargs: Any) -> "Worker":
        fn = self.functions[function]
        kwargs.setdefault("token", self.token_for(function))
        return Worker(self.url, fn, handler, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Worker:
    gateway_url: str
    fn: FunctionDef
    handler: str
    code_path: Sequence[Path] = (SHARED_HANDLERS,)
    restart_on_error: bool = True
    token: Optional[str] = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    health_port: int = 0
    proc: Optional["subprocess.Popen[bytes]"] = None
    output: List[str] = field(default_factory=list)

    def start(self) -> "Worker":
        self.health_port = free_port()
        env = {
            "HEARTH_MODE": "warm",
            "HEARTH_HANDLER": self.handler,
            "HEARTH_FUNCTION": f"{NAMESPACE}/{self.fn.name}",
            "HEARTH_GATEWAY_URL": self.gateway_url,
            "HEARTH_WORKER_ID": f"{self.fn.name}-{time.monotonic_ns()}",
            "HEARTH_CONCURRENCY": str(self.fn.concurrency),
            "HEARTH_TIMEOUT_SECONDS": str(self.fn.timeout_seconds),
            "HEARTH_RESTART_ON_ERROR": "true" if self.restart_on_error else "false",
            "HEARTH_ENCODING": self.fn.encoding,
            "HEARTH_HEALTH_PORT": str(self.health_port),
            "HEARTH_HEALTH_HOST": "127.0.0.1",
            "HEARTH_HEARTBEAT_MS": "200",
            "HEARTH_CODE_PATH": os.pathsep.join(str(p) for p in self.code_path),
        }
        if self.token:
            env["HEARTH_WORKER_TOKEN"] = self.token
        env.update(self.extra_env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hearth.runtime"],
            env=runtime_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        threading.Thread(target=_drain, args=(self.proc.stdout, self.output), daemon=True).start()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return "".join(self.output)

    def probe(self, path: str) -> Tuple[int, Any]:
        """(status, body) of a health endpoint; (0, None) when nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=2) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")
        except (OSError, ValueError):
            return 0, None

    def settle(self, timeout: float = 20) -> Tuple[str, Any]:
        """Waits until the worker is ready, reports a setup failure, or exits:
        ("ready", body) | ("failed", body) | ("exited", code)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return "exited", code
            status, body = self.probe("/readyz")
            if status == 200:
                return "ready", body
            # A failed setup counts once the gateway has heard of it (it then refuses callers).
            if status == 503 and isinstance(body, dict) and body.get("state") == "failed" and body.get("reported") == "failed":
                return "failed", body
            time.sleep(0.02)
        raise AssertionError(f"worker did not settle within {timeout}s:\n{self.log()}")

    def wait_ready(self, timeout: float = 20) -> "Worker":
        state, detail = self.settle(timeout)
        assert state == "ready", f"worker {state}: {detail}\n{self.log()}"
        return self

    def wait_exit(self, timeout: float = 20) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker did not exit within {timeout}s:\n{self.log()}") from None

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Drain, then make sure nothing of the worker is left (its child included)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the supervisor's group: leftovers, if any
        except (ProcessLookupError, PermissionError):
            pass
