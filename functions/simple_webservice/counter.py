"""One hit counter per request path, incremented atomically.

`increment` is a single `UpdateItem` with `ADD hits :one`: DynamoDB applies it to the item
in one step, so concurrent hits on a path never overwrite each other (a read followed by a
write would). The new count comes back from the same request (`UPDATED_NEW`), so the
function needs no read permission.
"""

from __future__ import annotations

from typing import Any

KEY_ATTRIBUTE = "path"
COUNT_ATTRIBUTE = "hits"
# DynamoDB allows 2048 bytes of partition key; longer paths are refused, not truncated
# (two long paths sharing a prefix would otherwise share a counter).
MAX_PATH_BYTES = 1024


class InvalidPathError(ValueError):
    """The event carries no usable request path."""


class PathTooLongError(ValueError):
    """The request path is over MAX_PATH_BYTES (UTF-8)."""


def request_path(event: dict[str, Any]) -> str:
    """The path a request counts against, from an HTTP API (payload 2.0) or REST event.

    An HTTP API on a named stage puts the stage in `rawPath` (`/v1/docs`); it is removed so
    both API types count `/docs`. REST's `path` never carries the stage.
    """
    if not isinstance(event, dict):
        raise InvalidPathError(f"event must be an object (got {type(event).__name__})")
    if event.get("version") == "2.0":
        path = event.get("rawPath")
        context = event.get("requestContext")
        stage = context.get("stage") if isinstance(context, dict) else None
        prefix = f"/{stage}"
        if (
            isinstance(path, str)
            and isinstance(stage, str)
            and stage != "$default"
            and (path == prefix or path.startswith(prefix + "/"))
        ):
            path = path[len(prefix) :] or "/"
    else:
        path = event.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidPathError(f"request path must be text starting with '/' (got {path!r:.40})")
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise PathTooLongError(f"request path is over {MAX_PATH_BYTES} bytes")
    return path


def increment(client: Any, table_name: str, path: str) -> int:
    """Adds one to `path`'s counter (creating it at 1) and returns the new count."""
    response = client.update_item(
        TableName=table_name,
        Key={KEY_ATTRIBUTE: {"S": path}},
        UpdateExpression="ADD #hits :one",
        ExpressionAttributeNames={"#hits": COUNT_ATTRIBUTE},
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"][COUNT_ATTRIBUTE]["N"])
