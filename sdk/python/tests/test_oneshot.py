"""Oneshot mode beyond the shared cases: Python-only features, in real processes."""

from __future__ import annotations

import base64
import fractions
import json
import pickle
import subprocess
import sys
from pathlib import Path

from support import LOCAL_HANDLERS, SHARED_HANDLERS, run_oneshot, runtime_env

sys.path.insert(0, str(LOCAL_HANDLERS))
import pickled  # type: ignore[import-not-found]  # noqa: E402 - the handler module itself, to build its inputs

F = fractions.Fraction


def test_vessl_runner_runs_unchanged() -> None:
    result = run_oneshot("vessl_runner:SentimentRunner", {"text": "good then awful then awful"}, code_path=LOCAL_HANDLERS)
    assert (result.exit_code, result.document) == (0, {"output": {"label": "negative", "score": -3}})


def test_pickle_carries_python_objects_both_ways() -> None:
    payload = base64.b64encode(pickle.dumps([pickled.Point(F(1), F(1, 3)), pickled.Point(F(2), F(0))])).decode()
    result = run_oneshot("pickled:midpoint", input_text=payload, encoding="pickle", code_path=LOCAL_HANDLERS)
    assert result.exit_code == 0, result.stderr
    assert set(result.document) == {"outputB64"}
    assert pickle.loads(base64.b64decode(result.document["outputB64"])) == pickled.Point(F(3, 2), F(1, 6))


def test_pickle_binds_a_dict_by_name_and_passes_sets_whole() -> None:
    by_name = base64.b64encode(pickle.dumps({"value": frozenset({3, 1})})).decode()
    result = run_oneshot("pickled:shape", input_text=by_name, encoding="pickle", code_path=LOCAL_HANDLERS)
    assert pickle.loads(base64.b64decode(result.document["outputB64"])) == {"type": "frozenset", "items": [1, 3]}


def test_bad_pickle_is_input_rejected() -> None:
    result = run_oneshot("pickled:shape", input_text="bm90IGEgcGlja2xl", encoding="pickle", code_path=LOCAL_HANDLERS)
    assert result.exit_code == 65 and result.document["error"]["type"] == "InputRejected"
    assert "not a valid pickle" in result.document["error"]["message"]


def test_json_input_that_does_not_parse_is_input_rejected() -> None:
    result = run_oneshot("binding:identity", input_text="{not json")
    assert (result.exit_code, result.document["error"]["type"]) == (65, "InputRejected")


def test_without_an_input_file_the_input_is_null() -> None:
    result = run_oneshot("binding:identity", no_input=True)
    assert (result.exit_code, result.document) == (0, {"output": None})


def test_a_missing_input_file_is_bad_configuration(tmp_path: Path) -> None:
    result = run_oneshot("binding:identity", extra_env={"HEARTH_INPUT_FILE": str(tmp_path / "absent")})
    assert (result.exit_code, result.document["error"]["type"]) == (2, "BadConfiguration")


def test_bad_environment_still_writes_a_document(tmp_path: Path) -> None:
    log = tmp_path / "log"
    env = runtime_env(
        {"HEARTH_MODE": "oneshot", "HEARTH_HANDLER": "binding:identity", "HEARTH_CONCURRENCY": "lots", "HEARTH_TERMINATION_LOG": str(log)}
    )
    proc = subprocess.run([sys.executable, "-m", "hearth.runtime"], env=env, capture_output=True, timeout=30)
    assert proc.returncode == 2
    error = json.loads(log.read_text())["error"]
    assert error["type"] == "BadConfiguration" and "HEARTH_CONCURRENCY" in error["message"]


def test_setup_time_does_not_count_against_the_deadline() -> None:
    # The attempt's deadline covers predict(); the Job's activeDeadlineSeconds has slack for
    # scheduling, image pulls and setup().
    result = run_oneshot(
        "lifecycle:Counted", "ok", code_path=LOCAL_HANDLERS, timeout_seconds=0.5, extra_env={"LIFECYCLE_SETUP_SECONDS": "1"}
    )
    assert result.exit_code == 0, result.document


def test_user_errors_name_the_users_frame_and_log_the_traceback() -> None:
    result = run_oneshot("failures:raise_error", {"message": "boom"})
    assert result.document["error"]["message"].startswith("ValueError: boom (at ")
    assert str(SHARED_HANDLERS / "failures.py") in result.document["error"]["message"]
    assert "Traceback (most recent call last)" in result.stderr


def test_gpu_fraction_is_handed_to_frameworks(tmp_path: Path) -> None:
    (tmp_path / "envcheck.py").write_text("import os\ndef read():\n    return os.environ.get('XLA_PYTHON_CLIENT_MEM_FRACTION')\n")
    result = run_oneshot("envcheck:read", None, code_path=tmp_path, extra_env={"HEARTH_GPU_FRACTION": "0.25"})
    assert result.document == {"output": "0.25"}


def test_the_readme_example_model_runs() -> None:
    examples = LOCAL_HANDLERS.parent.parent / "examples"
    result = run_oneshot("app:Transcriber", {"text": "Hello big world"}, code_path=examples)
    assert result.document == {"output": {"text": "hi big earth", "words": 3}}
    empty = run_oneshot("app:Transcriber", [""], code_path=examples)
    assert (empty.exit_code, empty.document["error"]["type"]) == (65, "InputRejected")
