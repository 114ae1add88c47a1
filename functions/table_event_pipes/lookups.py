"""Data access for enrichment: related items by key, read with BatchGetItem."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

MAX_KEYS = 100  # BatchGetItem's limit per request
MAX_ATTEMPTS = 3
_deserializer = TypeDeserializer()


class LookupIncomplete(Exception):
    """DynamoDB left keys unprocessed (throttling): raise so the pipe retries the batch."""


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if hasattr(value, "value") and isinstance(value.value, bytes):
        return base64.b64encode(value.value).decode()
    if hasattr(value, "as_integer_ratio") and not isinstance(value, bool | int | float):
        # Decimal: integral values as int, others as float (events carry JSON numbers).
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON -> plain JSON values."""
    return {name: _plain(_deserializer.deserialize(v)) for name, v in item.items()}


def identity(key: Mapping[str, Any]) -> str:
    """A key's stable text, to match lookups with the records that asked for them."""
    return json.dumps(key, sort_keys=True)


def batch_get(
    client: Any, table: str, keys: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Items by their key's identity (`_identity`); missing items are simply absent.

    Errors (throttling, access) propagate, and keys DynamoDB leaves unprocessed after
    MAX_ATTEMPTS raise `LookupIncomplete`: the pipe retries and then dead-letters the batch.
    """
    unique = list({identity(k): dict(k) for k in keys}.values())  # BatchGetItem rejects duplicates
    found: dict[str, dict[str, Any]] = {}
    key_names = sorted(unique[0]) if unique else []
    for start in range(0, len(unique), MAX_KEYS):
        pending: list[dict[str, Any]] = unique[start : start + MAX_KEYS]
        for _ in range(MAX_ATTEMPTS):
            response = client.batch_get_item(RequestItems={table: {"Keys": pending}})
            for item in response.get("Responses", {}).get(table, []):
                found[identity({k: item[k] for k in key_names})] = plain_item(item)
            pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not pending:
                break
        if pending:
            raise LookupIncomplete(f"{len(pending)} keys left unprocessed by {table}")
    return found
