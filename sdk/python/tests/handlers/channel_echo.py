"""A handler for the worker-channel tests: returns what it was given (and its square), after an
optional pause; appends each run to CHANNEL_LOG so that tests can count executions."""

import os
import time


def echo(item):
    log = os.environ.get("CHANNEL_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{item['n']}\n")
    time.sleep(float(item.get("sleep", 0)))
    return {"n": item["n"], "square": item["n"] * item["n"]}
