"""Handlers for the startup deadline (spec.startupTimeoutSeconds): a setup() that hangs, and ones
that outlast the deadline but keep reporting progress (through the setup context and through
``hearth.setup_progress``)."""

import os
import time

import hearth


def _steps():
    return int(os.environ.get("SETUP_STEPS", "8")), float(os.environ.get("SETUP_STEP_SECONDS", "0.4"))


class Hangs:
    def setup(self):
        hearth.setup_progress(0.1, "downloading weights")
        time.sleep(600)

    def predict(self, x=None):
        return "never"


class ReportsThroughContext:
    def setup(self, ctx):
        started = time.monotonic()
        steps, pause = _steps()
        for i in range(1, steps + 1):
            time.sleep(pause)
            ctx.update_progress(i / (steps + 1), f"weights shard {i}/{steps}")
        self.loaded_in = time.monotonic() - started

    def predict(self, x=None):
        return {"loadedIn": self.loaded_in}


class ReportsThroughModule:
    def setup(self):
        steps, pause = _steps()
        for i in range(1, steps + 1):
            time.sleep(pause)
            hearth.setup_progress(i / (steps + 1), f"layer {i}")

    def predict(self, x=None):
        return "loaded"
