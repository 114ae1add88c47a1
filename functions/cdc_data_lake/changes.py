"""Firehose records holding DynamoDB change records -> lake lines (pure logic, no AWS calls).

Each Firehose record's `data` is one change record in the Kinesis Data Streams for DynamoDB
format (`awsRegion`, `eventID`, `eventName`, `userIdentity`, `recordFormat`, `tableName`,
`dynamodb{ApproximateCreationDateTime, Keys, NewImage, OldImage, SizeBytes}`,
`eventSource: aws:dynamodb`). It becomes one newline-terminated JSON line: `eventId`,
`eventName`, `tableName`, `approximateCreationTime` (ISO 8601 UTC), `keys`, `newImage`,
`oldImage` (plain JSON: exact numbers, sets as sorted lists, binary as base64) and
`ttlExpired`, plus the dynamic-partitioning keys `table`, `year`, `month`, `day`.

The response follows Firehose's data-transformation contract: every input `recordId` comes
back exactly once, in order, with `Ok` (and base64 `data` plus `metadata.partitionKeys`) or
`ProcessingFailed`. A record that cannot be decoded (bad base64, bad JSON, a missing field,
a wrong type, an invalid DynamoDB JSON value) is `ProcessingFailed`, never `Dropped`:
Firehose writes it, raw, under the error prefix (`processing-failed/`) and the others go on.

Lambda refuses a response over 6 MB, and Firehose would then fail (and retry) the whole
batch. The response is therefore built against a byte budget: room for a minimal
`ProcessingFailed` entry of every record is reserved up front, so every record always fits,
and a record whose transformed entry would overrun the budget comes back `ProcessingFailed`
(Firehose keeps its raw data) rather than breaking the batch.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import ddb_json

OK: Final = "Ok"
PROCESSING_FAILED: Final = "ProcessingFailed"
EVENT_NAMES: Final = frozenset({"INSERT", "MODIFY", "REMOVE"})
EVENT_SOURCE: Final = "aws:dynamodb"
TTL_PRINCIPAL: Final = "dynamodb.amazonaws.com"
# Lambda's synchronous response limit is 6 MB; the Python runtime serializes the handler's
# return value with json.dumps' default separators, which `_size` counts the same way.
MAX_RESPONSE_BYTES: Final = 6 * 1024 * 1024
_ENVELOPE: Final = len(json.dumps({"records": []}))
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{3,255}$")
_UNITS: Final = {"MILLISECOND": 1_000, "MICROSECOND": 1_000_000}
# Creation times later than this are not epoch milliseconds/microseconds of a real change.
_LATEST = dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp()

Precision = Literal["MILLISECOND", "MICROSECOND"]
PartitionTime = Literal["arrival", "change"]


class InvalidChangeError(ValueError):
    """A Firehose record whose data is not a DynamoDB change record we can transform."""


@dataclass(frozen=True)
class Outcome:
    """The response and what happened to each record (for logs and metrics)."""

    response: dict[str, Any]
    ok: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (recordId, reason)
    over_budget: int = 0


# DynamoDB JSON, strictly typed ------------------------------------------------------------

_STRING_SETS = {"SS", "NS", "BS"}


def _check(value: Any, path: str) -> None:
    """Types ddb_json leaves to the caller: `{"S": 5}` or `{"BOOL": "yes"}` are refused here,
    binary must be base64 (numbers are ddb_json's to check)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ddb_json.InvalidAttributeError(path, "not a DynamoDB JSON value")
    (kind, inner), *_ = value.items()
    if kind in ("S", "N", "B"):
        if not isinstance(inner, str):
            raise ddb_json.InvalidAttributeError(path, f"{kind} holds {type(inner).__name__}")
        if kind == "B":
            _base64(inner, path)
    elif kind in _STRING_SETS:
        if not isinstance(inner, list) or not inner or not all(isinstance(v, str) for v in inner):
            raise ddb_json.InvalidAttributeError(path, f"{kind} is not a non-empty string list")
        if kind == "BS":
            for item in inner:
                _base64(item, path)
    elif kind == "BOOL":
        if not isinstance(inner, bool):
            raise ddb_json.InvalidAttributeError(path, f"BOOL holds {type(inner).__name__}")
    elif kind == "NULL":
        if inner is not True:
            raise ddb_json.InvalidAttributeError(path, "NULL must be true")
    elif kind == "L":
        if not isinstance(inner, list):
            raise ddb_json.InvalidAttributeError(path, f"L holds {type(inner).__name__}")
        for index, item in enumerate(inner):
            _check(item, f"{path}[{index}]")
    elif kind == "M":
        if not isinstance(inner, Mapping):
            raise ddb_json.InvalidAttributeError(path, f"M holds {type(inner).__name__}")
        for name, item in inner.items():
            _check(item, f"{path}.{name}")
    # Any other type: ddb_json names it.


def _base64(text: str, path: str) -> None:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ddb_json.InvalidAttributeError(path, "binary that is not base64") from None


def _image(record: Mapping[str, Any], name: str, *, required: bool = False) -> Any:
    value = record.get(name)
    if value is None:
        if required:
            raise InvalidChangeError(f"dynamodb.{name} is missing")
        return None
    if not isinstance(value, Mapping):
        raise InvalidChangeError(f"dynamodb.{name} is {type(value).__name__}, not a map")
    if required and not value:
        raise InvalidChangeError(f"dynamodb.{name} is empty")
    for attribute, item in value.items():
        _check(item, attribute)
    return ddb_json.image(value)


# One change record -> one line -------------------------------------------------------------


def _text(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        shown = "missing" if value is None else f"{type(value).__name__}, not a string"
        raise InvalidChangeError(f"{name} is {shown}")
    return value


def _epoch_s(value: Any, unit: int, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = "missing" if value is None else type(value).__name__
        raise InvalidChangeError(f"{name} is {shown}, not a number")
    seconds = value / unit
    if not math.isfinite(seconds) or not 0 < seconds < _LATEST:
        raise InvalidChangeError(f"{name} {value!r} is out of range")
    return float(seconds)


def _iso(seconds: float, unit: int) -> str:
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    timespec = "milliseconds" if unit == 1_000 else "microseconds"
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def decode(data: Any) -> dict[str, Any]:
    """A Firehose record's base64 `data` -> the change record (a JSON object)."""
    if not isinstance(data, str):
        raise InvalidChangeError(f"data is {type(data).__name__}, not base64 text")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidChangeError("data is not base64") from None
    try:
        change = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise InvalidChangeError("data is not a JSON document") from None
    if not isinstance(change, dict):
        raise InvalidChangeError(f"data is a JSON {type(change).__name__}, not an object")
    return change


def line(
    change: Mapping[str, Any], *, precision: Precision = "MILLISECOND"
) -> tuple[bytes, float, str]:
    """(newline-terminated JSON line, change time in epoch seconds, table name)."""
    source = change.get("eventSource")
    if source != EVENT_SOURCE:
        raise InvalidChangeError(f"eventSource is {source!r}, not {EVENT_SOURCE!r}")
    event_name = _text(change, "eventName")
    if event_name not in EVENT_NAMES:
        raise InvalidChangeError(f"eventName {event_name[:20]!r} is not INSERT, MODIFY or REMOVE")
    event_id = _text(change, "eventID")
    table = _text(change, "tableName")
    if not _TABLE_NAME.match(table):
        raise InvalidChangeError("tableName is not a DynamoDB table name")
    record = change.get("dynamodb")
    if not isinstance(record, Mapping):
        shown = "missing" if record is None else f"{type(record).__name__}, not a map"
        raise InvalidChangeError(f"dynamodb is {shown}")
    unit = _UNITS[precision]
    changed_at = _epoch_s(
        record.get("ApproximateCreationDateTime"), unit, "dynamodb.ApproximateCreationDateTime"
    )
    identity = change.get("userIdentity")
    if identity is not None and not isinstance(identity, Mapping):
        raise InvalidChangeError(f"userIdentity is {type(identity).__name__}, not a map")
    try:
        keys = _image(record, "Keys", required=True)
        new_image = _image(record, "NewImage")
        old_image = _image(record, "OldImage")
    except ddb_json.InvalidAttributeError as error:
        raise InvalidChangeError(f"invalid DynamoDB JSON: {error}") from None
    ttl_expired = (
        event_name == "REMOVE"
        and identity is not None
        and identity.get("type") == "Service"
        and identity.get("principalId") == TTL_PRINCIPAL
    )
    text = ddb_json.dumps(
        {
            "eventId": event_id,
            "eventName": event_name,
            "tableName": table,
            "approximateCreationTime": _iso(changed_at, unit),
            "keys": keys,
            "newImage": new_image,
            "oldImage": old_image,
            "ttlExpired": ttl_expired,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return (text + "\n").encode(), changed_at, table


def partition_keys(table: str, epoch_s: float) -> dict[str, str]:
    """The dynamic-partitioning keys: the S3 prefix reads them with partitionKeyFromLambda."""
    day = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    return {
        "table": table,
        "year": f"{day.year:04d}",
        "month": f"{day.month:02d}",
        "day": f"{day.day:02d}",
    }


# The whole response -------------------------------------------------------------------------


def _size(entry: Mapping[str, Any]) -> int:
    """Bytes the entry adds to the response, with the separator before it."""
    return len(json.dumps(entry)) + 2


def _is_base64(data: Any) -> bool:
    if not isinstance(data, str):
        return False
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _failed(record_id: str, data: str) -> dict[str, Any]:
    return {"recordId": record_id, "result": PROCESSING_FAILED, "data": data}


def _record_id(record: Any, index: int) -> str:
    if not isinstance(record, Mapping):
        raise InvalidChangeError(f"records[{index}] is {type(record).__name__}, not an object")
    record_id = record.get("recordId")
    if not isinstance(record_id, str) or not record_id:
        raise InvalidChangeError(f"records[{index}] has no recordId")
    return record_id


def records_of(event: Any) -> Sequence[Any]:
    """The event's records; an event that is not a Firehose transformation event raises
    (without recordIds there is no response Firehose could match)."""
    if not isinstance(event, Mapping):
        raise InvalidChangeError(f"event is {type(event).__name__}, not an object")
    records = event.get("records")
    if not isinstance(records, list):
        raise InvalidChangeError("event has no records list")
    return records


def transform(
    records: Iterable[Any],
    *,
    precision: Precision = "MILLISECOND",
    partition_time: PartitionTime = "arrival",
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> Outcome:
    """Every record -> one response entry, in order, the response within the byte budget.

    Raises InvalidChangeError only for a record without a recordId (Firehose cannot match
    the response then, so the whole invocation must fail and be retried)."""
    records = list(records)
    ids = [_record_id(record, index) for index, record in enumerate(records)]
    if len(set(ids)) != len(ids):
        raise InvalidChangeError("records repeat a recordId")
    reserved = sum(_size(_failed(record_id, "")) for record_id in ids)
    used = _ENVELOPE
    entries: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    ok = over_budget = 0
    for record_id, record in zip(ids, records, strict=True):
        reserved -= _size(_failed(record_id, ""))
        data = record.get("data")
        try:
            body, changed_at, table = line(decode(data), precision=precision)
            if partition_time == "arrival":
                arrived_at = _epoch_s(
                    record.get("approximateArrivalTimestamp"), 1_000, "approximateArrivalTimestamp"
                )
            else:
                arrived_at = changed_at
        except InvalidChangeError as error:
            # Echo the raw data when it fits (the blueprint convention); Firehose writes the
            # record's raw data under the error prefix either way.
            entry = _failed(record_id, data if _is_base64(data) else "")
            if used + _size(entry) + reserved > max_response_bytes:
                entry = _failed(record_id, "")
            entries.append(entry)
            used += _size(entry)
            failed.append((record_id, str(error)))
            continue
        entry = {
            "recordId": record_id,
            "result": OK,
            "data": base64.b64encode(body).decode("ascii"),
            "metadata": {"partitionKeys": partition_keys(table, arrived_at)},
        }
        size = _size(entry)
        if used + size + reserved > max_response_bytes:
            entry = _failed(record_id, "")
            size = _size(entry)
            over_budget += 1
            failed.append((record_id, "transformed record does not fit the 6 MB response"))
        else:
            ok += 1
        entries.append(entry)
        used += size
    return Outcome({"records": entries}, ok=ok, failed=failed, over_budget=over_budget)
