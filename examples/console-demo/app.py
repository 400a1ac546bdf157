"""The handler of examples/console-demo: ``handler: app:Painter``.

A stand-in for an image model with what the console shows off: type hints (the console builds a
form from them), progress while it works, and an image in the output (a PNG as a data URL, made
with the standard library so it runs anywhere).
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
import zlib
from typing import Literal, Optional

import hearth


def _png(width: int, height: int, pixel) -> bytes:  # type: ignore[no-untyped-def]
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Painter:
    def setup(self) -> None:
        # A real model would load its weights here, once per worker.
        self.palettes = {"ink": ((20, 20, 40), (200, 210, 230)), "oil": ((120, 40, 10), (250, 200, 90))}

    def predict(
        self,
        prompt: str,
        steps: int = 8,
        style: Literal["ink", "oil"] = "ink",
        size: int = 96,
        seed: Optional[int] = None,
        ctx: hearth.Context = None,
    ) -> dict:
        if not 1 <= steps <= 50:
            raise hearth.InputRejected("steps must be between 1 and 50")
        if not 16 <= size <= 256:
            raise hearth.InputRejected("size must be between 16 and 256")
        for i in range(steps):
            ctx.update_progress(i / steps, f"denoising step {i + 1} of {steps}")
            time.sleep(0.3)
        digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
        (dark, light) = self.palettes[style]
        fx, fy = 1 + digest[0] % 5, 1 + digest[1] % 5

        def pixel(x: int, y: int) -> tuple:
            t = ((x * fx + y * fy + digest[(x + y) % 32]) % size) / size
            return tuple(int(d + (l - d) * t) for d, l in zip(dark, light))

        image = base64.b64encode(_png(size, size, pixel)).decode()
        return {"prompt": prompt, "style": style, "steps": steps, "image": f"data:image/png;base64,{image}"}
