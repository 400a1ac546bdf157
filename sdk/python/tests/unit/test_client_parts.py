from __future__ import annotations

import io

import pytest

from hearth.client import Client, _pack
from hearth.client import errors as e
from hearth.client.sse import Event, parse


def test_sse_frames_events_at_blank_lines() -> None:
    stream = io.BytesIO(b': keep-alive\n\nevent: progress\ndata: {"value":0.5}\n\nevent: status\r\ndata: a\r\ndata: b\r\n\r\ndata: tail')
    assert list(parse(stream)) == [Event("progress", '{"value":0.5}'), Event("status", "a\nb"), Event("message", "tail")]


def test_positional_arguments_travel_as_an_array_and_keywords_as_an_object() -> None:
    assert _pack(("a", 1), {}) == ["a", 1]
    assert _pack((), {"x": 1}) == {"x": 1}
    assert _pack((), {}) == []
    with pytest.raises(TypeError, match="not both"):
        _pack((1,), {"x": 1})


def test_error_bodies_map_to_classes_with_their_exit_codes() -> None:
    err = e.from_error_body({"error": {"type": "Fatal", "message": "device lost", "attempt": 2}}, 500, "t1")
    assert isinstance(err, e.WorkerFatalError)
    assert (err.exit_code, err.attempt, err.task_id, err.status) == (75, 2, "t1", 500)
    assert isinstance(e.from_error_body({"error": {"type": "InputRejected", "message": "x"}}, 400), e.InputRejectedError)
    assert e.from_error_body({"error": {"type": "InputRejected", "message": "x"}}, 400).exit_code == 65
    assert isinstance(e.from_error_body({"error": {"type": "NotFound", "message": "x"}}, 404), e.NotFoundError)


def test_unknown_bodies_fall_back_on_the_status() -> None:
    assert isinstance(e.from_error_body("<html>", 429), e.QueueFullError)
    assert isinstance(e.from_error_body(None, 502), e.GatewayUnavailableError)
    odd = e.from_error_body({"error": {"type": "Brand-new", "message": "m"}}, 418)
    assert odd.type == "Brand-new" and odd.exit_code is None


def test_timeout_error_keeps_the_task_id_from_the_body() -> None:
    err = e.from_error_body({"error": {"type": "Timeout", "message": "still running", "taskId": "abc"}}, 504)
    assert isinstance(err, e.TaskTimeoutError) and err.task_id == "abc"


def test_client_configuration_from_env_and_arguments() -> None:
    client = Client(env={"HEARTH_URL": "http://127.0.0.1:1/", "HEARTH_NAMESPACE": "ml"})
    assert client.url == "http://127.0.0.1:1"
    fn = client.function("whisper")
    assert (fn.namespace, fn.name) == ("ml", "whisper")
    assert Client("http://127.0.0.1:2", env={}).function("a/b").namespace == "a"
    assert Client(env={}).url == "http://127.0.0.1:8080"
    assert Client(env={"HEARTH_GATEWAY_URL": "http://gw:8080"}).url == "http://gw:8080"
    with pytest.raises(ValueError, match="namespace/name"):
        client.function("a/b/c")
    with pytest.raises(ValueError, match="json or pickle"):
        client.function("a/b", encoding="xml")


def test_unreachable_gateway_is_a_hearth_error() -> None:
    fn = Client("http://127.0.0.1:9", env={}).function("a/b")
    with pytest.raises(e.GatewayUnavailableError):
        fn.run(1)
