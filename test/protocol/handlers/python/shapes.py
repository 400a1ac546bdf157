"""Handler shapes (twins of ../node/shapes): class, plain function, async function, runner."""

import asyncio

SETUPS = 0


class Greeter:
    def setup(self):
        self.greeting = "hello"

    def predict(self, name):
        return f"{self.greeting}, {name}"


class Counter:
    def setup(self):
        global SETUPS
        SETUPS += 1
        self.calls = 0

    def predict(self):
        self.calls += 1
        return {"setups": SETUPS, "calls": self.calls}


def double(x):
    return x * 2


async def async_double(x):
    await asyncio.sleep(0)
    return x * 2


class Runner:
    def load_model(self):
        self.scale = 10

    def preprocess_data(self, x):
        return x["values"]

    def predict(self, x):
        return [v * self.scale for v in x]

    def postprocess_data(self, y):
        return {"scaled": y}
