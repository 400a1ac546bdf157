"""Hearth: serverless GPU functions on Kubernetes.

In handler code::

    import hearth

    class Whisper:
        def setup(self):             # once per worker process
            hearth.setup_progress(0.4, "weights")  # extends startupTimeoutSeconds
            ...
        def predict(self, audio, ctx):
            ctx.update_progress(0.5, "halfway")   # extends the deadline
            ...
            raise hearth.FatalError("CUDA context lost")  # restart the container

In applications::

    whisper = hearth.function("default/whisper")
    text = whisper.run("https://example.com/a.wav")
    task = whisper.push("https://example.com/b.wav")
    for p in task.progress():
        print(p.value, p.message)
    print(task.result())

    for vector in hearth.function("default/embed").map(["a", "b"]):   # input order
        print(vector)
    run = hearth.workflow("default/doc-embed").push("a long text")
    print(run.result(), [item.output for item in run.step("embed")])

Inside a handler, ``ctx.function("ns/name")`` calls another Function as the running task.
"""

from __future__ import annotations

from .client import Client, Function, Progress, Run, StepItem, Task, Workflow, function, workflow
from .client.errors import HearthError
from .errors import FatalError, InputRejected
from .files import File
from .runtime.context import Context
from .runtime.artifacts import artifacts
from .runtime.setup_progress import SetupContext, setup_progress

__version__ = "0.1.0"

__all__ = [
    "artifacts",
    "Client",
    "Context",
    "FatalError",
    "File",
    "Function",
    "HearthError",
    "InputRejected",
    "Progress",
    "Run",
    "StepItem",
    "SetupContext",
    "Task",
    "Workflow",
    "function",
    "workflow",
    "setup_progress",
]
