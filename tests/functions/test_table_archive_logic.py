"""table-archive's pure logic (archive.py) called directly: sequence numbers as numbers, TTL
deletions, byte-identical replays, strict base64 and the grouping of a batch (issue #19)."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

HOUR_9 = 1772355600  # 2026-03-01T09:00:00Z
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


@pytest.fixture
def archive(load_function: Callable[[str, str], ModuleType]) -> ModuleType:
    return load_function("table-archive", "archive")


def record(sequence: str, *, at: float = HOUR_9, event: str = "INSERT", **extra: Any) -> dict:
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": at,
        "Keys": {"pk": {"S": f"ORDER#{sequence}"}},
        "NewImage": {"pk": {"S": f"ORDER#{sequence}"}, "total": {"N": "12.50"}},
        "SequenceNumber": sequence,
    }
    return {"eventID": f"e{sequence}", "eventName": event, "dynamodb": change, **extra}


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


# Sequence numbers are numbers ---------------------------------------------------------------


def test_the_lowest_sequence_number_is_the_smallest_number_not_the_first_string(archive):
    obj = archive.ArchiveObject("k", b"", ("900", "1000", "95000"))
    assert obj.lowest_sequence_number == "900"


def test_the_reported_failure_is_the_numerically_lowest(archive):
    failed = [
        archive.ArchiveObject("a", b"", ("1000", "1001")),
        archive.ArchiveObject("b", b"", ("950", "999")),
    ]
    assert archive.failure_response(failed) == {"batchItemFailures": [{"itemIdentifier": "950"}]}
    poison = archive.Poison("e", "97", ValueError("bad"))
    assert archive.failure_response(failed, poison) == {
        "batchItemFailures": [{"itemIdentifier": "97"}]
    }
    assert archive.failure_response([], poison) == {"batchItemFailures": [{"itemIdentifier": "97"}]}
    assert archive.failure_response([]) == {"batchItemFailures": []}


def test_a_record_needs_a_sequence_number_of_digits(archive):
    assert archive.sequence_number(record("0123")) == "0123"
    for bad in (record("12a"), record(""), {"eventID": "e1", "dynamodb": {}}, {"eventID": "e2"}):
        with pytest.raises(archive.UnidentifiableRecordError, match="has no sequence number"):
            archive.sequence_number(bad)
    with pytest.raises(archive.UnidentifiableRecordError) as raised:
        archive.plan([record("1"), record("x")], prefix="p", table="t")
    assert raised.value.event_id == "ex"
    with pytest.raises(archive.UnidentifiableRecordError) as raised:
        archive.sequence_number(["not", "a", "record"])
    assert raised.value.event_id is None


# TTL deletions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "identity", "expired"),
    [
        ("REMOVE", TTL_IDENTITY, True),
        ("REMOVE", {"type": "Service", "principalId": "events.amazonaws.com"}, False),
        ("REMOVE", {"type": "User", "principalId": "dynamodb.amazonaws.com"}, False),
        ("REMOVE", {"principalId": "dynamodb.amazonaws.com"}, False),
        ("REMOVE", None, False),
        ("MODIFY", TTL_IDENTITY, False),
    ],
)
def test_a_ttl_deletion_is_a_remove_by_the_dynamodb_service(archive, event, identity, expired):
    extra = {} if identity is None else {"userIdentity": identity}
    assert archive.is_ttl_expiry(record("1", event=event, **extra)) is expired
    assert archive.to_line(record("1", event=event, **extra))["ttlExpired"] is expired


# Replays ------------------------------------------------------------------------------------


def test_a_replayed_batch_gives_the_same_keys_and_bytes(archive):
    batch = [record("98"), record("99"), record("100", at=HOUR_9 + 3600)]
    first, poison = archive.plan(batch, prefix="archive", table="orders")
    again, _ = archive.plan([dict(r) for r in batch], prefix="archive", table="orders")
    assert poison is None
    assert [(o.key, o.body) for o in first] == [(o.key, o.body) for o in again]
    assert [o.key for o in first] == [
        "archive/table=orders/year=2026/month=03/day=01/hour=09/98-99.json.gz",
        "archive/table=orders/year=2026/month=03/day=01/hour=10/100-100.json.gz",
    ]
    assert [o.sequence_numbers for o in first] == [("98", "99"), ("100",)]
    # The gzip header holds no timestamp, so a replay on another day writes the same bytes.
    assert first[0].body[4:8] == b"\0\0\0\0"


def test_an_object_is_the_records_as_ndjson_in_batch_order(archive):
    (obj,), _ = archive.plan([record("7"), record("5")], prefix="p", table="t")
    assert obj.key.endswith("/7-5.json.gz")
    first, second = lines(obj.body)
    assert first == {
        "eventId": "e7",
        "eventName": "INSERT",
        "sequenceNumber": "7",
        "approximateCreationTime": "2026-03-01T09:00:00Z",
        "keys": '{"pk":"ORDER#7"}',
        "newImage": '{"pk":"ORDER#7","total":12.50}',
        "oldImage": None,
        "ttlExpired": False,
    }
    assert second["sequenceNumber"] == "5"


def test_the_partition_hour_is_the_records_creation_hour_in_utc(archive):
    at = HOUR_9 + 3599.9  # 09:59:59.9
    (obj,), _ = archive.plan(
        [record("1", at=at), record("2", at=str(HOUR_9))], prefix="p", table="t"
    )
    assert "/hour=09/1-2.json.gz" in obj.key
    assert lines(obj.body)[0]["approximateCreationTime"] == "2026-03-01T09:59:59.900000Z"


# Poison records and base64 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"B": "not base64!"},
        {"B": "YW Jj"},
        {"B": "YWJj\n"},
        {"BS": ["YWJj", "%%%"]},
        {"M": {"inner": {"B": "@@"}}},
        {"L": [{"S": "ok"}, {"B": "@@"}]},
    ],
    ids=["text", "space", "newline", "set", "map", "list"],
)
def test_malformed_base64_raises_naming_the_attribute(archive, value):
    with pytest.raises(ValueError, match="attribute 'blob': binary that is not base64"):
        archive.image_json({"pk": {"S": "a"}, "blob": value})


def test_binary_is_archived_as_base64_and_binary_sets_sorted_by_their_bytes(archive):
    low, high = base64.b64encode(b"\x00\xff").decode(), base64.b64encode(b"\xff").decode()
    image = {"b": {"B": low}, "bs": {"BS": [high, low]}, "ss": {"SS": ["b", "a"]}}
    assert json.loads(archive.image_json(image)) == {"b": low, "bs": [low, high], "ss": ["a", "b"]}


def test_a_poison_record_ends_the_plan_and_the_records_before_it_are_archived(archive):
    bad = record("3")
    bad["dynamodb"]["NewImage"]["blob"] = {"B": "@@"}
    objects, poison = archive.plan(
        [record("1"), record("2", at=HOUR_9 + 7200), bad, record("4")], prefix="p", table="t"
    )
    assert [o.sequence_numbers for o in objects] == [("1",), ("2",)]
    assert (poison.event_id, poison.sequence_number) == ("e3", "3")
    assert "attribute 'blob'" in str(poison.error)
    _, poison = archive.plan([record("1", at="soon")], prefix="p", table="t")
    assert poison.sequence_number == "1"


def test_numbers_and_text_are_written_exactly(archive):
    assert archive.image_json(None) is None
    text = archive.image_json(
        {"n": {"N": "12.50"}, "e": {"S": "é"}, "t": {"BOOL": True}, "z": {"NULL": True}}
    )
    assert text == '{"e":"é","n":12.50,"t":true,"z":null}'
    assert archive.loads(text)["n"] == Decimal("12.50")
    with pytest.raises(ValueError, match="not a map: list"):
        archive.image_json([{"S": "a"}])
    with pytest.raises(TypeError, match="cannot archive a value of type float"):
        archive._dumps({"x": 1.5})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({}, "not a DynamoDB JSON value: a map with keys"),
        ({"B": "@@", "S": "x"}, "not a DynamoDB JSON value: a map with keys B, S"),
        ({"A": "@@"}, "Dynamodb type A is not supported"),
    ],
    ids=["empty", "two-types", "unknown-type"],
)
def test_a_value_that_is_not_dynamodb_json_is_reported_as_such(archive, value, reason):
    with pytest.raises(ValueError, match=f"attribute 'x': .*{re.escape(reason)}"):
        archive.image_json({"x": value})


def test_text_is_archived_as_utf_8_not_escaped(archive):
    image = {"clé": {"S": "café"}}
    assert archive.image_json(image) == '{"clé":"café"}'
    accented = record("1")
    accented["dynamodb"]["NewImage"] = image
    (obj,), _ = archive.plan([accented], prefix="p", table="t")
    assert '"newImage":"{\\"clé\\":\\"café\\"}"' in gzip.decompress(obj.body).decode()


def test_only_the_dynamodb_service_itself_expires_items(archive):
    identity = {"type": "Service", "principalId": "apigateway.amazonaws.com"}
    assert archive.is_ttl_expiry(record("1", event="REMOVE", userIdentity=identity)) is False


def test_the_plan_takes_its_prefix_and_table_by_name(archive):
    with pytest.raises(TypeError):
        archive.plan([record("1")], "p", "t")


def test_plans_and_poison_are_immutable_values(archive):
    (obj,), _ = archive.plan([record("1")], prefix="p", table="t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.key = "elsewhere"
    poison = archive.Poison("e1", "1", ValueError("bad"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        poison.sequence_number = "2"
