"""The demo's input: which value to read, checked before anything is read."""

from __future__ import annotations

from typing import Any, cast

from config_cache_client import Kind

MAX_NAME = 2048


class InvalidRequest(ValueError):
    """The event does not name a secret or parameter to read."""


def parse_request(event: Any, *, default_secret: str, default_parameter: str) -> tuple[Kind, str]:
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise InvalidRequest(f"the event must be a JSON object (got {type(event).__name__})")
    kind = event.get("kind")
    name = event.get("name")
    if kind is None and name is None:
        if default_secret:
            return "secret", default_secret
        if default_parameter:
            return "parameter", default_parameter
        raise InvalidRequest("no name given and no DEMO_SECRET_NAME or DEMO_PARAMETER_NAME set")
    if kind not in ("secret", "parameter"):
        raise InvalidRequest(f"kind must be 'secret' or 'parameter' (got {kind!r})")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise InvalidRequest(f"name must be a string of 1-{MAX_NAME} characters (got {name!r})")
    return cast(Kind, kind), name
