"""The worker channel's pure parts (hearth/runtime/worker_channel.py): the gateway's lines, the
credit that follows the free slots, and the bytes that go up."""

from __future__ import annotations

import json

from hearth.runtime.config import from_env
from hearth.runtime.worker_channel import Credit, Report, chunk, error_fields, parse_line, report_item, results_line, want_line


def test_a_lease_line_yields_its_grants() -> None:
    down = parse_line(b'{"tasks":[{"id":"t1","attempt":1,"leaseId":"l1","input":3},"junk",{"id":"t2","leaseId":"l2"}]}\n')
    assert down is not None
    assert [t["id"] for t in down.tasks] == ["t1", "t2"]
    assert (down.acks, down.end, down.error) == ([], False, None)


def test_acknowledgements_keep_id_status_and_message() -> None:
    down = parse_line(
        b'{"results":[{"id":"a","status":200},{"id":"b","status":409,"message":"lease lost"},{"id":"c","status":true},{"status":200}]}'
    )
    assert down is not None
    assert down.acks == [("a", 200, None), ("b", 409, "lease lost")]


def test_end_error_and_unknown_fields() -> None:
    down = parse_line(b'{"end":true,"later":1}')
    assert down is not None and down.end and not down.tasks
    err = parse_line(b'{"error":{"type":"Unavailable","message":"store failed"}}')
    assert err is not None and err.error == "store failed"
    nameless = parse_line(b'{"error":{}}')
    assert nameless is not None and nameless.error == "worker channel error"


def test_blank_and_malformed_lines_are_skipped() -> None:
    for line in (b"\n", b"  ", b"not json", b"[1,2]", b'"text"', b'{"tasks":'):
        assert parse_line(line) is None, line


def test_credit_follows_the_free_slots() -> None:
    c = Credit()
    assert c.top_up(4) == 4  # a ready worker with 4 free slots
    assert c.top_up(4) == 0  # nothing changed: nothing to send
    c.granted(3)  # three tasks arrived: the slots they fill are no longer free
    assert c.given == 1
    assert c.top_up(1) == 0
    assert c.top_up(2) == 1  # one finished
    assert c.top_up(0) == -2  # the child is being replaced: take it all back
    assert c.given == 0
    c.granted(2)  # grants that crossed the take-back on the wire
    assert c.given == 0  # never below zero, like the gateway's
    assert c.top_up(3) == 3


def test_lines_up() -> None:
    assert json.loads(want_line(-2)) == {"want": -2}
    done = Report("t1", report_item("t1", "l1", {"output": {"x": [1, "é"]}}))
    failed = Report("t2", report_item("t2", "l2", error_fields("Disrupted", None, "restarted")))
    timeout = report_item("t3", "l3", error_fields("Timeout", 124, "too slow"))
    assert json.loads(results_line([done, failed])) == {
        "results": [
            {"id": "t1", "leaseId": "l1", "output": {"x": [1, "é"]}},
            {"id": "t2", "leaseId": "l2", "error": {"type": "Disrupted", "message": "restarted"}},
        ]
    }
    assert timeout["error"] == {"type": "Timeout", "message": "too slow", "exitCode": 124}


def test_chunks_are_sized_in_hex() -> None:
    data = b"x" * 26
    assert chunk(data) == b"1a\r\n" + data + b"\r\n"


def test_the_channel_is_on_unless_turned_off() -> None:
    warm = {"HEARTH_HANDLER": "app:Model", "HEARTH_FUNCTION": "ns/fn", "HEARTH_GATEWAY_URL": "http://127.0.0.1:8080"}
    assert from_env(warm).worker_channel is True
    assert from_env({**warm, "HEARTH_WORKER_CHANNEL": "off"}).worker_channel is False
    assert from_env({**warm, "HEARTH_WORKER_CHANNEL": "on"}).worker_channel is True
