"""``python -m hearth.runtime``: the entrypoint of every Python worker container."""

from __future__ import annotations

import os
import sys
import time

from ..errors import BAD_CONFIGURATION
from .config import ONESHOT, ConfigError, WorkerConfig, from_env
from .outcome import Failure


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_oneshot(config: WorkerConfig) -> int:
    from . import gpu
    from .oneshot import OneshotRunner, write_document

    for key, value in gpu.framework_env(config.gpu_fraction, os.environ).items():
        os.environ[key] = value
    task = None
    if config.task_id is not None:
        from .oneshot import failure_document
        from .oneshot_task import Ended, GatewayTask

        task = GatewayTask(config, _log)
        try:
            failure = task.claim()
        except Ended as ended:
            _log(f"hearth: task {config.task_id} needs no run: {ended}")
            write_document(config.termination_log, task.ended_document())
            return 0
        if failure is not None:
            _log(f"hearth: {failure.type} (exit {failure.exit_code}): {failure.message}")
            write_document(config.termination_log, failure_document(failure))
            return failure.exit_code
    doc, code = OneshotRunner(config, time.monotonic, _log, task).run()
    write_document(config.termination_log, doc)
    return code


def run_warm(config: WorkerConfig) -> int:
    from .warm import WarmWorker
    from .worker_api import WorkerApi
    from .worker_token import token_source

    assert config.gateway_url is not None
    api = WorkerApi(config.gateway_url, token_source(config.worker_token_file, config.worker_token), config.function, config.worker_id)
    return WarmWorker(config, api).run()


def main() -> int:
    try:
        config = from_env(os.environ)
    except ConfigError as err:
        _log(f"hearth: bad configuration: {err}")
        if os.environ.get("HEARTH_MODE", "").strip() == ONESHOT:
            from .oneshot import failure_document, write_document

            path = os.environ.get("HEARTH_TERMINATION_LOG", "").strip() or "/dev/termination-log"
            write_document(path, failure_document(Failure(BAD_CONFIGURATION, str(err))))
        return 2
    sys.path[0:0] = config.code_path
    if config.mode == ONESHOT:
        return run_oneshot(config)
    return run_warm(config)


if __name__ == "__main__":
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    # os._exit: threads still running user code (oneshot timeouts, abandoned tasks) must not
    # keep the process alive after its outcome is decided.
    os._exit(code)
