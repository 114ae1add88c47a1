"""The hit counter: one item per request path, `hits` incremented atomically (`ADD`), and
`expiresAt` pushed forward on every hit, so a path nobody calls any more ages out (TTL)."""

from __future__ import annotations

from typing import Any


def record_hit(table: Any, path: str, *, now_s: float, ttl_s: int) -> int:
    """Counts one hit on `path` and returns its new total."""
    response = table.update_item(
        Key={"path": path},
        UpdateExpression="ADD hits :one SET expiresAt = :expires",
        ExpressionAttributeValues={":one": 1, ":expires": int(now_s) + ttl_s},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["hits"])
