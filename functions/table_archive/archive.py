"""Stream records -> one gzipped NDJSON object per partition hour (pure logic, no AWS calls).

Keys are `{prefix}/table={table}/year=YYYY/month=MM/day=DD/hour=HH/{firstSeq}-{lastSeq}.json.gz`:
the hour is the record's `ApproximateCreationDateTime` in UTC (when the change happened, not
when it was processed), and the name comes from the group's first and last sequence numbers,
so replaying a batch writes the same keys with the same bytes and overwrites instead of
duplicating.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

TTL_PRINCIPAL = "dynamodb.amazonaws.com"
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class ArchiveObject:
    """One object to write: its key, its gzipped NDJSON body and the records it holds."""

    key: str
    body: bytes
    sequence_numbers: tuple[str, ...]

    @property
    def lowest_sequence_number(self) -> str:
        return min(self.sequence_numbers, key=int)


# DynamoDB JSON -> plain JSON ---------------------------------------------------------------


def _with_bytes(value: Mapping[str, Any]) -> dict[str, Any]:
    """Stream records carry binary as base64 text; TypeDeserializer wants bytes."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner, validate=True)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v, validate=True) for v in inner]}
    if kind == "M":
        return {"M": {k: _with_bytes(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_with_bytes(v) for v in inner]}
    return {kind: inner}


def _plain(value: Any) -> Any:
    """Deserialized value -> JSON-ready: binary -> base64, sets -> sorted lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        # Sorted, so the same item always gives the same bytes.
        return [_plain(v) for v in sorted(value, key=lambda v: getattr(v, "value", v))]
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return base64.b64encode(value.value).decode()
    return value


def _dumps(value: Any) -> str:
    """JSON text with Decimals written as exact numbers (json.dumps would need floats)."""
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_dumps(v)}" for k, v in items)
            + "}"
        )
    raise TypeError(f"cannot archive a value of type {type(value).__name__}")


def image_json(image: Mapping[str, Any] | None) -> str | None:
    """A DynamoDB JSON image as a plain JSON object text (None when the record has none)."""
    if image is None:
        return None
    return _dumps(
        {name: _plain(_deserializer.deserialize(_with_bytes(v))) for name, v in image.items()}
    )


def loads(text: str) -> Any:
    """Read an image back exactly: every number as a Decimal."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


# Records -> lines -> objects ---------------------------------------------------------------


def created_at(record: Mapping[str, Any]) -> dt.datetime:
    return dt.datetime.fromtimestamp(
        float(record["dynamodb"]["ApproximateCreationDateTime"]), tz=dt.UTC
    )


def is_ttl_expiry(record: Mapping[str, Any]) -> bool:
    identity = record.get("userIdentity") or {}
    return (
        record.get("eventName") == "REMOVE"
        and identity.get("type") == "Service"
        and identity.get("principalId") == TTL_PRINCIPAL
    )


def to_line(record: Mapping[str, Any]) -> dict[str, Any]:
    change = record["dynamodb"]
    return {
        "eventId": record["eventID"],
        "eventName": record["eventName"],
        "sequenceNumber": change["SequenceNumber"],
        "approximateCreationTime": created_at(record).isoformat().replace("+00:00", "Z"),
        "keys": image_json(change["Keys"]),
        "newImage": image_json(change.get("NewImage")),
        "oldImage": image_json(change.get("OldImage")),
        "ttlExpired": is_ttl_expiry(record),
    }


def partition(hour: dt.datetime) -> str:
    return f"year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}"


def ndjson_gzip(lines: Sequence[Mapping[str, Any]]) -> bytes:
    text = "".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines
    )
    # mtime=0: the same lines always compress to the same bytes.
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


def plan(records: Sequence[Mapping[str, Any]], *, prefix: str, table: str) -> list[ArchiveObject]:
    """Group a batch by partition hour, keeping batch (sequence) order within each group."""
    groups: dict[dt.datetime, list[Mapping[str, Any]]] = {}
    for record in records:
        hour = created_at(record).replace(minute=0, second=0, microsecond=0)
        groups.setdefault(hour, []).append(record)
    objects = []
    for hour, group in sorted(groups.items()):
        numbers = tuple(r["dynamodb"]["SequenceNumber"] for r in group)
        key = f"{prefix}/table={table}/{partition(hour)}/{numbers[0]}-{numbers[-1]}.json.gz"
        objects.append(ArchiveObject(key, ndjson_gzip([to_line(r) for r in group]), numbers))
    return objects


def failure_response(failed: Sequence[ArchiveObject]) -> dict[str, list[dict[str, str]]]:
    """Lambda resumes the shard from the lowest reported sequence number, so that is the one
    to report: every record before it is safely written."""
    if not failed:
        return {"batchItemFailures": []}
    lowest = min((obj.lowest_sequence_number for obj in failed), key=int)
    return {"batchItemFailures": [{"itemIdentifier": lowest}]}
