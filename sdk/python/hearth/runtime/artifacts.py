"""Where the Function's artifacts are (``spec.artifacts``): name → path, from ``HEARTH_ARTIFACTS``,
which the operator (and dev mode) set once the files are in place. ``hearth.artifacts()`` in
handler code, ``ctx.artifacts`` on task and setup contexts, and the ``artifacts`` argument of a
VESSL runner's ``load_model(props, artifacts)``."""

from __future__ import annotations

import json
import os
from typing import Dict, Mapping, Optional


def parse(raw: Optional[str]) -> Dict[str, str]:
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise ValueError(f"HEARTH_ARTIFACTS is not JSON: {raw[:200]!r}") from err
    if not isinstance(value, dict):
        raise ValueError("HEARTH_ARTIFACTS must be a JSON object of name -> path")
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def artifacts(env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The Function's artifacts in this worker: ``{"whisper": "/models/whisper"}``."""
    return parse((env if env is not None else os.environ).get("HEARTH_ARTIFACTS"))
