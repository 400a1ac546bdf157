"""A Server-Sent Events reader (just what the gateway's task event streams use)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Iterator, List


@dataclass(frozen=True)
class Event:
    event: str
    data: str


def parse(stream: IO[bytes]) -> Iterator[Event]:
    """Events from a byte stream, dispatched at each blank line (the SSE framing rules)."""
    kind = ""
    data: List[str] = []
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if data:
                yield Event(kind or "message", "\n".join(data))
            kind, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment, e.g. a keep-alive
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
    if data:
        yield Event(kind or "message", "\n".join(data))
