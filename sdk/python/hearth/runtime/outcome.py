"""How a task ends: exceptions become exit-code classes, outputs become wire fields."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from .. import encoding as enc
from ..errors import (
    BAD_CONFIGURATION,
    EXIT_CODES,
    FATAL,
    INPUT_REJECTED,
    USER_ERROR,
    FatalError,
    InputRejected,
)
from .binding import BindError
from .handler import HandlerConfigError

MAX_MESSAGE = 8192


@dataclass(frozen=True)
class Failure:
    type: str
    message: str
    reason: Optional[str] = None  # finer than the class, e.g. "SetupTimeout"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.type]

    def to_wire(self) -> Dict[str, Any]:
        if self.reason is not None:
            return {"type": self.type, "reason": self.reason, "message": self.message}
        return {"type": self.type, "message": self.message}


class OutputError(Exception):
    """The handler's return value cannot be encoded."""


def describe(err: BaseException) -> str:
    """``Type: message`` plus where in user code it was raised: enough for a caller to act on
    without reading the worker's logs (which hold the full traceback)."""
    text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    frames = traceback.extract_tb(err.__traceback__)
    user = [f for f in frames if "/hearth/runtime/" not in f.filename.replace("\\", "/")]
    if user:
        last = user[-1]
        text += f" (at {last.filename}:{last.lineno} in {last.name})"
    return text[:MAX_MESSAGE]


def classify(err: BaseException) -> Failure:
    if isinstance(err, FatalError):
        return Failure(FATAL, describe(err))
    if isinstance(err, (BindError, enc.DecodeError)):
        return Failure(INPUT_REJECTED, str(err)[:MAX_MESSAGE])
    if isinstance(err, InputRejected):
        return Failure(INPUT_REJECTED, (str(err) or "input rejected")[:MAX_MESSAGE])
    if isinstance(err, HandlerConfigError):
        return Failure(BAD_CONFIGURATION, str(err)[:MAX_MESSAGE])
    if isinstance(err, SystemExit):
        return Failure(USER_ERROR, f"handler called sys.exit({err.code!r})")
    if isinstance(err, OutputError):
        return Failure(USER_ERROR, str(err)[:MAX_MESSAGE])
    return Failure(USER_ERROR, describe(err))


def decode_input(fields: Mapping[str, Any], encoding: str) -> Any:
    """The task input from a lease's ``input``/``inputB64`` fields."""
    if encoding == enc.PICKLE:
        raw = fields.get("inputB64")
        if not isinstance(raw, str):
            raise enc.DecodeError("encoding is pickle but the task has no inputB64")
        return enc.pickle_loads(enc.b64_decode(raw))
    if "inputB64" in fields and "input" not in fields:
        raise enc.DecodeError("task input is pickled but this Function's encoding is json")
    return fields.get("input")


def encode_items(value: Any) -> Dict[str, Any]:
    """A pickle map step's output (the lease said ``outputItems``): ``{"outputItemsB64": […]}``,
    each item pickled on its own so the gateway can hand them on one by one."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise OutputError(f"a map step must return a list, got {type(value).__name__}")
    try:
        return {"outputItemsB64": [enc.b64_encode(enc.pickle_dumps(item)) for item in value]}
    except Exception as err:  # pickling can raise nearly anything
        raise OutputError(f"an item of the output cannot be pickled: {type(err).__name__}: {err}") from err


def encode_output(value: Any, encoding: str) -> Dict[str, Any]:
    """``{"output": …}`` or ``{"outputB64": …}``; raises :class:`OutputError`."""
    if encoding == enc.PICKLE:
        try:
            return {"outputB64": enc.b64_encode(enc.pickle_dumps(value))}
        except Exception as err:  # pickling can raise nearly anything
            raise OutputError(f"output cannot be pickled: {type(err).__name__}: {err}") from err
    try:
        enc.json_dumps(value)
    except (TypeError, ValueError) as err:
        raise OutputError(f"output is not JSON-serializable: {err}") from err
    return {"output": value}
