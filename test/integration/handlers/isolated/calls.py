"""Handlers of the isolated-call integration test, Python twins of calls.ts."""

import os


def big(size):
    return {"size": size, "data": "x" * size, "pod": os.environ.get("HEARTH_WORKER_ID", "")}


def fail(message):
    raise ValueError(f"user code failed: {message}")
