"""Handler loading and the three shapes, in-process (the process-level tests are elsewhere)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest

from hearth.runtime import handler as handlers
from hearth.runtime.context import Context

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"


@pytest.fixture(autouse=True)
def handlers_on_path() -> Iterator[None]:
    sys.path.insert(0, str(HANDLERS))
    try:
        yield
    finally:
        sys.path.remove(str(HANDLERS))


def ctx(progress: Optional[List[Any]] = None) -> Context:
    return Context("t1", 1, "ns/fn", 10, lambda v, m: (progress if progress is not None else []).append((v, m)))


def test_vessl_runner_works_unchanged() -> None:
    h = handlers.load("vessl_runner:SentimentRunner")
    assert h.kind == "runner"
    h.setup()
    assert h.call({"text": "Great movie, good cast"}, ctx()) == {"label": "positive", "score": 3}
    assert h.call({"text": "awful"}, ctx()) == {"label": "negative", "score": -2}


def test_vessl_runner_gets_props_none_and_empty_artifacts() -> None:
    h = handlers.load("vessl_runner:SentimentRunner")
    h.setup()
    assert isinstance(h, handlers.RunnerHandler)
    model = h._model  # the object load_model returned is what predict receives
    assert (model["props"], model["artifacts"]) == (None, {})


def test_vessl_base_defaults_apply() -> None:
    h = handlers.load("vessl_runner:DefaultsRunner")
    h.setup()
    assert h.call([1, 2], ctx()) == [3, 6]


def test_a_class_with_setup_and_a_load_model_helper_is_the_class_shape() -> None:
    h = handlers.load("lifecycle:Whisperish")
    assert h.kind == "class"
    h.setup()
    assert h.call("a.wav", ctx()) == "tiny:a.wav"


def test_sieve_dunder_methods_work(tmp_path: Path) -> None:
    (tmp_path / "sieve_style.py").write_text(
        "class Model:\n    def __setup__(self):\n        self.ready = True\n    def __predict__(self, x):\n        return [self.ready, x]\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        h = handlers.load("sieve_style:Model")
        h.setup()
        assert h.call(5, ctx()) == [True, 5]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sieve_style", None)


def test_an_object_with_predict_is_used_as_is() -> None:
    class Thing:
        def predict(self, x: int) -> int:
            return x + 1

    h = handlers.adapt(Thing(), "m:thing")
    h.setup()
    assert h.call(1, ctx()) == 2


def test_context_reaches_the_handler_and_reports_progress() -> None:
    seen: List[Any] = []
    h = handlers.adapt(lambda x, ctx: ctx.update_progress(0.25, f"got {x}") or "ok", "m:f")
    assert h.call({"x": 1}, ctx(seen)) == "ok"
    assert seen == [(0.25, "got 1")]


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "half", True, None])
def test_progress_outside_zero_to_one_raises(bad: Any) -> None:
    with pytest.raises(ValueError, match="progress"):
        ctx().update_progress(bad)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nocolon", 'must be "module:attr"'),
        ("a:b:c", 'must be "module:attr"'),
        ("no_such_module_here:f", "no such module"),
        ("lifecycle:Missing", "has no attribute 'Missing'"),
        ("lifecycle:SETUPS", "not a class or function"),
    ],
)
def test_bad_handlers_are_configuration_errors(spec: str, message: str) -> None:
    with pytest.raises(handlers.HandlerConfigError, match=message):
        handlers.load(spec)


def test_a_constructor_with_required_arguments_is_a_configuration_error() -> None:
    class NeedsArgs:
        def __init__(self, path: str) -> None:
            self.path = path

        def predict(self) -> str:
            return self.path

    with pytest.raises(handlers.HandlerConfigError, match="constructible without arguments"):
        handlers.adapt(NeedsArgs, "m:NeedsArgs")


def test_nested_attributes_and_path_style_modules_resolve() -> None:
    assert handlers.parse_spec("pkg/mod.py:Outer.Inner") == ("pkg.mod", "Outer.Inner")
