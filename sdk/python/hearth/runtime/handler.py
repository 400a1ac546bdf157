"""Loads ``module:attr`` and adapts the three handler shapes to one interface.

- a class with ``setup()`` (optional) and ``predict(...)`` (Sieve's ``__setup__``/``__predict__``
  spellings work too): one instance per process, ``setup()`` once;
- a plain function (or any callable object): called per task;
- a runner class (VESSL's ``RunnerBase`` shape) with ``load_model``, ``preprocess_data``,
  ``predict`` and ``postprocess_data``: ``load_model`` is the setup and each call is
  ``postprocess_data(predict(preprocess_data(input)))``. VESSL's static signatures
  (``load_model(props, artifacts)``, ``predict(model, data)``) work unchanged, as do instance
  methods taking only the data.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from typing import Any, Callable, List, Optional

from .binding import CONTEXT_NAMES, Plan, bind, plan_for
from .context import Context
from .artifacts import artifacts as artifact_paths
from .setup_progress import SetupContext

RUNNER_METHODS = ("load_model", "preprocess_data", "postprocess_data")


class HandlerConfigError(Exception):
    """The handler cannot be used as configured (class ``BadConfiguration``, exit 2)."""


def _await_if_needed(value: Any) -> Any:
    # Async handlers run to completion on a private loop: each task runs on its own thread.
    if inspect.isawaitable(value):

        async def wait() -> Any:
            return await value

        return asyncio.run(wait())
    return value


def _positional_count(fn: Callable[..., Any]) -> int:
    """Positional parameters of ``fn`` other than a context parameter (-1: unknown/variadic)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return -1
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in CONTEXT_NAMES:
            count += 1
    return count


def _context_param(fn: Callable[..., Any]) -> Optional[str]:
    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    return next((n for n in CONTEXT_NAMES if n in names), None)


class Handler:
    """A loaded handler: ``setup()`` once per process, then ``call()`` per task."""

    kind = "function"

    def setup(self, ctx: Optional[SetupContext] = None) -> None:
        """Runs the user's setup; raises whatever it raises."""

    def call(self, value: Any, context: Context) -> Any:
        raise NotImplementedError

    def input_shape(self) -> "tuple[Optional[Callable[..., Any]], Any]":
        """(the callable whose parameters are the input, the exported object): for the reported
        signature (signature.py). Complete after setup()."""
        return None, None


class FunctionHandler(Handler):
    kind = "function"

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._plan: Plan = plan_for(fn)

    def call(self, value: Any, context: Context) -> Any:
        args, kwargs = bind(self._plan, value, context)
        return _await_if_needed(self._fn(*args, **kwargs))

    def input_shape(self) -> "tuple[Optional[Callable[..., Any]], Any]":
        return self._fn, self._fn


class ClassHandler(Handler):
    """A class with setup()/predict(), or an already-built object with predict()."""

    kind = "class"

    def __init__(self, target: Any, name: str) -> None:
        self._target = target
        self._name = name
        self._predict: Optional[Callable[..., Any]] = None
        self._plan: Optional[Plan] = None
        if inspect.isclass(target):
            _check_constructible(target, name)

    def setup(self, ctx: Optional[SetupContext] = None) -> None:
        instance = self._target() if inspect.isclass(self._target) else self._target
        predict = _method(instance, "predict", "__predict__")
        if predict is None:
            raise HandlerConfigError(f"{self._name} has no predict() method")
        setup = _method(instance, "setup", "__setup__")
        if setup is not None:
            # setup(), setup(ctx) / setup(context), or setup(anything): the setup context.
            named = _context_param(setup)
            wanted = _positional_count(setup)
            if wanted > 1 or (wanted == 1 and named is not None):
                raise HandlerConfigError(f"{self._name}.setup() must take no arguments or one (ctx: the setup context)")
            if named is not None:
                _await_if_needed(setup(**{named: ctx}))
            else:
                _await_if_needed(setup(ctx) if wanted == 1 else setup())
        self._predict = predict
        self._plan = plan_for(predict)

    def call(self, value: Any, context: Context) -> Any:
        if self._predict is None or self._plan is None:
            raise RuntimeError("call() before setup()")
        args, kwargs = bind(self._plan, value, context)
        return _await_if_needed(self._predict(*args, **kwargs))

    def input_shape(self) -> "tuple[Optional[Callable[..., Any]], Any]":
        return self._predict, self._target


class RunnerHandler(Handler):
    kind = "runner"

    def __init__(self, cls: type, name: str) -> None:
        _check_constructible(cls, name)
        self._cls = cls
        self._name = name
        self._runner: Any = None
        self._model: Any = None
        self._predict_takes_model = False
        self._predict_context: Optional[str] = None

    def setup(self, ctx: Optional[SetupContext] = None) -> None:
        runner = self._cls()
        predict = _method(runner, "predict")
        if predict is None:
            raise HandlerConfigError(f"{self._name} has no predict() method")
        arity = _positional_count(predict)
        if arity not in (1, 2):
            raise HandlerConfigError(
                f"{self._name}.predict must take (data) or (model, data), it takes {arity if arity >= 0 else 'variadic'} arguments"
            )
        load_model = _method(runner, "load_model")
        if load_model is not None:
            wanted = _positional_count(load_model)
            # VESSL passes (props, artifacts): props is None when save_model is not overridden;
            # artifacts are the Function's spec.artifacts by name.
            args: List[Any] = [None, artifact_paths()][: max(0, min(wanted, 2))] if wanted >= 0 else []
            self._model = _await_if_needed(load_model(*args))
        self._runner = runner
        self._predict_takes_model = arity == 2
        self._predict_context = _context_param(predict)

    def call(self, value: Any, context: Context) -> Any:
        if self._runner is None:
            raise RuntimeError("call() before setup()")
        pre = _method(self._runner, "preprocess_data")
        post = _method(self._runner, "postprocess_data")
        data = _await_if_needed(pre(value)) if pre is not None else value
        predict = self._runner.predict
        args: List[Any] = [self._model, data] if self._predict_takes_model else [data]
        kwargs = {self._predict_context: context} if self._predict_context is not None else {}
        result = _await_if_needed(predict(*args, **kwargs))
        return _await_if_needed(post(result)) if post is not None else result

    def input_shape(self) -> "tuple[Optional[Callable[..., Any]], Any]":
        # preprocess_data takes the whole input: no parameter names to report.
        return None, self._cls


def _method(obj: Any, *names: str) -> Optional[Callable[..., Any]]:
    for name in names:
        fn = getattr(obj, name, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


def _check_constructible(cls: type, name: str) -> None:
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    try:
        sig.bind()
    except TypeError:
        raise HandlerConfigError(f"{name} must be constructible without arguments, its constructor takes {sig}") from None


def is_runner(cls: type) -> bool:
    """A runner has predict() and a runner method but no setup(): a setup/predict class may well
    have a helper called load_model."""
    if _method(cls, "setup", "__setup__") is not None:
        return False
    return callable(getattr(cls, "predict", None)) and any(callable(getattr(cls, m, None)) for m in RUNNER_METHODS)


def parse_spec(spec: str) -> tuple[str, str]:
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr or ":" in attr:
        raise HandlerConfigError(f'handler must be "module:attr", e.g. app.model:Whisper (got {spec!r})')
    module = module.replace("/", ".")
    if module.endswith(".py"):
        module = module[:-3]
    return module, attr


def load(spec: str) -> Handler:
    """Imports the handler named by ``spec``. Raises :class:`HandlerConfigError`; a
    ``FatalError`` raised while importing propagates."""
    from ..errors import FatalError

    module_name, attr = parse_spec(spec)
    try:
        module = importlib.import_module(module_name)
    except FatalError:
        raise
    except ModuleNotFoundError as err:
        if err.name is not None and (module_name == err.name or module_name.startswith(err.name + ".")):
            searched = ", ".join(p or "." for p in sys.path[:4]) + (", …" if len(sys.path) > 4 else "")
            raise HandlerConfigError(f"cannot import handler module {module_name!r}: no such module (searched {searched})") from err
        raise HandlerConfigError(f"cannot import handler module {module_name!r}: {err}") from err
    except Exception as err:  # an import can raise anything; all of it means "not importable"
        raise HandlerConfigError(f"cannot import handler module {module_name!r}: {type(err).__name__}: {err}") from err

    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise HandlerConfigError(f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    return adapt(target, f"{module_name}:{attr}")


def adapt(target: Any, name: str) -> Handler:
    """Chooses the shape of an imported object."""
    if inspect.isclass(target):
        if is_runner(target):
            return RunnerHandler(target, name)
        if _method(target, "predict", "__predict__") is not None:
            return ClassHandler(target, name)
        raise HandlerConfigError(f"{name} is a class without a predict() method")
    if not inspect.isroutine(target) and _method(target, "predict", "__predict__") is not None:
        return ClassHandler(target, name)
    if callable(target):
        return FunctionHandler(target)
    raise HandlerConfigError(f"{name} is not a class or function (it is of type {type(target).__name__})")
