"""Handlers that expose their process and setup history, for the warm-mode contract tests."""

import os
import time

import hearth

SETUPS = 0


class Counted:
    """setup() once per process; predict(op) does what op says and reports the process state."""

    def setup(self):
        global SETUPS
        SETUPS += 1
        self.calls = 0
        delay = float(os.environ.get("LIFECYCLE_SETUP_SECONDS", "0"))
        if delay:
            time.sleep(delay)
        log = os.environ.get("LIFECYCLE_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"setup {os.getpid()}\n")

    def predict(self, op, ctx):
        self.calls += 1
        log = os.environ.get("LIFECYCLE_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"start {ctx.task_id} {os.getpid()}\n")
        if op == "boom":
            raise ValueError("boom")
        if op == "fatal":
            raise hearth.FatalError("device lost")
        if op == "reject":
            raise hearth.InputRejected("op must be something else")
        if op == "exit":
            os._exit(3)
        if op.startswith("sleep:"):
            time.sleep(float(op[6:]))
        if op.startswith("steps:"):
            count, seconds = op[6:].split(",")
            for i in range(1, int(count) + 1):
                time.sleep(float(seconds))
                ctx.update_progress(i / int(count), f"step {i}")
        return {"pid": os.getpid(), "setups": SETUPS, "calls": self.calls, "task": ctx.task_id}


class Whisperish:
    """A setup/predict class that also has a helper named load_model: still the class shape."""

    def setup(self):
        self.model = self.load_model()

    def load_model(self):
        return "tiny"

    def predict(self, audio):
        return f"{self.model}:{audio}"
