"""Handlers that read spec.artifacts: through hearth.artifacts(), the setup context, the task
context, and a VESSL runner's load_model(props, artifacts)."""

import os

import hearth
import vessl


class ReadsWeights:
    def setup(self, ctx):
        self.from_setup = dict(ctx.artifacts)
        with open(os.path.join(hearth.artifacts()["whisper"], "weights.txt")) as f:
            self.weights = f.read()

    def predict(self, ctx):
        return {"weights": self.weights, "setup": self.from_setup, "task": dict(ctx.artifacts)}


class Runner(vessl.RunnerBase):
    @staticmethod
    def load_model(props, artifacts):
        with open(os.path.join(artifacts["whisper"], "weights.txt")) as f:
            return {"props": props, "artifacts": artifacts, "weights": f.read()}

    @staticmethod
    def predict(model, data):
        return model
