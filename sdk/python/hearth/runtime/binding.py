"""Maps a task's input onto a handler's parameters (docs/protocol.md, "Input binding").

- a JSON object binds by parameter name; when the callable has exactly one parameter and the
  object has no key of that name, the whole object is that parameter;
- an array (or, with pickle, a tuple) binds by position;
- anything else is the single argument.

A parameter named ``ctx`` or ``context`` receives the task context and never binds input.
Failures raise :class:`BindError`, which the runtime reports as ``InputRejected`` (65).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

CONTEXT_NAMES = ("ctx", "context")


class BindError(ValueError):
    """The input does not fit the handler's parameters."""


@dataclass(frozen=True)
class Plan:
    """What binding needs to know about a callable, computed once per handler."""

    signature: Optional[inspect.Signature]
    context_param: Optional[str]
    single_param: Optional[str]  # name of the only input parameter, if there is exactly one
    takes_no_input: bool  # no input parameter at all (besides ctx)


def plan_for(fn: Callable[..., Any]) -> Plan:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        # Builtins without a signature: pass input through and let the call itself complain.
        return Plan(signature=None, context_param=None, single_param=None, takes_no_input=False)
    context_param: Optional[str] = None
    inputs: List[inspect.Parameter] = []
    for param in sig.parameters.values():
        if (
            param.name in CONTEXT_NAMES
            and context_param is None
            and param.kind is not param.VAR_POSITIONAL
            and param.kind is not param.VAR_KEYWORD
        ):
            context_param = param.name
            continue
        inputs.append(param)
    named = [p for p in inputs if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    varargs = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in inputs)
    single = named[0].name if len(named) == 1 and not varargs else None
    return Plan(signature=sig, context_param=context_param, single_param=single, takes_no_input=not inputs)


def bind(plan: Plan, value: Any, context: Any) -> Tuple[List[Any], Dict[str, Any]]:
    """Positional and keyword arguments for one call, or :class:`BindError`."""
    args: List[Any]
    kwargs: Dict[str, Any]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if plan.context_param is not None and plan.context_param in value:
            raise BindError(f"input key {plan.context_param!r} is reserved for the task context")
        if plan.single_param is not None and plan.single_param not in value:
            args, kwargs = [value], {}
        else:
            args, kwargs = [], dict(value)
    elif isinstance(value, (list, tuple)):
        args, kwargs = list(value), {}
    elif value is None and plan.takes_no_input:
        # `null` to a function without parameters: nothing to pass, which is what callers mean.
        args, kwargs = [], {}
    else:
        args, kwargs = [value], {}

    if plan.context_param is not None:
        kwargs[plan.context_param] = context

    if plan.signature is not None:
        try:
            plan.signature.bind(*args, **kwargs)
        except TypeError as err:
            raise BindError(_describe(plan, value, err)) from err
    return args, kwargs


def _describe(plan: Plan, value: Any, err: TypeError) -> str:
    assert plan.signature is not None
    params = [p for p in plan.signature.parameters if p != plan.context_param]
    shown = "(" + ", ".join(params) + ")"
    if isinstance(value, dict):
        given = "object with keys " + (", ".join(sorted(map(str, value))) or "none")
    elif isinstance(value, (list, tuple)):
        given = f"array of {len(value)} item{'s' if len(value) != 1 else ''}"
    else:
        given = f"single {type(value).__name__} argument"
    return f"input does not match the handler's parameters {shown}: got {given}: {err}"
