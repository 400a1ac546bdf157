"""The child process of a warm worker: it holds the model. It loads the handler, runs
``setup()`` once, reports ready, then runs the tasks the supervisor hands it on up to
``concurrency`` threads; the idle threads take turns reading the supervisor's socket, and the one
that reads a task runs it. It never talks to the gateway and never decides its own fate except
on ``FatalError``, after which its state is gone and it exits 75."""

from __future__ import annotations

import os
import socket
import sys
import threading
import traceback
from typing import Any, Dict, Optional

from ..errors import EXIT_CODES, FATAL, USER_ERROR, FatalError
from . import gpu
from . import handler as handlers
from . import setup_progress, task_log
from .channel import Channel, ChannelClosed, Message
from .config import WorkerConfig, from_env
from .context import Context
from .. import encoding as enc
from .outcome import Failure, classify, decode_input, encode_items, encode_output

FD_ENV = "HEARTH_CHILD_FD"


class Child:
    def __init__(self, config: WorkerConfig, channel: Channel) -> None:
        self._config = config
        self._channel = channel
        self._handler: Optional[handlers.Handler] = None
        self._cancels: Dict[str, threading.Event] = {}
        self._cancels_lock = threading.Lock()
        self._read_lock = threading.Lock()  # the task thread whose turn it is to read
        self._ended = threading.Event()
        self._end_error: Optional[BaseException] = None

    def setup(self) -> Optional[Failure]:
        """Loads and sets up the handler; the failure to report, if any."""
        channel = self._channel

        def progress(value: float, text: Optional[str]) -> None:
            try:
                channel.send({"op": "setup_progress", "value": value, "message": text})
            except ChannelClosed:
                pass  # the supervisor is gone; setup() will find out soon enough

        setup_progress.install(progress)
        try:
            handler = handlers.load(self._config.handler)
            gpu.cap_torch(self._config.gpu_fraction, sys.modules.get("torch"))
            handler.setup(setup_progress.SetupContext(self._config.function, self._config.startup_timeout_seconds))
            gpu.cap_torch(self._config.gpu_fraction, sys.modules.get("torch"))
        except (handlers.HandlerConfigError, FatalError) as err:
            return classify(err)
        except BaseException as err:  # noqa: B036 - user setup may raise anything
            traceback.print_exc()
            failure = classify(err)
            return Failure(failure.type, f"setup failed: {failure.message}")
        finally:
            # Progress after setup() belongs to tasks (ctx.update_progress), not to setup.
            setup_progress.install(None)
        self._handler = handler
        task_log.install()
        return None

    def run_task(self, message: Message) -> None:
        task_id = str(message.get("id"))
        channel = self._channel

        def progress(value: float, text: Optional[str]) -> None:
            channel.send({"op": "progress", "id": task_id, "value": value, "message": text})

        with self._cancels_lock:
            cancelled = self._cancels.setdefault(task_id, threading.Event())
        context = Context(
            task_id,
            int(message.get("attempt") or 1),
            self._config.function,
            float(message.get("timeoutSeconds") or self._config.timeout_seconds),
            progress,
            cancelled,
            message.get("token") if isinstance(message.get("token"), str) else None,
        )
        try:
            with task_log.task(task_id):
                self._run(task_id, message, context)
        finally:
            with self._cancels_lock:
                self._cancels.pop(task_id, None)

    def cancel(self, task_id: str) -> None:
        with self._cancels_lock:
            self._cancels.setdefault(task_id, threading.Event()).set()

    def _run(self, task_id: str, message: Message, context: Context) -> None:
        handler = self._handler
        assert handler is not None
        try:
            value = decode_input(message, self._config.encoding)
            output = _fold(handler, value, context) if message.get("fold") is True else handler.call(value, context)
            if message.get("outputItems") is True and self._config.encoding == enc.PICKLE:
                fields = encode_items(output)
            else:
                fields = encode_output(output, self._config.encoding)
        except BaseException as err:  # noqa: B036 - every outcome is reported to the supervisor
            failure = classify(err)
            if failure.type in (USER_ERROR, FATAL):
                traceback.print_exc()
            self._send({"op": "failed", "id": task_id, **failure.to_wire()})
            if failure.type == FATAL:
                _exit(EXIT_CODES[FATAL])
            return
        self._send({"op": "done", "id": task_id, **fields})

    def _send(self, message: Message) -> None:
        try:
            self._channel.send(message)
        except ChannelClosed:
            _exit(0)  # the supervisor is gone: so is the reason to live

    def _ready_message(self) -> Message:
        from .signature import wire_signature

        message: Message = {"op": "ready"}
        if self._handler is not None:
            fn, target = self._handler.input_shape()
            signature = wire_signature(fn, target)
            if signature is not None:
                message["signature"] = signature
        return message

    def serve(self) -> int:
        failure = self.setup()
        if failure is not None:
            self._send({"op": "setup_failed", **failure.to_wire()})
            return failure.exit_code
        self._send(self._ready_message())
        # Leader/followers: the idle task threads take turns reading the supervisor's socket, and
        # the one that reads a task runs it itself — no hand-off from a reader to a pool thread.
        # One more thread than the concurrency, so that a cancel is read even with every slot busy.
        # Never joined: on shutdown the process exits under the threads still running user code.
        for i in range(self._config.concurrency + 1):
            threading.Thread(target=self._serve_turns, name=f"hearth-task-{i}", daemon=True).start()
        self._ended.wait()
        if self._end_error is not None:
            raise self._end_error
        return 0

    def _serve_turns(self) -> None:
        while True:
            with self._read_lock:
                if self._ended.is_set():
                    return
                try:
                    message = self._channel.receive()
                except BaseException as err:  # noqa: B036 - a broken message ends the child, as before
                    self._end_error = err
                    message = None
                op = None if message is None else message.get("op")
                if message is None or op == "shutdown":
                    self._ended.set()
                    return
                if op == "cancel":
                    self.cancel(str(message.get("id")))
                    continue
                if op != "task":
                    continue
                with self._cancels_lock:
                    self._cancels.setdefault(str(message.get("id")), threading.Event())
            self.run_task(message)

def _fold(handler: handlers.Handler, value: Any, context: Context) -> Any:
    """A workflow reducer batch: ``[acc, [items…]]`` folded with the handler, item by item, in order."""
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], list):
        raise TypeError("a reducer batch must be [accumulator, [items...]]")
    acc = value[0]
    for item in value[1]:
        acc = handler.call([acc, item], context)
    return acc


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main() -> None:
    fd = int(os.environ.pop(FD_ENV))
    config = from_env(os.environ)
    sys.path[0:0] = config.code_path
    channel = Channel(socket.socket(fileno=fd))
    # os._exit: do not wait for task threads still running user code after a shutdown.
    _exit(Child(config, channel).serve())
