from __future__ import annotations

from typing import Any

import pytest

from hearth.runtime.binding import BindError, bind, plan_for

CTX = object()


def call(fn: Any, value: Any) -> Any:
    args, kwargs = bind(plan_for(fn), value, CTX)
    return fn(*args, **kwargs)


def add(a: int, b: int) -> int:
    return a + b


def one(payload: Any) -> Any:
    return payload


def with_ctx(x: int, ctx: Any) -> Any:
    return (x, ctx)


def kw_only(*, a: int, b: int = 2) -> int:
    return a * b


def star_kwargs(**kwargs: Any) -> Any:
    return kwargs


def star_args(*args: Any) -> Any:
    return args


def test_object_binds_by_name() -> None:
    assert call(add, {"a": 40, "b": 2}) == 42


def test_array_binds_by_position() -> None:
    assert call(add, [40, 2]) == 42


def test_tuple_binds_by_position_like_an_array() -> None:
    assert call(add, (40, 2)) == 42


def test_scalar_is_the_single_argument() -> None:
    assert call(one, 7) == 7


def test_single_parameter_gets_whole_object_when_its_name_is_not_a_key() -> None:
    assert call(one, {"x": 1}) == {"x": 1}


def test_single_parameter_binds_by_name_when_its_name_is_a_key() -> None:
    assert call(one, {"payload": 3}) == 3


def test_single_parameter_with_its_name_and_extra_keys_is_rejected() -> None:
    with pytest.raises(BindError, match="unexpected keyword argument 'other'"):
        call(one, {"payload": 3, "other": 4})


def test_context_goes_to_its_parameter_and_never_binds_input() -> None:
    assert call(with_ctx, {"x": 1}) == (1, CTX)
    assert call(with_ctx, [5]) == (5, CTX)
    assert call(with_ctx, 9) == (9, CTX)


def test_input_key_naming_the_context_is_rejected_even_for_a_single_parameter() -> None:
    with pytest.raises(BindError, match="reserved for the task context"):
        call(with_ctx, {"ctx": 1, "y": 2})


def test_keyword_only_parameters_bind_by_name() -> None:
    assert call(kw_only, {"a": 3}) == 6
    with pytest.raises(BindError):
        call(kw_only, [3])


def test_var_keyword_takes_any_object() -> None:
    assert call(star_kwargs, {"a": 1, "b": 2}) == {"a": 1, "b": 2}


def test_var_positional_takes_any_array() -> None:
    assert call(star_args, [1, 2, 3]) == (1, 2, 3)


def test_null_to_a_function_without_parameters_passes_nothing() -> None:
    assert call(lambda: "none", None) == "none"


def test_value_to_a_function_without_parameters_is_rejected() -> None:
    with pytest.raises(BindError, match=r"parameters \(\)"):
        call(lambda: "none", 3)


def test_errors_name_the_parameters_and_what_was_given() -> None:
    with pytest.raises(BindError) as err:
        call(add, {"a": 1})
    assert "(a, b)" in str(err.value)
    assert "object with keys a" in str(err.value)
    with pytest.raises(BindError, match="array of 3 items"):
        call(add, [1, 2, 3])


def test_object_with_non_string_keys_is_a_single_argument() -> None:
    # Only reachable with pickle: JSON keys are always strings.
    assert call(one, {1: "a"}) == {1: "a"}


def test_builtin_without_signature_passes_input_through() -> None:
    args, kwargs = bind(plan_for(dict.fromkeys), ["ab"], CTX)
    assert (args, kwargs) == (["ab"], {})
