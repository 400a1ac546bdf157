"""The warm worker's child process: how it is started (its environment, its own process group,
the socketpair the supervisor talks to it over) and what the supervisor knows of it."""

from __future__ import annotations

import os
import signal
import site
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

from . import gpu
from .channel import Channel
from .config import WorkerConfig
from .deadline import Deadline

# Child states.
SETUP = "setup"
READY = "ready"
RETIRING = "retiring"  # finishing its tasks, then replaced
STOPPING = "stopping"  # told to exit (or killed); its exit is expected
DEAD = "dead"


@dataclass
class ChildHandle:
    gen: int
    proc: "subprocess.Popen[bytes]"
    channel: Channel
    state: str = SETUP
    exited: bool = False
    exit_code: Optional[int] = None
    stop_requested_at: Optional[float] = None
    setup_reported: bool = False
    tasks: Set[str] = field(default_factory=set)
    # The startup deadline (startupTimeoutSeconds), pushed out by setup progress.
    setup_deadline: Optional[Deadline] = None
    setup_started: float = 0.0
    setup_progress: Optional[Tuple[float, Optional[str]]] = None


_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _site_dirs() -> List[str]:
    try:
        return [*site.getsitepackages(), site.getusersitepackages()]
    except AttributeError:  # some virtualenvs' site module lacks them
        return []


def child_python_path(current: str, package_root: str, site_dirs: List[str]) -> Optional[str]:
    """PYTHONPATH for the child, or None to leave it alone. The child must import this very
    package even from a checkout that is not installed; an installed package needs nothing, and
    putting site-packages on PYTHONPATH would let it shadow the standard library and the
    Function's pythonPackages."""
    entries = [p for p in current.split(os.pathsep) if p]
    root = os.path.abspath(package_root)
    if root in (os.path.abspath(p) for p in entries) or root in (os.path.abspath(p) for p in site_dirs):
        return None
    return os.pathsep.join([*entries, root])


def spawn_child(config: WorkerConfig, gen: int) -> ChildHandle:
    parent_sock, child_sock = socket.socketpair()
    env = dict(os.environ)
    # The worker token is the supervisor's business, not user code's.
    env.pop("HEARTH_WORKER_TOKEN", None)
    env.pop("HEARTH_WORKER_TOKEN_FILE", None)
    env.update(gpu.framework_env(config.gpu_fraction, env))
    env["HEARTH_CHILD_FD"] = str(child_sock.fileno())
    env.setdefault("PYTHONUNBUFFERED", "1")
    python_path = child_python_path(env.get("PYTHONPATH", ""), _PACKAGE_ROOT, _site_dirs())
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from hearth.runtime.child import main; main()"],
            env=env,
            pass_fds=(child_sock.fileno(),),
            # Own process group: a terminal's Ctrl-C reaches only the supervisor, which decides,
            # and a kill reaches every process the user's code started.
            start_new_session=True,
        )
    finally:
        child_sock.close()
    return ChildHandle(gen=gen, proc=proc, channel=Channel(parent_sock))


def exit_detail(code: Optional[int]) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = ": out of memory?" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"
