"""Newline-delimited JSON messages between the supervisor and its child over a socketpair.

A dedicated socket (not stdin/stdout) keeps the user's prints out of the protocol. Messages:

supervisor → child: ``{"op":"task","id","attempt","timeoutSeconds","input"|"inputB64"}``,
``{"op":"cancel","id"}`` (sets ``ctx.cancelled``), ``{"op":"shutdown"}``.
child → supervisor: ``{"op":"ready"}``, ``{"op":"setup_failed","type","message"}``,
``{"op":"progress","id","value","message"}``, ``{"op":"done","id","output"|"outputB64"}``,
``{"op":"failed","id","type","message"}``.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any, Dict, Optional

from .. import encoding as enc

Message = Dict[str, Any]


class ChannelClosed(Exception):
    """The other end is gone."""


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")
        self._send_lock = threading.Lock()

    def send(self, message: Message) -> None:
        data = (enc.json_dumps(message) + "\n").encode("utf-8")
        with self._send_lock:
            try:
                self._sock.sendall(data)
            except OSError as err:
                raise ChannelClosed(str(err)) from err

    def receive(self) -> Optional[Message]:
        """The next message, or None when the other end closed."""
        try:
            line = self._reader.readline()
        except OSError:
            return None
        if not line:
            return None
        value = json.loads(line)
        if not isinstance(value, dict):
            raise ValueError(f"channel message is not an object: {line[:200]!r}")
        return value

    def close(self) -> None:
        for closer in (self._reader.close, lambda: self._sock.shutdown(socket.SHUT_RDWR), self._sock.close):
            try:
                closer()
            except OSError:
                pass
