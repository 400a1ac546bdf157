"""Every exit-code class (twins of ../node/failures)."""

import sys

import hearth


def raise_error(message):
    raise ValueError(message)


def raise_long(length):
    raise ValueError("e" * length)


class FailingSetup:
    def setup(self):
        raise RuntimeError("weights missing")

    def predict(self):
        return "unreachable"


def unserializable():
    return {1, 2, 3}


def exit_process():
    sys.exit(3)


class NoPredict:
    def setup(self):
        pass

    def run(self):
        return "never called"


not_callable = 42


def large_output(size):
    return "x" * size


def reject(x):
    if x <= 0:
        raise hearth.InputRejected("x must be positive")
    return x


def fatal():
    raise hearth.FatalError("device lost")


class FatalSetup:
    def setup(self):
        raise hearth.FatalError("no device")

    def predict(self):
        return "unreachable"
