"""Payload encodings: ``json`` always, ``pickle`` when a Function asks for it.

Pickled payloads travel base64-encoded inside JSON documents (``inputB64``/``outputB64``) and as
raw bytes on the caller API. Dumping uses cloudpickle when it is installed, so lambdas and classes
defined in ``__main__`` survive; loading always works with plain :mod:`pickle` because cloudpickle
emits ordinary pickle streams.
"""

from __future__ import annotations

import base64
import binascii
import json
import pickle
from typing import Any, Callable

JSON = "json"
PICKLE = "pickle"
ENCODINGS = (JSON, PICKLE)
PICKLE_CONTENT_TYPE = "application/x-python-pickle"


class DecodeError(ValueError):
    """The payload is not valid for its encoding."""


def _pickle_dumps() -> Callable[[Any], bytes]:
    try:
        import cloudpickle  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return lambda value: pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    dumps: Callable[[Any], bytes] = cloudpickle.dumps
    return dumps


def pickle_dumps(value: Any) -> bytes:
    return _pickle_dumps()(value)


def pickle_loads(data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except Exception as err:  # unpickling can raise nearly anything
        raise DecodeError(f"input is not a valid pickle: {type(err).__name__}: {err}") from err


def b64_encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64_decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as err:
        raise DecodeError(f"input is not valid base64: {err}") from err


def json_dumps(value: Any) -> str:
    """Strict JSON: NaN/Infinity are not JSON and would break other runtimes' parsers."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)


def json_loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise DecodeError(f"input is not valid JSON: {err}") from err
