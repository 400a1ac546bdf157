"""Handlers of the isolated-call integration test, Python twins of calls.ts."""

import os


def big(size):
    return {"size": size, "data": "x" * size, "pod": os.environ.get("HEARTH_WORKER_ID", "")}


def fail(message):
    raise ValueError(f"user code failed: {message}")


def steps(job, ctx):
    """Reports progress at every step (ctx.update_progress), a step every job["ms"]."""
    import time

    for i in range(1, job["steps"] + 1):
        ctx.update_progress(i / job["steps"], f"step {i} of {job['steps']}")
        time.sleep(job["ms"] / 1000)
    return {"steps": job["steps"], "pod": os.environ.get("HEARTH_WORKER_ID", "")}
