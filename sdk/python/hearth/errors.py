"""The exit-code contract (docs/protocol.md) and the exceptions handler code raises.

The classes are shared by the runtime (which produces them) and the client (which reports them),
so their names and codes live here once.
"""

from __future__ import annotations

from typing import Dict, Optional

USER_ERROR = "UserError"
BAD_CONFIGURATION = "BadConfiguration"
INPUT_REJECTED = "InputRejected"
FATAL = "Fatal"
TIMEOUT = "Timeout"
DISRUPTED = "Disrupted"
CANCELLED = "Cancelled"

#: Exit code of each class that a process can end with. Disrupted and Cancelled have none: the
#: worker did not decide them.
EXIT_CODES: Dict[str, int] = {
    USER_ERROR: 1,
    BAD_CONFIGURATION: 2,
    INPUT_REJECTED: 65,
    FATAL: 75,
    TIMEOUT: 124,
}

#: Largest JSON document a oneshot worker may leave in its termination log (the kubelet's limit).
TERMINATION_LOG_LIMIT = 4096


def exit_code_of(error_type: str) -> Optional[int]:
    """The exit code of an error class, or None for classes no process exits with."""
    return EXIT_CODES.get(error_type)


class FatalError(Exception):
    """Raise from handler code when the process state is gone (e.g. a CUDA error).

    The task fails with class ``Fatal`` (exit 75) and the worker's container restarts, so the
    next task gets a fresh process, fresh GPU context and a fresh ``setup()``.
    """


class InputRejected(Exception):
    """Raise from handler code to reject the caller's input (class ``InputRejected``, exit 65).

    The error goes back to the caller, the task is never retried and the worker stays warm:
    use it for validation failures the caller must fix.
    """
