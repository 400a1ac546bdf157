"""The checker the protocol-case tests rely on must itself catch every kind of difference."""

from __future__ import annotations

from typing import Any, Dict

from cases import expected_output, mismatch

CASE: Dict[str, Any] = {"name": "n", "expect": {"exitCode": 65, "errorType": "InputRejected", "messageContains": "positive"}}


def test_matching_outcome_passes() -> None:
    assert mismatch(CASE, 65, None, {"type": "InputRejected", "message": "x must be positive"}) is None


def test_each_difference_is_reported() -> None:
    assert "exit code 1" in str(mismatch(CASE, 1, None, {"type": "InputRejected", "message": "positive"}))
    assert "expected type" in str(mismatch(CASE, 65, None, {"type": "UserError", "message": "positive"}))
    assert "lacks" in str(mismatch(CASE, 65, None, {"type": "InputRejected", "message": "negative"}))
    out = {"name": "o", "expect": {"exitCode": 0, "output": "@size:3"}}
    assert mismatch(out, 0, "xxx", None) is None
    assert "output" in str(mismatch(out, 0, "xx", None))


def test_size_shorthand_expands() -> None:
    assert expected_output({"expect": {"output": "@size:4"}}) == "xxxx"
    assert expected_output({"expect": {"output": {"a": 1}}}) == {"a": 1}
