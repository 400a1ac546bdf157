"""The Python twin of calls.ts: a handler that calls other Functions from inside
(ctx.function), for test/e2e/handler-calls.test.ts. One Function serves every case, by ``op``."""

from __future__ import annotations

import json
import os
from typing import Any

import hearth


def _record(what: str, value: Any) -> None:
    path = os.environ.get("HEARTH_E2E_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{what} {json.dumps(value)}\n")


def main(op: str, ctx: hearth.Context, **args: Any) -> Any:
    if op == "echo":
        return {"echo": args.get("value"), "task": ctx.task_id}
    if op == "call":
        got = ctx.function(args["target"]).run_input(args["payload"])
        return {"self": str(ctx.function), "name": ctx.function_name, "task": ctx.task_id, "got": got}
    if op == "recurse":
        _record("recurse", {"n": args["n"], "task": ctx.task_id})
        return ctx.function(ctx.function_name.split("/")[1]).run(op="recurse", n=args["n"] + 1)
    if op == "parent":
        child = ctx.function(args["target"]).push_input(args["payload"])
        _record("child", {"parent": ctx.task_id, "child": child.id})
        return child.result()
    if op == "sleep":
        _record("sleeping", {"task": ctx.task_id})
        return "woken" if ctx.wait_cancelled(args["ms"] / 1000) else "slept"
    raise hearth.InputRejected(f"unknown op {op!r}")
