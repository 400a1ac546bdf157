"""The worker's configuration, read once from the environment the operator sets
(docs/protocol.md, "Worker environment")."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from .. import encoding as enc

WARM = "warm"
ONESHOT = "oneshot"

DEFAULT_HEALTH_PORT = 8081
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_STARTUP_TIMEOUT_SECONDS = 600.0
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
DEFAULT_LEASE_WAIT_MS = 20000
DEFAULT_HEARTBEAT_MS = 2000
MAX_CONCURRENCY = 1024


class ConfigError(ValueError):
    """The environment does not describe a runnable worker (exit 2)."""


@dataclass(frozen=True)
class WorkerConfig:
    mode: str
    handler: str
    function: str
    concurrency: int
    timeout_seconds: float
    restart_on_error: bool
    encoding: str
    gpu_fraction: Optional[float]
    code_path: Tuple[str, ...]  # prepended to sys.path, in order
    # warm mode
    gateway_url: Optional[str]
    worker_token: Optional[str]  # HEARTH_WORKER_TOKEN: an HMAC token (dev, pods of an older operator)
    worker_id: str
    health_port: int
    health_host: str
    lease_wait_ms: int
    heartbeat_ms: int
    # oneshot mode
    input_file: Optional[str]
    termination_log: str
    # the deadline of setup() (spec.startupTimeoutSeconds); setup progress extends it
    startup_timeout_seconds: float = DEFAULT_STARTUP_TIMEOUT_SECONDS
    # an isolated call: claim this gateway task for the input, post the output to it
    task_id: Optional[str] = None
    task_token: Optional[str] = None
    # lease over the worker channel (docs/protocol.md); False: lease/results requests
    # (HEARTH_WORKER_CHANNEL=off)
    worker_channel: bool = True
    # HEARTH_WORKER_TOKEN_FILE: the pod's projected ServiceAccount token (worker_token.py)
    worker_token_file: Optional[str] = None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, low: float, high: float) -> Optional[float]:
    raw = env.get(name, "").strip()
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false, got {env.get(name)!r}")


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def from_env(env: Mapping[str, str]) -> WorkerConfig:
    mode = env.get("HEARTH_MODE", "").strip() or WARM
    if mode not in (WARM, ONESHOT):
        raise ConfigError(f"HEARTH_MODE must be warm or oneshot, got {mode!r}")
    handler = env.get("HEARTH_HANDLER", "").strip()
    if not handler:
        raise ConfigError('HEARTH_HANDLER is not set: it names the handler as "module:attr", e.g. app.model:Whisper')
    encoding = env.get("HEARTH_ENCODING", "").strip() or enc.JSON
    if encoding not in enc.ENCODINGS:
        raise ConfigError(f"HEARTH_ENCODING must be json or pickle, got {encoding!r}")
    function = env.get("HEARTH_FUNCTION", "").strip()
    gateway_url = env.get("HEARTH_GATEWAY_URL", "").strip().rstrip("/") or None
    task_id = env.get("HEARTH_TASK_ID", "").strip() or None
    if mode == ONESHOT and task_id is not None and not gateway_url:
        raise ConfigError("HEARTH_GATEWAY_URL is not set: an isolated call claims HEARTH_TASK_ID from the gateway")
    if mode == WARM:
        if not gateway_url:
            raise ConfigError("HEARTH_GATEWAY_URL is not set: a warm worker leases its tasks from the gateway")
        if not gateway_url.startswith(("http://", "https://")):
            raise ConfigError(f"HEARTH_GATEWAY_URL must be an http(s) URL, got {gateway_url!r}")
        if function.count("/") != 1 or function.startswith("/") or function.endswith("/"):
            raise ConfigError(f'HEARTH_FUNCTION must be "<namespace>/<name>", got {function!r}')
    timeout = _float(env, "HEARTH_TIMEOUT_SECONDS", 0.001, 172800)
    startup_timeout = _float(env, "HEARTH_STARTUP_TIMEOUT_SECONDS", 0.001, 86400)
    return WorkerConfig(
        mode=mode,
        handler=handler,
        function=function,
        concurrency=_int(env, "HEARTH_CONCURRENCY", 1, 1, MAX_CONCURRENCY),
        timeout_seconds=timeout if timeout is not None else DEFAULT_TIMEOUT_SECONDS,
        restart_on_error=_bool(env, "HEARTH_RESTART_ON_ERROR", True),
        encoding=encoding,
        gpu_fraction=_float(env, "HEARTH_GPU_FRACTION", 0.0, 1.0),
        code_path=tuple(p for p in env.get("HEARTH_CODE_PATH", "").strip().split(os.pathsep) if p),
        gateway_url=gateway_url,
        worker_token=env.get("HEARTH_WORKER_TOKEN", "").strip() or None,
        worker_token_file=env.get("HEARTH_WORKER_TOKEN_FILE", "").strip() or None,
        worker_id=env.get("HEARTH_WORKER_ID", "").strip() or _default_worker_id(),
        health_port=_int(env, "HEARTH_HEALTH_PORT", DEFAULT_HEALTH_PORT, 0, 65535),
        health_host=env.get("HEARTH_HEALTH_HOST", "").strip() or "0.0.0.0",
        lease_wait_ms=_int(env, "HEARTH_LEASE_WAIT_MS", DEFAULT_LEASE_WAIT_MS, 0, 120000),
        heartbeat_ms=_int(env, "HEARTH_HEARTBEAT_MS", DEFAULT_HEARTBEAT_MS, 50, 60000),
        input_file=env.get("HEARTH_INPUT_FILE", "").strip() or None,
        termination_log=env.get("HEARTH_TERMINATION_LOG", "").strip() or DEFAULT_TERMINATION_LOG,
        startup_timeout_seconds=startup_timeout if startup_timeout is not None else DEFAULT_STARTUP_TIMEOUT_SECONDS,
        task_id=task_id,
        task_token=env.get("HEARTH_TASK_TOKEN", "").strip() or None,
        worker_channel=env.get("HEARTH_WORKER_CHANNEL", "").strip().lower() != "off",
    )
