"""The handler's signature, reported to the gateway once ``setup()`` is done (docs/protocol.md,
"Handler signature"): a JSON Schema of the input object built from the parameters' names,
defaults and type hints (str, int, float, bool, list/List[T], dict/Dict, Optional[T],
Literal[...], hearth.File). A handler may give its own schema as ``input_schema`` (or
``inputSchema``) on the class or function instead."""

from __future__ import annotations

import enum
import inspect
import json
import pathlib
import typing
from typing import Any, Callable, Dict, List, Optional

from ..files import File
from .binding import CONTEXT_NAMES

MAX_SIGNATURE_BYTES = 64 * 1024

Schema = Dict[str, Any]

_PRIMITIVES: Dict[Any, Schema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    bytes: {"type": "string", "contentEncoding": "base64"},
    list: {"type": "array"},
    tuple: {"type": "array"},
    set: {"type": "array"},
    dict: {"type": "object"},
    type(None): {"type": "null"},
}


def schema_of_type(hint: Any) -> Schema:
    """JSON Schema of one annotation; ``{}`` (anything) for what it cannot express."""
    if hint is inspect.Parameter.empty or hint is Any:
        return {}
    if isinstance(hint, type) and issubclass(hint, File):
        return {"type": "string", "format": "uri"}
    if hint is pathlib.Path:
        return {"type": "string"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    if hint in _PRIMITIVES:
        return dict(_PRIMITIVES[hint])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        values = list(args)
        schema: Schema = {"enum": values}
        kinds = {type(v) for v in values}
        if len(kinds) == 1:
            schema.update(_PRIMITIVES.get(kinds.pop(), {}))
        return schema
    if origin is typing.Union or _is_union_type(origin):
        members = [a for a in args if a is not type(None)]
        nullable = len(members) < len(args)
        if len(members) == 1:
            inner = schema_of_type(members[0])
            if nullable and isinstance(inner.get("type"), str):
                inner["type"] = [inner["type"], "null"]
            elif nullable and inner:
                inner = {"anyOf": [inner, {"type": "null"}]}
            return inner
        return {"anyOf": [schema_of_type(a) for a in args]}
    if origin in (list, set, tuple, frozenset) or origin in (typing.List, typing.Sequence):
        schema = {"type": "array"}
        if args and args[-1] is not Ellipsis and (origin is not tuple or len(args) == 1):
            schema["items"] = schema_of_type(args[0])
        return schema
    if origin in (dict, typing.Dict) or origin is typing.Mapping:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = schema_of_type(args[1])
        return schema
    try:
        from collections import abc

        if origin in (abc.Sequence, abc.Iterable):
            return {"type": "array", "items": schema_of_type(args[0])} if args else {"type": "array"}
        if origin is abc.Mapping:
            return {"type": "object"}
    except ImportError:  # pragma: no cover
        pass
    return {}


def _is_union_type(origin: Any) -> bool:
    union_type = getattr(__import__("types"), "UnionType", None)
    return union_type is not None and origin is union_type


def _json_default(value: Any) -> Optional[List[Any]]:
    """``[value]`` when the default is JSON (what a form can prefill), else None."""
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return [value]


def _exported(target: Any) -> Optional[Schema]:
    for name in ("input_schema", "inputSchema"):
        schema = getattr(target, name, None)
        if callable(schema):
            try:
                schema = schema()
            except Exception:  # user code: a broken schema means "not reported", not a failed worker
                return None
        if isinstance(schema, dict) and schema.get("type") == "object" and isinstance(schema.get("properties"), dict):
            return schema
    return None


def signature_of(fn: Optional[Callable[..., Any]], target: Any = None) -> Optional[Dict[str, Any]]:
    """``{"source", "inputSchema"}``, or None when the parameters cannot be known."""
    if target is not None:
        exported = _exported(target)
        if exported is not None:
            return {"source": "exported", "inputSchema": exported}
    if fn is None:
        return None
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    properties: Dict[str, Schema] = {}
    required: List[str] = []
    extra = False
    typed = False
    for p in sig.parameters.values():
        if p.name in CONTEXT_NAMES:
            continue
        if p.kind is p.VAR_KEYWORD:
            extra = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        hint = hints.get(p.name, p.annotation)
        if isinstance(hint, str):
            hint = inspect.Parameter.empty
        prop = schema_of_type(hint)
        typed = typed or bool(prop)
        if p.default is not p.empty:
            default = _json_default(p.default)
            if default is not None:
                prop["default"] = default[0]
        else:
            required.append(p.name)
        properties[p.name] = prop
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if not extra:
        schema["additionalProperties"] = False
    return {"source": "type-hints" if typed else "parameters", "inputSchema": schema}


def wire_signature(fn: Optional[Callable[..., Any]], target: Any = None) -> Optional[Dict[str, Any]]:
    """The signature to send: None when unknown, broken or over the size limit."""
    try:
        sig = signature_of(fn, target)
        if sig is None:
            return None
        return sig if len(json.dumps(sig)) <= MAX_SIGNATURE_BYTES else None
    except Exception:
        return None
