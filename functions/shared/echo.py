"""How much of a caller's input an answer or a log line may repeat (shared by the API
handlers of several patterns; `packaging.build(shared=("echo.py",))` puts it in a zip)."""

from __future__ import annotations

ECHO_LIMIT = 100


def bounded(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as text of at most `limit` characters."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
