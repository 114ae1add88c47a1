"""Data access for the ranked table: batched window writes, final results, top-N pages.

Items (DynamoDB JSON, made by `scores`): `pk` = `board#{id}`, `sk` = `entry#{player}` (live,
one per player, rewritten by each window the player scored in) or `final#{player}` (final
results); the `byScore` index has `gsi1pk` = `board#{id}` (live) or `board#{id}#final` and
`gsi1sk` = the zero-padded score, so a descending query is the ranking.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

INDEX_NAME: Final = "byScore"
BATCH_LIMIT: Final = 25  # BatchWriteItem's most put requests per call
MAX_ATTEMPTS: Final = 8
BASE_DELAY_S: Final = 0.05
MAX_DELAY_S: Final = 2.0
_KEY_NAMES: Final = ("pk", "sk", "gsi1pk", "gsi1sk")


class UnprocessedItemsError(RuntimeError):
    """DynamoDB still refused some puts after every retry (sustained throttling)."""

    def __init__(self, count: int, attempts: int) -> None:
        super().__init__(f"{count} items still unprocessed after {attempts} BatchWriteItem calls")
        self.count = count


class InvalidPageToken(ValueError):
    """A `next` token this API did not issue for this board."""


@dataclass
class WriteReport:
    """What one flush cost: item puts DynamoDB accepted, calls made, retries needed."""

    items: int = 0
    calls: int = 0
    retried_items: int = 0
    delays: list[float] = field(default_factory=list)


def backoff(attempt: int, *, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff before retry `attempt` (1, 2, ...)."""
    return float(rng() * min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt))


def write_items(
    client: Any,
    table: str,
    items: Sequence[Mapping[str, Any]],
    *,
    sleep: Callable[[float], None] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> WriteReport:
    """Put every item with BatchWriteItem, at most 25 per call; `UnprocessedItems` are sent
    again after a jittered backoff, up to `max_attempts` calls per chunk. Raises
    UnprocessedItemsError when DynamoDB keeps refusing, so the invocation fails and Lambda
    retries it (the puts are keyed overwrites: repeating them is harmless)."""
    pause = sleep or time.sleep
    report = WriteReport()
    for start in range(0, len(items), BATCH_LIMIT):
        pending: list[Mapping[str, Any]] = [
            {"PutRequest": {"Item": item}} for item in items[start : start + BATCH_LIMIT]
        ]
        attempt = 0
        while pending:
            attempt += 1
            response = client.batch_write_item(RequestItems={table: pending})
            report.calls += 1
            left = list((response.get("UnprocessedItems") or {}).get(table, []))
            report.items += len(pending) - len(left)
            if not left:
                break
            if attempt >= max_attempts:
                raise UnprocessedItemsError(len(left), attempt)
            report.retried_items += len(left)
            delay = backoff(attempt)
            report.delays.append(delay)
            pause(delay)
            pending = left
    return report


def put_item(client: Any, table: str, item: Mapping[str, Any]) -> None:
    client.put_item(TableName=table, Item=item)


# Top-N reads ------------------------------------------------------------------------------


def encode_token(key: Mapping[str, Any]) -> str:
    text = json.dumps({k: key[k]["S"] for k in _KEY_NAMES}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(token: str, partition: str) -> dict[str, Any]:
    """The ExclusiveStartKey a `next` token stands for; it must belong to `partition`."""
    try:
        padded = token + "=" * (-len(token) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPageToken("next is not a page token") from None
    if (
        not isinstance(document, dict)
        or set(document) != set(_KEY_NAMES)
        or not all(isinstance(v, str) for v in document.values())
        or document["gsi1pk"] != partition
    ):
        raise InvalidPageToken("next is not a page token of this board")
    return {k: {"S": document[k]} for k in _KEY_NAMES}


@dataclass(frozen=True)
class Ranking:
    entries: list[dict[str, Any]]
    next_token: str | None


def top(
    client: Any, table: str, partition: str, *, limit: int, token: str | None = None
) -> Ranking:
    """One page of the ranking of `partition` (best first), with the token of the next."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": "gsi1pk = :board",
        "ExpressionAttributeValues": {":board": {"S": partition}},
        "ProjectionExpression": "playerId, score",
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if token is not None:
        kwargs["ExclusiveStartKey"] = decode_token(token, partition)
    page = client.query(**kwargs)
    entries = [
        {"playerId": item["playerId"]["S"], "score": int(item["score"]["N"])}
        for item in page.get("Items", [])
    ]
    last = page.get("LastEvaluatedKey")
    return Ranking(entries, encode_token(last) if last else None)
