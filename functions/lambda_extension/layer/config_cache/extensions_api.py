"""The Lambda Extensions API client: register, then wait for events one at a time.

`AWS_LAMBDA_RUNTIME_API` (host:port) is where Lambda serves it. Registration names the
extension (`Lambda-Extension-Name`, which must be the file name under /opt/extensions) and
returns the identifier every later call carries (`Lambda-Extension-Identifier`).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

VERSION = "2020-01-01"
NAME_HEADER = "Lambda-Extension-Name"
ID_HEADER = "Lambda-Extension-Identifier"
ERROR_TYPE_HEADER = "Lambda-Extension-Function-Error-Type"

# The Runtime API is on the sandbox's loopback: never route it through a proxy from the env.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ExtensionsApiError(Exception):
    """The Extensions API refused a call or answered something unreadable."""


@dataclass(frozen=True)
class ExtensionsApi:
    runtime_api: str  # host:port

    def _url(self, path: str) -> str:
        return f"http://{self.runtime_api}/{VERSION}/extension/{path}"

    def _call(
        self, path: str, *, method: str, headers: dict[str, str], body: Any | None = None
    ) -> tuple[dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self._url(path), data=data, headers=headers, method=method)
        try:
            # No timeout on purpose: event/next blocks until Lambda has an event.
            with _OPENER.open(request) as response:
                raw = response.read()
                return dict(response.headers.items()), json.loads(raw) if raw else {}
        except (OSError, ValueError) as error:
            raise ExtensionsApiError(f"{method} {path}: {error}") from error

    def register(self, name: str, events: tuple[str, ...] = ("INVOKE", "SHUTDOWN")) -> str:
        headers, _ = self._call(
            "register",
            method="POST",
            headers={NAME_HEADER: name, "Content-Type": "application/json"},
            body={"events": list(events)},
        )
        identifier = {k.lower(): v for k, v in headers.items()}.get(ID_HEADER.lower())
        if not identifier:
            raise ExtensionsApiError(f"register: no {ID_HEADER} in the answer")
        return identifier

    def next_event(self, identifier: str) -> dict[str, Any]:
        _, event = self._call("event/next", method="GET", headers={ID_HEADER: identifier})
        if not isinstance(event, dict) or "eventType" not in event:
            raise ExtensionsApiError(f"event/next: not an event: {event!r}")
        return event

    def init_error(self, identifier: str, error_type: str, message: str) -> None:
        """Tell Lambda the extension cannot start (Lambda then fails the init phase)."""
        self._call(
            "init/error",
            method="POST",
            headers={ID_HEADER: identifier, ERROR_TYPE_HEADER: error_type},
            body={"errorMessage": message, "errorType": error_type},
        )
