"""The shared protocol test vectors (test/protocol/cases.json) and how to check a result."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from support import PROTOCOL_DIR

TERMINATION_LOG_LIMIT = 4096


def load_cases(mode: str) -> List[Dict[str, Any]]:
    cases = json.loads((PROTOCOL_DIR / "cases.json").read_text())
    return [c for c in cases if mode in c.get("modes", ["oneshot", "warm"])]


def expected_output(case: Dict[str, Any]) -> Any:
    out = case["expect"].get("output")
    if isinstance(out, str) and out.startswith("@size:"):
        return "x" * int(out[len("@size:") :])
    return out


def mismatch(case: Dict[str, Any], exit_code: int, output: Any, error: Optional[Dict[str, Any]]) -> Optional[str]:
    """What differs from the case's expectation, or None."""
    expect = case["expect"]
    if exit_code != expect["exitCode"]:
        return f"exit code {exit_code}, expected {expect['exitCode']} (error: {error})"
    if "output" in expect and output != expected_output(case):
        return f"output {str(output)[:200]!r}, expected {str(expected_output(case))[:200]!r}"
    if "errorType" in expect and (error or {}).get("type") != expect["errorType"]:
        return f"error {error}, expected type {expect['errorType']}"
    if "messageContains" in expect and expect["messageContains"] not in str((error or {}).get("message", "")):
        return f"error message {(error or {}).get('message')!r} lacks {expect['messageContains']!r}"
    return None
