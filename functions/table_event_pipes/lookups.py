"""Data access for enrichment: related items by key, read with BatchGetItem.

Keys come from stream images, where binary is base64 text; the SDK wants bytes, so `B`
key values are decoded before the request. Items are decoded with `ddb_json` (numbers as
exact Decimals, binary as base64 text), the same decoder every stream image goes through.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import ddb_json

MAX_KEYS = 100  # BatchGetItem's limit per request
MAX_ATTEMPTS = 3


class LookupIncomplete(Exception):
    """DynamoDB left keys unprocessed (throttling): raise so the pipe retries the batch."""


def identity(key: Mapping[str, Any]) -> str:
    """A key's stable text, the same for a stream key (binary as base64 text) and the key
    DynamoDB returns (binary as bytes), to match lookups with the records that asked."""
    return ddb_json.dumps(ddb_json.image(key), sort_keys=True)


def _request_key(key: Mapping[str, Any]) -> dict[str, Any]:
    request = {}
    for name, value in key.items():
        if isinstance(value, Mapping) and isinstance(value.get("B"), str):
            try:
                value = {"B": base64.b64decode(value["B"], validate=True)}
            except binascii.Error:
                raise ddb_json.InvalidAttributeError(name, "binary is not base64") from None
        request[name] = value
    return request


def batch_get(
    client: Any, table: str, keys: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Items by their key's `identity`; missing items are simply absent.

    Errors (throttling, access) propagate, and keys DynamoDB leaves unprocessed after
    MAX_ATTEMPTS raise `LookupIncomplete`: the pipe retries and then dead-letters the batch.
    """
    # BatchGetItem rejects duplicate keys.
    unique = list({identity(k): _request_key(k) for k in keys}.values())
    found: dict[str, dict[str, Any]] = {}
    key_names = sorted(unique[0]) if unique else []
    for start in range(0, len(unique), MAX_KEYS):
        pending: list[dict[str, Any]] = unique[start : start + MAX_KEYS]
        for _ in range(MAX_ATTEMPTS):
            response = client.batch_get_item(RequestItems={table: {"Keys": pending}})
            for item in response.get("Responses", {}).get(table, []):
                found[identity({k: item[k] for k in key_names})] = ddb_json.image(item)
            pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not pending:
                break
        if pending:
            raise LookupIncomplete(f"{len(pending)} keys left unprocessed by {table}")
    return found
