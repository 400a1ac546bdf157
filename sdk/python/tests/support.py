"""Helpers for running the real runtime in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

SDK_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = SDK_ROOT.parent.parent
PROTOCOL_DIR = REPO_ROOT / "test" / "protocol"
SHARED_HANDLERS = PROTOCOL_DIR / "handlers" / "python"
LOCAL_HANDLERS = Path(__file__).resolve().parent / "handlers"


def runtime_env(extra: Mapping[str, str]) -> Dict[str, str]:
    """A clean environment for a runtime process: nothing HEARTH_* leaks in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SDK_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


@dataclass
class OneshotResult:
    exit_code: int
    document: Dict[str, Any]
    raw: bytes
    stderr: str


def run_oneshot(
    handler: str,
    input_value: Any = None,
    *,
    code_path: Path = SHARED_HANDLERS,
    timeout_seconds: Optional[float] = None,
    encoding: str = "json",
    input_text: Optional[str] = None,
    no_input: bool = False,
    extra_env: Optional[Mapping[str, str]] = None,
    wall_timeout: float = 30,
) -> OneshotResult:
    with tempfile.TemporaryDirectory(prefix="hearth-oneshot-") as tmp:
        log = Path(tmp) / "termination-log"
        env = {
            "HEARTH_MODE": "oneshot",
            "HEARTH_HANDLER": handler,
            "HEARTH_FUNCTION": "test/oneshot",
            "HEARTH_CODE_PATH": str(code_path),
            "HEARTH_TERMINATION_LOG": str(log),
            "HEARTH_HEALTH_PORT": "0",
            "HEARTH_ENCODING": encoding,
        }
        if not no_input:
            path = Path(tmp) / "input"
            path.write_text(input_text if input_text is not None else json.dumps(input_value))
            env["HEARTH_INPUT_FILE"] = str(path)
        if timeout_seconds is not None:
            env["HEARTH_TIMEOUT_SECONDS"] = str(timeout_seconds)
        env.update(extra_env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "hearth.runtime"],
            env=runtime_env(env),
            cwd=tmp,
            capture_output=True,
            timeout=wall_timeout,
        )
        raw = log.read_bytes() if log.exists() else b""
    document = json.loads(raw) if raw else {}
    return OneshotResult(proc.returncode, document, raw, proc.stderr.decode("utf-8", "replace"))
