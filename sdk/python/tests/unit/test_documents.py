"""The oneshot termination-log document: always parseable, never over the kubelet's limit."""

from __future__ import annotations

import json

from hearth.errors import TERMINATION_LOG_LIMIT
from hearth.runtime.oneshot import failure_document, success_document
from hearth.runtime.outcome import Failure


def test_success_document_carries_the_output() -> None:
    doc, code = success_document({"output": {"a": [1, 2]}})
    assert code == 0
    assert json.loads(doc) == {"output": {"a": [1, 2]}}


def test_success_document_at_exactly_the_limit_fits() -> None:
    overhead = len(b'{"output":""}')
    doc, code = success_document({"output": "x" * (TERMINATION_LOG_LIMIT - overhead)})
    assert code == 0
    assert len(doc) == TERMINATION_LOG_LIMIT


def test_output_one_byte_over_the_limit_is_bad_configuration() -> None:
    overhead = len(b'{"output":""}')
    doc, code = success_document({"output": "x" * (TERMINATION_LOG_LIMIT - overhead + 1)})
    assert code == 2
    error = json.loads(doc)["error"]
    assert error["type"] == "BadConfiguration"
    assert error["message"] == (
        f"output is {TERMINATION_LOG_LIMIT + 1} bytes; isolated Jobs return at most 4096 bytes: "
        "write large results to storage and return a reference"
    )


def test_long_messages_are_cut_to_fit_with_an_ellipsis() -> None:
    doc = failure_document(Failure("UserError", "e" * 10_000))
    assert len(doc) <= TERMINATION_LOG_LIMIT
    message = json.loads(doc)["error"]["message"]
    assert message.endswith("…")
    assert len(doc) > TERMINATION_LOG_LIMIT - 8  # cut no more than needed


def test_multibyte_and_escaped_messages_are_measured_in_bytes() -> None:
    for unit in ("é", "漢", "\n", '"', "\x01", "😀"):
        doc = failure_document(Failure("UserError", unit * 5000))
        assert len(doc) <= TERMINATION_LOG_LIMIT, unit
        assert json.loads(doc)["error"]["type"] == "UserError"


def test_short_messages_are_untouched() -> None:
    assert json.loads(failure_document(Failure("Fatal", "device lost"))) == {"error": {"type": "Fatal", "message": "device lost"}}
