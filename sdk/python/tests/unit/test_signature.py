"""The handler signature a Python worker reports: type hints → JSON Schema."""

from __future__ import annotations

import enum
from typing import Any, Dict, List, Literal, Optional, Tuple, Union

import hearth
from hearth.runtime import handler as handlers
from hearth.runtime.signature import schema_of_type, signature_of, wire_signature


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_primitives_and_containers() -> None:
    assert schema_of_type(str) == {"type": "string"}
    assert schema_of_type(int) == {"type": "integer"}
    assert schema_of_type(float) == {"type": "number"}
    assert schema_of_type(bool) == {"type": "boolean"}
    assert schema_of_type(list) == {"type": "array"}
    assert schema_of_type(List[int]) == {"type": "array", "items": {"type": "integer"}}
    assert schema_of_type(list[str]) == {"type": "array", "items": {"type": "string"}}
    assert schema_of_type(Dict[str, float]) == {"type": "object", "additionalProperties": {"type": "number"}}
    assert schema_of_type(dict) == {"type": "object"}
    assert schema_of_type(Tuple[int, ...]) == {"type": "array"}
    assert schema_of_type(Any) == {}


def test_optional_literal_union_file_enum() -> None:
    assert schema_of_type(Optional[str]) == {"type": ["string", "null"]}
    assert schema_of_type(Optional[List[int]]) == {"type": ["array", "null"], "items": {"type": "integer"}}
    assert schema_of_type(Literal["a", "b"]) == {"enum": ["a", "b"], "type": "string"}
    assert schema_of_type(Literal[1, "x"]) == {"enum": [1, "x"]}
    assert schema_of_type(Union[int, str]) == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert schema_of_type(hearth.File) == {"type": "string", "format": "uri"}
    assert schema_of_type(Color) == {"enum": ["red", "blue"]}
    assert schema_of_type(int | None) == {"type": ["integer", "null"]}


def test_signature_of_a_function() -> None:
    def predict(audio: hearth.File, language: str = "en", beams: int = 5, ctx: Any = None, *args: Any, when: object = object()) -> str:
        return ""

    sig = signature_of(predict)
    assert sig == {
        "source": "type-hints",
        "inputSchema": {
            "type": "object",
            "properties": {
                "audio": {"type": "string", "format": "uri"},
                "language": {"type": "string", "default": "en"},
                "beams": {"type": "integer", "default": 5},
                "when": {},  # a default that is not JSON is left out
            },
            "required": ["audio"],
            "additionalProperties": False,
        },
    }


def test_untyped_parameters_and_kwargs() -> None:
    def f(a, b=2, **rest):  # type: ignore[no-untyped-def]
        return a

    assert signature_of(f) == {"source": "parameters", "inputSchema": {"type": "object", "properties": {"a": {}, "b": {"default": 2}}, "required": ["a"]}}


def test_exported_schema_and_shapes() -> None:
    class WithSchema:
        input_schema = {"type": "object", "properties": {"q": {"type": "string"}}}

        def predict(self, q: str) -> str:
            return q

    h = handlers.adapt(WithSchema, "m:WithSchema")
    h.setup()
    fn, target = h.input_shape()
    assert signature_of(fn, target) == {"source": "exported", "inputSchema": WithSchema.input_schema}

    class Plain:
        def setup(self) -> None:
            pass

        def predict(self, text: str, n: int = 1) -> str:
            return text * n

    p = handlers.adapt(Plain, "m:Plain")
    assert p.input_shape() == (None, Plain), "nothing to report before setup()"
    p.setup()
    sig = wire_signature(*p.input_shape())
    assert sig is not None and sig["inputSchema"]["required"] == ["text"]

    class Runner:
        def load_model(self) -> int:
            return 1

        def predict(self, data: Any) -> Any:
            return data

    r = handlers.adapt(Runner, "m:Runner")
    r.setup()
    assert wire_signature(*r.input_shape()) is None


def test_too_large_or_broken_is_not_reported() -> None:
    class Big:
        input_schema = {"type": "object", "properties": {"x": {"description": "y" * 70_000}}}

        def predict(self, x: str) -> str:
            return x

    assert wire_signature(Big().predict, Big) is None

    class Broken:
        @staticmethod
        def input_schema() -> Dict[str, Any]:
            raise RuntimeError("no")

        def predict(self, x: str) -> str:
            return x

    assert wire_signature(Broken().predict, Broken) == {"source": "type-hints", "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"], "additionalProperties": False}}
