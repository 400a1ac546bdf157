from __future__ import annotations

import pytest

from hearth.runtime.config import ConfigError, from_env

WARM = {"HEARTH_HANDLER": "app:Model", "HEARTH_FUNCTION": "ns/fn", "HEARTH_GATEWAY_URL": "http://127.0.0.1:8080/"}


def test_defaults_follow_the_protocol() -> None:
    c = from_env(WARM)
    assert (c.mode, c.concurrency, c.timeout_seconds, c.restart_on_error, c.encoding) == ("warm", 1, 300.0, True, "json")
    assert (c.health_port, c.termination_log, c.gateway_url) == (8081, "/dev/termination-log", "http://127.0.0.1:8080")


def test_values_are_parsed() -> None:
    c = from_env(
        {
            **WARM,
            "HEARTH_CONCURRENCY": "4",
            "HEARTH_TIMEOUT_SECONDS": "2.5",
            "HEARTH_RESTART_ON_ERROR": "false",
            "HEARTH_ENCODING": "pickle",
            "HEARTH_GPU_FRACTION": "0.25",
            "HEARTH_HEALTH_PORT": "0",
            "HEARTH_WORKER_ID": "pod-1",
        }
    )
    assert (c.concurrency, c.timeout_seconds, c.restart_on_error, c.encoding, c.gpu_fraction, c.health_port, c.worker_id) == (
        4,
        2.5,
        False,
        "pickle",
        0.25,
        0,
        "pod-1",
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("HEARTH_MODE", "batch", "HEARTH_MODE must be warm or oneshot"),
        ("HEARTH_CONCURRENCY", "two", "HEARTH_CONCURRENCY must be an integer"),
        ("HEARTH_CONCURRENCY", "0", "between 1 and 1024"),
        ("HEARTH_RESTART_ON_ERROR", "maybe", "true or false"),
        ("HEARTH_ENCODING", "yaml", "json or pickle"),
        ("HEARTH_GPU_FRACTION", "2", "between 0 and 1"),
        ("HEARTH_GATEWAY_URL", "", "HEARTH_GATEWAY_URL is not set"),
        ("HEARTH_GATEWAY_URL", "gateway:8080", "http(s) URL"),
        ("HEARTH_FUNCTION", "fn", "<namespace>/<name>"),
        ("HEARTH_HANDLER", "", "HEARTH_HANDLER is not set"),
    ],
)
def test_bad_values_are_explained(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_env({**WARM, key: value})


def test_oneshot_needs_no_gateway() -> None:
    c = from_env({"HEARTH_MODE": "oneshot", "HEARTH_HANDLER": "app:f"})
    assert c.mode == "oneshot" and c.gateway_url is None


def test_gpu_fraction_becomes_framework_settings_unless_the_user_chose() -> None:
    from hearth.runtime.gpu import framework_env

    assert framework_env(0.25, {}) == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.25", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert framework_env(0.25, {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.5"}) == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert framework_env(None, {}) == {} and framework_env(1.0, {}) == {}


def test_gpu_fraction_caps_every_cuda_device_when_torch_is_loaded() -> None:
    import types

    from hearth.runtime.gpu import cap_torch

    calls = []
    cuda = types.SimpleNamespace(
        is_available=lambda: True, device_count=lambda: 2, set_per_process_memory_fraction=lambda f, d: calls.append((f, d))
    )
    torch = types.ModuleType("torch")
    torch.cuda = cuda  # type: ignore[attr-defined]
    assert cap_torch(0.5, torch) and calls == [(0.5, 0), (0.5, 1)]
    assert not cap_torch(0.5, None) and not cap_torch(None, torch)


def test_code_path_holds_several_directories() -> None:
    c = from_env({**WARM, "HEARTH_CODE_PATH": "/a:/b::"})
    assert c.code_path == ("/a", "/b")


def test_the_child_finds_this_package_without_pythonpath_shadowing() -> None:
    from hearth.runtime.child_process import child_python_path

    site = ["/usr/lib/python3/site-packages"]
    assert child_python_path("/opt/hearth/packages", "/usr/lib/python3/site-packages", site) is None  # installed
    assert child_python_path("/src/sdk:/x", "/src/sdk", site) is None  # already there
    # A checkout goes last, after the Function's pythonPackages.
    assert child_python_path("/opt/hearth/packages", "/src/sdk", site) == "/opt/hearth/packages:/src/sdk"
    assert child_python_path("", "/src/sdk", site) == "/src/sdk"
