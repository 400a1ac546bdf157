"""spec.artifacts as the Python runtime exposes them (HEARTH_ARTIFACTS, set by the operator or dev
mode once the files are in place): hearth.artifacts(), ctx.artifacts in setup and tasks, and a
VESSL runner's load_model(props, artifacts) — real oneshot processes reading a real file."""

from __future__ import annotations

import json
from pathlib import Path

from support import LOCAL_HANDLERS, run_oneshot


def weights(tmp_path: Path) -> str:
    model = tmp_path / "whisper"
    model.mkdir()
    (model / "weights.txt").write_text("w1")
    return json.dumps({"whisper": str(model)})


def test_handler_reads_artifacts_in_setup_and_tasks(tmp_path: Path) -> None:
    env = weights(tmp_path)
    result = run_oneshot("artifacts_handlers:ReadsWeights", code_path=LOCAL_HANDLERS, extra_env={"HEARTH_ARTIFACTS": env})
    assert result.exit_code == 0, result.stderr
    expected = json.loads(env)
    assert result.document["output"] == {"weights": "w1", "setup": expected, "task": expected}


def test_vessl_runner_receives_artifact_paths(tmp_path: Path) -> None:
    env = weights(tmp_path)
    result = run_oneshot("artifacts_handlers:Runner", {"x": 1}, code_path=LOCAL_HANDLERS, extra_env={"HEARTH_ARTIFACTS": env})
    assert result.exit_code == 0, result.stderr
    assert result.document["output"] == {"props": None, "artifacts": json.loads(env), "weights": "w1"}


def test_no_artifacts_is_an_empty_mapping() -> None:
    result = run_oneshot("vessl_runner:SentimentRunner", {"text": "good"}, code_path=LOCAL_HANDLERS)
    assert result.exit_code == 0, result.stderr
