"""HTTP to the gateway over http.client: one connection per request, so a client object can be
shared by threads without locks."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from .errors import GatewayUnavailableError, HearthError, from_error_body


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError as err:
            raise GatewayUnavailableError(
                f"gateway answered {self.status} with a body that is not JSON: {self.body[:200]!r}", status=self.status
            ) from err

    def error(self, task_id: Optional[str] = None) -> HearthError:
        try:
            body: Any = json.loads(self.body) if self.body else None
        except ValueError:
            body = self.body[:300].decode("utf-8", "replace")
        return from_error_body(body, self.status, task_id)


class Transport:
    def __init__(self, base_url: str, token: Optional[str]) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"the gateway URL must be http(s)://host[:port], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._token = token

    def _headers(self, extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(extra or {})
        return headers

    def open(
        self,
        method: str,
        path: str,
        *,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float,
    ) -> "tuple[http.client.HTTPConnection, http.client.HTTPResponse]":
        """Sends a request and returns the open response (for streams); the caller closes it."""
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=timeout)
        try:
            conn.request(method, self._prefix + path, body=body, headers=self._headers(headers))
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise GatewayUnavailableError(f"{method} {self.base_url}{path}: {err or type(err).__name__}") from err

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float,
    ) -> Response:
        conn, response = self.open(method, path, body=body, headers=headers, timeout=timeout)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as err:
            raise GatewayUnavailableError(f"{method} {self.base_url}{path}: {err or type(err).__name__}") from err
        finally:
            conn.close()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
