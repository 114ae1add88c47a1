"""Stream records -> one gzipped NDJSON object per partition hour (pure logic, no AWS calls).

Keys are `{prefix}/table={table}/year=YYYY/month=MM/day=DD/hour=HH/{firstSeq}-{lastSeq}.json.gz`:
the hour is the record's `ApproximateCreationDateTime` in UTC (when the change happened, not
when it was processed), and the name comes from the group's first and last sequence numbers,
so replaying a batch writes the same keys with the same bytes and overwrites instead of
duplicating.

A record that cannot be archived (a bad number, bad base64, a missing field) ends the plan:
the records before it are archived and it is reported as the batch item failure, so Lambda
resumes the shard at it and the records after it are archived on that retry.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ddb_json

TTL_PRINCIPAL = "dynamodb.amazonaws.com"


class UnidentifiableRecordError(ValueError):
    """A record without a sequence number: no batch item failure can name it, so the whole
    batch fails and the mapping bisects it until the record is alone (then dead-letters it)."""

    def __init__(self, event_id: str | None) -> None:
        super().__init__(f"stream record {event_id} has no sequence number")
        self.event_id = event_id


@dataclass(frozen=True)
class Poison:
    """The first record of a batch that cannot be archived, and why."""

    event_id: str | None
    sequence_number: str
    error: Exception


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


def _with_bytes(value: Any) -> Any:
    """Stream records carry binary as base64 text; decoded to bytes first, sets of binary
    sort by their bytes (as the archive always has), not by their base64 text."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return value  # not DynamoDB JSON: ddb_json names the attribute
    (kind, inner), *_ = value.items()
    if kind == "B" and isinstance(inner, str):
        return {"B": base64.b64decode(inner, validate=True)}
    if kind == "BS" and isinstance(inner, list):
        return {"BS": [base64.b64decode(v, validate=True) for v in inner]}
    if kind == "M" and isinstance(inner, Mapping):
        return {"M": {k: _with_bytes(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_with_bytes(v) for v in inner]}
    return value


def _attribute(name: str, value: Any) -> Any:
    try:
        decoded = _with_bytes(value)
    except (binascii.Error, TypeError, ValueError):
        raise ddb_json.InvalidAttributeError(name, "binary that is not base64") from None
    return ddb_json.attribute(name, decoded)


def _plain(value: Any) -> Any:
    """Decoded value -> JSON-ready: binary -> base64, sets -> sorted lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        # Sorted, so the same item always gives the same bytes.
        return [_plain(v) for v in sorted(value)]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _dumps(value: Any) -> str:
    """JSON text with Decimals written exactly as DynamoDB holds them ("12.50" stays so)."""
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
    """A DynamoDB JSON image as a plain JSON object text (None when the record has none).
    Decoded by `ddb_json`, so a bad value raises `InvalidAttributeError` naming it."""
    if image is None:
        return None
    if not isinstance(image, Mapping):
        raise ddb_json.InvalidAttributeError("<image>", f"not a map: {type(image).__name__}")
    return _dumps({name: _plain(_attribute(name, value)) for name, value in image.items()})


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


def sequence_number(record: Any) -> str:
    number = (
        record.get("dynamodb", {}).get("SequenceNumber") if isinstance(record, Mapping) else None
    )
    if not isinstance(number, str) or not number.isdigit():
        raise UnidentifiableRecordError(
            record.get("eventID") if isinstance(record, Mapping) else None
        )
    return number


def plan(
    records: Sequence[Mapping[str, Any]], *, prefix: str, table: str
) -> tuple[list[ArchiveObject], Poison | None]:
    """Group a batch by partition hour, keeping batch (sequence) order within each group, up
    to the first record that cannot be archived (returned as the poison)."""
    groups: dict[dt.datetime, list[tuple[str, dict[str, Any]]]] = {}
    poison = None
    for record in records:
        number = sequence_number(record)
        try:
            hour = created_at(record).replace(minute=0, second=0, microsecond=0)
            line = to_line(record)
        except Exception as error:  # pure conversion: whatever fails is the record's fault
            poison = Poison(record.get("eventID"), number, error)
            break
        groups.setdefault(hour, []).append((number, line))
    objects = []
    for hour, group in sorted(groups.items()):
        numbers = tuple(number for number, _ in group)
        key = f"{prefix}/table={table}/{partition(hour)}/{numbers[0]}-{numbers[-1]}.json.gz"
        objects.append(ArchiveObject(key, ndjson_gzip([line for _, line in group]), numbers))
    return objects, poison


def failure_response(
    failed: Sequence[ArchiveObject], poison: Poison | None = None
) -> dict[str, list[dict[str, str]]]:
    """Lambda resumes the shard from the lowest reported sequence number, so that is the one
    to report: every record before it is safely written."""
    numbers = [obj.lowest_sequence_number for obj in failed]
    if poison is not None:
        numbers.append(poison.sequence_number)
    if not numbers:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": min(numbers, key=int)}]}
