"""table-archive handler against moto S3: partitioning, replays, failures, lossless lines."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

BUCKET = "orders-archive"
PREFIX = "archive"
TABLE = "orders"
SEQ = "1111000000000000000000"  # + two digits: the fixture's sequence numbers
PARTITION = f"{PREFIX}/table={TABLE}/year=2026/month=03/day=01"
EXPECTED_KEYS = [
    f"{PARTITION}/hour=09/{SEQ}01-{SEQ}02.json.gz",
    f"{PARTITION}/hour=10/{SEQ}03-{SEQ}04.json.gz",
    f"{PARTITION}/hour=11/{SEQ}05-{SEQ}06.json.gz",
]


@pytest.fixture
def load_archiver(monkeypatch, load_function):
    """moto with the archive bucket; loads the archiver with its puts counted (call it in the
    test when it reads log lines: a module loaded during setup logs to setup's capture)."""
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("ARCHIVE_PREFIX", PREFIX)
    monkeypatch.setenv("SOURCE_TABLE_NAME", TABLE)
    with mock_aws():
        boto3.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )

        def load():
            module = load_function("table-archive", "archiver")
            puts: list[str] = []
            module.s3.meta.events.register(
                "provide-client-params.s3.PutObject",
                lambda params, **_: puts.append(params["Key"]),
            )
            module.puts = puts
            return module

        yield load


@pytest.fixture
def archiver(load_archiver):
    return load_archiver()


def objects() -> dict[str, list[dict[str, Any]]]:
    s3 = boto3.client("s3")
    found = {}
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        found[item["Key"]] = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    return found


def fail_puts_for(module, hours: set[str]) -> None:
    """Make S3 refuse the writes of some partition hours (a botocore event hook; moto itself
    never fails a put), the other puts still reach moto."""

    def refuse(params, **_):
        if any(f"/hour={hour}/" in params["Key"] for hour in hours):
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
                "PutObject",
            )

    module.s3.meta.events.register("provide-client-params.s3.PutObject", refuse)


def test_one_gzipped_ndjson_object_per_partition_hour(archiver, load_event, lambda_context):
    response = archiver.handler(load_event("table-archive", "stream-batch"), lambda_context)

    assert response == {"batchItemFailures": []}
    stored = objects()
    assert sorted(stored) == EXPECTED_KEYS
    assert len(archiver.puts) == 3  # writes == distinct partition hours
    by_event = {line["eventId"]: line for lines in stored.values() for line in lines}
    assert [line["eventName"] for line in stored[EXPECTED_KEYS[0]]] == ["INSERT", "MODIFY"]
    assert [line["eventName"] for line in stored[EXPECTED_KEYS[1]]] == ["INSERT", "REMOVE"]
    insert = by_event["c4ca4238a0b923820dcc509a6f75849b"]
    assert insert["approximateCreationTime"] == "2026-03-01T09:01:00Z"
    assert insert["sequenceNumber"] == f"{SEQ}01"
    assert json.loads(insert["keys"]) == {"pk": "ORDER#1001", "sk": "ORDER"}
    assert insert["oldImage"] is None and insert["ttlExpired"] is False
    modify = by_event["c81e728d9d4c2f636f067f89cc14862c"]
    assert json.loads(modify["oldImage"])["status"] == "PLACED"
    assert json.loads(modify["newImage"])["status"] == "PAID"
    assert json.loads(modify["newImage"])["note"] is None
    remove = by_event["a87ff679a2f3e71d9181a67b7542122c"]
    assert remove["newImage"] is None and remove["ttlExpired"] is False
    ttl = by_event["e4da3b7fbbce2345d7772b0674a318d5"]
    assert ttl["eventName"] == "REMOVE" and ttl["ttlExpired"] is True


def test_partition_comes_from_the_record_not_the_clock(archiver, load_event, lambda_context):
    event = load_event("table-archive", "stream-batch")
    # A record created at 23:59:59 UTC on the last day of a year lands in that hour.
    event["Records"] = event["Records"][:1]
    event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"] = 1798761599.9
    archiver.handler(event, lambda_context)
    (key,) = objects()
    assert f"/year=2026/month=12/day=31/hour=23/{SEQ}01-{SEQ}01.json.gz" in key


def test_lines_keep_numbers_sets_and_binary(archiver, load_event, lambda_context):
    archiver.handler(load_event("table-archive", "stream-batch"), lambda_context)
    lines = {line["eventId"]: line for lines in objects().values() for line in lines}
    loads = archiver.archive.loads
    first = loads(lines["c4ca4238a0b923820dcc509a6f75849b"]["newImage"])
    assert first["total"] == Decimal("129.90") and first["quantity"] == 3
    assert first["tags"] == ["express", "gift"]
    assert base64.b64decode(first["signature"]) == bytes.fromhex("deadbeef")
    assert first["shipping"] == {"city": "Dublin", "zones": [4, 12]}
    third = loads(lines["eccbc87e4b5ce2fe28308fd9f2a7baf3"]["newImage"])
    assert third["total"] == Decimal("12345678901234567890.123456789")  # beyond a float
    assert third["lines"] == [{"sku": "A-1", "qty": 1}, Decimal("-0.5")]
    assert [base64.b64decode(b) for b in third["blobs"]] == [b"\x01\x02\x03", b"\x04\x05\x06"]


def test_replaying_a_batch_overwrites_instead_of_duplicating(archiver, load_event, lambda_context):
    event = load_event("table-archive", "stream-batch")
    archiver.handler(event, lambda_context)
    first = objects()
    archiver.handler(load_event("table-archive", "stream-batch"), lambda_context)
    assert objects() == first
    assert len(archiver.puts) == 6  # written twice, stored once


def test_a_failed_write_reports_the_lowest_sequence_number_of_the_failed_group(
    archiver, load_event, lambda_context
):
    fail_puts_for(archiver, {"10"})
    response = archiver.handler(load_event("table-archive", "stream-batch"), lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{SEQ}03"}]}
    assert sorted(objects()) == [EXPECTED_KEYS[0], EXPECTED_KEYS[2]]


def test_with_several_failed_groups_lambda_resumes_at_the_earliest(
    archiver, load_event, lambda_context
):
    fail_puts_for(archiver, {"11", "10"})
    response = archiver.handler(load_event("table-archive", "stream-batch"), lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{SEQ}03"}]}
    # The retry from there rewrites the later groups under the same keys: nothing is lost.
    assert sorted(objects()) == [EXPECTED_KEYS[0]]


def log_records(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if "level" in line]


def errors(output: str, *keys: str) -> list[dict[str, Any]]:
    """Each ERROR line, reduced to its message, exception type and the given keys."""
    return [
        {k: line.get(k) for k in ("message", "exception_name", *keys)}
        for line in log_records(output)
        if line["level"] == "ERROR"
    ]


def emitted_metrics(output: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in output.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + total
    return totals


def test_a_record_without_a_sequence_number_fails_the_whole_batch(
    load_archiver, load_event, lambda_context, capsys
):
    """No batch item failure can name it, so the batch fails and the mapping bisects it."""
    archiver = load_archiver()
    event = load_event("table-archive", "stream-batch")
    del event["Records"][2]["dynamodb"]["SequenceNumber"]
    with pytest.raises(ValueError) as raised:
        archiver.handler(event, lambda_context)
    assert type(raised.value).__name__ == "UnidentifiableRecordError"
    assert archiver.puts == []
    assert errors(capsys.readouterr().out, "eventId") == [
        {
            "message": "Record without a sequence number; the whole batch fails",
            "exception_name": "UnidentifiableRecordError",
            "eventId": event["Records"][2]["eventID"],
        }
    ]


def _bad_number(change):
    change["NewImage"]["total"] = {"N": "12.3.4"}


def _not_a_number(change):
    change["NewImage"]["lines"]["L"][1] = {"N": "NaN"}  # boto3 read it as NaN, archived `NaN`


def _bad_base64(change):
    change["NewImage"]["blobs"] = {"BS": ["AQID", "not base64!"]}


def _unknown_type(change):
    change["NewImage"]["status"] = {"X": "PLACED"}


def _no_creation_time(change):
    del change["ApproximateCreationDateTime"]


def _no_keys(change):
    del change["Keys"]


@pytest.mark.parametrize(
    ("break_record", "error"),
    [
        (_bad_number, "InvalidAttributeError"),
        (_not_a_number, "InvalidAttributeError"),
        (_bad_base64, "InvalidAttributeError"),
        (_unknown_type, "InvalidAttributeError"),
        (_no_creation_time, "KeyError"),
        (_no_keys, "KeyError"),
    ],
)
def test_a_poison_record_is_reported_and_the_records_before_it_are_archived(
    load_archiver, load_event, lambda_context, capsys, break_record, error
):
    archiver = load_archiver()
    event = load_event("table-archive", "stream-batch")
    poison = event["Records"][2]  # the first record of hour 10
    break_record(poison["dynamodb"])
    response = archiver.handler(event, lambda_context)
    # Lambda resumes at the poison: it and the records after it are retried, none is lost.
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{SEQ}03"}]}
    assert sorted(objects()) == [EXPECTED_KEYS[0]]
    output = capsys.readouterr().out
    assert errors(output, "eventId", "sequenceNumber") == [
        {
            "message": "Record cannot be archived; the shard resumes at it",
            "exception_name": error,
            "eventId": poison["eventID"],
            "sequenceNumber": f"{SEQ}03",
        }
    ]
    assert emitted_metrics(output) == {
        "ArchivedRecords": 2,
        "ArchiveObjects": 1,
        "UnarchivableRecords": 1,
    }


def test_the_archived_records_metric_counts_only_written_records(
    load_archiver, load_event, lambda_context, capsys
):
    archiver = load_archiver()
    fail_puts_for(archiver, {"10"})
    response = archiver.handler(load_event("table-archive", "stream-batch"), lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{SEQ}03"}]}
    output = capsys.readouterr().out
    assert emitted_metrics(output) == {
        "ArchivedRecords": 4,  # hours 09 and 11; hour 10's two records were not written
        "ArchiveObjects": 2,
        "FailedArchiveObjects": 1,
    }
    assert errors(output, "sequenceNumber", "records") == [
        {
            "message": "Archive write failed; the shard resumes at its lowest sequence number",
            "exception_name": "ClientError",
            "sequenceNumber": f"{SEQ}03",
            "records": 2,
        }
    ]


# The bytes each fixture object was archived with before the decoder moved to ddb_json.
ARCHIVED_SHA256 = {
    EXPECTED_KEYS[0]: "feabe7e26f43b7fc071d61677587d2fea19e705d467a68a2d907c5d9127c868a",
    EXPECTED_KEYS[1]: "a2a48db3b138fa4d9e8ef71ada1404b8b27afe9a6905a76bdd37a257ba44ad53",
    EXPECTED_KEYS[2]: "2804eff1140a474cad43df4e0a84a17fde5d01cb5d560e0f7410992e14ba52f9",
}


def test_archived_objects_keep_their_bytes(archiver, load_event, lambda_context):
    """A replay after an upgrade overwrites each object with the very same bytes."""
    archiver.handler(load_event("table-archive", "stream-batch"), lambda_context)
    s3 = boto3.client("s3")
    stored = {
        key: hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest()
        for key in EXPECTED_KEYS
    }
    assert stored == ARCHIVED_SHA256


def test_an_empty_batch_writes_nothing(archiver, lambda_context):
    assert archiver.handler({"Records": []}, lambda_context) == {"batchItemFailures": []}
    assert archiver.puts == []


# DynamoDB JSON -> plain JSON, property-based --------------------------------------------

_numbers = st.builds(
    lambda digits, exponent: str(Decimal(digits).scaleb(exponent)),
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
    st.integers(min_value=-80, max_value=80),
)
_binary = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())
_scalars = st.one_of(
    st.text(max_size=12).map(lambda s: {"S": s}),
    _numbers.map(lambda n: {"N": n}),
    _binary.map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(st.text(max_size=6), min_size=1, max_size=4, unique=True).map(lambda v: {"SS": v}),
    st.lists(_numbers, min_size=1, max_size=4, unique_by=Decimal).map(lambda v: {"NS": v}),
    st.lists(st.binary(max_size=8), min_size=1, max_size=4, unique=True).map(
        lambda v: {"BS": [base64.b64encode(b).decode() for b in v]}
    ),
)
_attributes = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=12,
)


def expected(attribute: dict[str, Any]) -> Any:
    """An independent reading of DynamoDB JSON: what the archived value must equal."""
    (kind, value), *_ = attribute.items()
    if kind == "N":
        return Decimal(value)
    if kind == "NULL":
        return None
    if kind == "L":
        return [expected(v) for v in value]
    if kind == "M":
        return {k: expected(v) for k, v in value.items()}
    if kind == "SS":
        return sorted(value)
    if kind == "NS":
        return sorted(Decimal(v) for v in value)
    if kind == "BS":
        return sorted(base64.b64decode(v) for v in value)
    if kind == "B":
        return base64.b64decode(value)
    return value


def decoded(value: Any, like: Any) -> Any:
    """Archived binary is base64 text: decode it where the expectation holds bytes."""
    if isinstance(like, bytes):
        return base64.b64decode(value)
    if isinstance(like, list):
        return [decoded(v, e) for v, e in zip(value, like, strict=True)]
    if isinstance(like, dict):
        return {k: decoded(value[k], e) for k, e in like.items()}
    return value


# The function-scoped fixtures (credentials, loader) are the same for every example.
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(image=st.dictionaries(st.text(min_size=1, max_size=8), _attributes, max_size=5))
def test_dynamodb_json_converts_losslessly(load_function, image):
    archive_logic = load_function("table-archive", "archive")
    text = archive_logic.image_json(image)
    assert text is not None
    archived = archive_logic.loads(text)
    want = {name: expected(value) for name, value in image.items()}
    assert set(archived) == set(want)
    for name, value in want.items():
        got = decoded(archived[name], value)
        assert got == value
        # Decimal equality ignores representation; the archived text must not round.
        if isinstance(value, Decimal):
            assert got.as_tuple().digits == value.as_tuple().digits or got == 0
