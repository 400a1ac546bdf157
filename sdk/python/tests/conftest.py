"""Shared fixtures: real runtime processes, the repository's paths, and (for the end-to-end
tests) the real gateway started from the TypeScript sources."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SDK_ROOT = Path(__file__).resolve().parent.parent

# The tests import the package from this checkout whether or not it is pip-installed.
if str(SDK_ROOT) not in sys.path:
    sys.path.insert(0, str(SDK_ROOT))

os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
