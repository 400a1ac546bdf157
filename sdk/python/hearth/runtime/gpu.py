"""Caps a worker's GPU memory to its share (``HEARTH_GPU_FRACTION``) when the GPU is shared by
time-slicing or MPS, where nothing else stops one process from taking all of it."""

from __future__ import annotations

from types import ModuleType
from typing import Dict, Mapping, Optional


def framework_env(fraction: Optional[float], env: Mapping[str, str]) -> Dict[str, str]:
    """Variables to set before frameworks load; the user's own settings win."""
    if fraction is None or fraction >= 1:
        return {}
    wanted = {
        # JAX preallocates 75% of the device unless told otherwise.
        "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{fraction:.4g}",
        # TensorFlow grabs all memory up front; growth mode at least leaves the rest to others.
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }
    return {k: v for k, v in wanted.items() if k not in env}


def cap_torch(fraction: Optional[float], torch: Optional[ModuleType]) -> bool:
    """Applies the cap to every visible CUDA device if torch is loaded; True when applied."""
    if fraction is None or fraction >= 1 or torch is None:
        return False
    try:
        cuda = torch.cuda
        if not cuda.is_available():
            return False
        for device in range(cuda.device_count()):
            cuda.set_per_process_memory_fraction(fraction, device)
        return True
    except Exception:  # a broken CUDA setup shows itself in the user's code, with its own error
        return False
