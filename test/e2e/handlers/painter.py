"""A Python handler with type hints (its reported signature) that reports progress."""

from __future__ import annotations

import time
from typing import List, Literal, Optional

import hearth


class Painter:
    def setup(self) -> None:
        self.prefix = "painted"

    def predict(
        self,
        prompt: str,
        steps: int = 3,
        scale: float = 1.5,
        style: Literal["ink", "oil"] = "ink",
        seed: Optional[int] = None,
        tags: List[str] = [],
        image: Optional[hearth.File] = None,
        ctx: hearth.Context = None,
    ) -> dict:
        for i in range(steps):
            ctx.update_progress(i / steps, f"step {i + 1} of {steps}")
            time.sleep(0.1)
        return {"text": f"{self.prefix}: {prompt}", "steps": steps, "scale": scale, "style": style, "seed": seed, "tags": tags}
