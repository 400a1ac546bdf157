"""Deadlines and progress (twins of ../node/timing)."""

import time


def sleep(seconds):
    time.sleep(seconds)
    return {"slept": seconds}


def busy(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return {"spun": seconds}


def steps(steps, seconds, ctx):
    for i in range(1, steps + 1):
        time.sleep(seconds)
        ctx.update_progress(i / steps, f"step {i}")
    return {"steps": steps}


def bad_progress(ctx):
    ctx.update_progress(1.5)
    return "unreachable"
