"""cdc-data-lake transform: the Firehose data-transformation contract on real-shaped events
(Kinesis Data Streams for DynamoDB change records), malformed records, the 6 MB response."""

from __future__ import annotations

import base64
import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PATTERN = "cdc-data-lake"
SIX_MB = 6 * 1024 * 1024
IDS = [
    f"{'4966885342113841771234567890123456789012345678901'}2{i:04d}{0:012d}" for i in range(1, 5)
]


@pytest.fixture
def load_transform(monkeypatch, load_function):
    """Loads the handler (call it in the test when it reads log lines: a module loaded during
    setup logs to setup's capture)."""
    monkeypatch.setenv("CREATION_TIME_PRECISION", "MILLISECOND")
    monkeypatch.setenv("PARTITION_TIME", "arrival")
    return lambda: load_function(PATTERN, "transform")


@pytest.fixture
def transform(load_transform):
    return load_transform()


@pytest.fixture
def changes(load_function):
    return load_function(PATTERN, "changes")


@pytest.fixture
def event(load_event) -> dict[str, Any]:
    return load_event(PATTERN, "firehose-transformation")


def lines(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """recordId -> the decoded line of each Ok record (numbers exact)."""
    found = {}
    for entry in response["records"]:
        if entry["result"] == "Ok":
            raw = base64.b64decode(entry["data"], validate=True)
            assert raw.endswith(b"\n") and raw.count(b"\n") == 1
            found[entry["recordId"]] = json.loads(raw, parse_float=Decimal)
    return found


def encode(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def assert_contract(event: dict[str, Any], response: dict[str, Any]) -> None:
    """Every input recordId exactly once, in order, with a valid result and base64 data."""
    assert set(response) == {"records"}
    returned = [entry["recordId"] for entry in response["records"]]
    assert returned == [record["recordId"] for record in event["records"]]
    for entry in response["records"]:
        assert entry["result"] in ("Ok", "Dropped", "ProcessingFailed")
        base64.b64decode(entry["data"], validate=True)
        if entry["result"] == "Ok":
            assert set(entry["metadata"]["partitionKeys"]) == {"table", "year", "month", "day"}
        else:
            assert "metadata" not in entry


# The real-shaped event ----------------------------------------------------------------------


def test_fixture_carries_the_change_records_it_documents(event, load_event):
    decoded = [json.loads(base64.b64decode(r["data"])) for r in event["records"]]
    assert decoded == load_event(PATTERN, "change-records")
    assert [c["eventName"] for c in decoded] == ["INSERT", "MODIFY", "REMOVE", "REMOVE"]
    assert all(r["kinesisRecordMetadata"]["shardId"] for r in event["records"])


def test_every_change_comes_back_once_as_an_ok_line(transform, event, lambda_context):
    response = transform.handler(event, lambda_context)
    assert_contract(event, response)
    assert [e["result"] for e in response["records"]] == ["Ok"] * 4
    found = lines(response)
    insert, modify, remove, expired = (found[i] for i in IDS)
    assert insert == {
        "eventId": "0a1b2c3d-0001-4e5f-8a9b-0c1d2e3f4a01",
        "eventName": "INSERT",
        "tableName": "orders",
        "approximateCreationTime": "2026-03-01T09:01:00.123Z",
        "keys": {"pk": "ORDER#1001", "sk": "ORDER"},
        "newImage": {
            "pk": "ORDER#1001",
            "sk": "ORDER",
            "status": "PLACED",
            "total": Decimal("129.90"),
            "quantity": 3,
            "ledger": Decimal("12345678901234567890.123456789"),
            "tags": ["express", "gift"],
            "signature": "3q2+7w==",
            "shipping": {"city": "Dublin", "zones": [4, 12]},
            "lines": ["SKU-1", 2, None],
        },
        "oldImage": None,
        "ttlExpired": False,
    }
    assert modify["newImage"]["paid"] is True
    assert modify["newImage"]["attachments"] == ["AAE=", "AAI="]
    assert modify["oldImage"]["status"] == "PLACED"
    assert remove["newImage"] is None and remove["oldImage"]["status"] == "PAID"
    assert remove["ttlExpired"] is False
    assert expired["ttlExpired"] is True


def test_numbers_are_written_exactly(transform, event, lambda_context):
    response = transform.handler(event, lambda_context)
    raw = base64.b64decode(response["records"][0]["data"]).decode()
    assert '"total":129.90' in raw
    assert '"ledger":12345678901234567890.123456789' in raw


def test_partitions_follow_arrival_time_by_default(transform, event, lambda_context):
    response = transform.handler(event, lambda_context)
    keys = [e["metadata"]["partitionKeys"] for e in response["records"]]
    assert keys == [
        {"table": "orders", "year": "2026", "month": "03", "day": "01"},
        {"table": "orders", "year": "2026", "month": "03", "day": "01"},
        {"table": "orders", "year": "2026", "month": "03", "day": "02"},
        # Changed 23:59:59.900 on the 2nd, arrived just after midnight.
        {"table": "orders", "year": "2026", "month": "03", "day": "03"},
    ]


def test_partitions_can_follow_change_time(monkeypatch, load_function, event, lambda_context):
    monkeypatch.setenv("PARTITION_TIME", "change")
    transform = load_function(PATTERN, "transform")
    response = transform.handler(event, lambda_context)
    assert response["records"][3]["metadata"]["partitionKeys"]["day"] == "02"
    assert lines(response)[IDS[3]]["approximateCreationTime"] == "2026-03-02T23:59:59.900Z"


def test_microsecond_precision_is_read_as_microseconds(changes, load_event):
    change = load_event(PATTERN, "change-records")[0]
    change["dynamodb"]["ApproximateCreationDateTime"] = 1772355660123456
    body, changed_at, _ = changes.line(change, precision="MICROSECOND")
    assert json.loads(body)["approximateCreationTime"] == "2026-03-01T09:01:00.123456Z"
    assert changed_at == pytest.approx(1772355660.123456)


def test_a_stream_shared_by_two_tables_partitions_each(transform, event, lambda_context):
    second = json.loads(base64.b64decode(event["records"][1]["data"]))
    second["tableName"] = "customers"
    event["records"][1]["data"] = encode(second)
    response = transform.handler(event, lambda_context)
    tables = [e["metadata"]["partitionKeys"]["table"] for e in response["records"]]
    assert tables == ["orders", "customers", "orders", "orders"]


def test_an_empty_batch_returns_no_records(transform, event, lambda_context):
    event["records"] = []
    assert transform.handler(event, lambda_context) == {"records": []}


def test_the_same_batch_twice_gives_the_same_bytes(transform, event, lambda_context):
    first = transform.handler(copy.deepcopy(event), lambda_context)
    assert transform.handler(event, lambda_context) == first


# Malformed records --------------------------------------------------------------------------


def _change(event: dict[str, Any], index: int = 1) -> dict[str, Any]:
    return json.loads(base64.b64decode(event["records"][index]["data"]))


def _set(path: str, value: Any):
    def mutate(change: dict[str, Any]) -> dict[str, Any]:
        *parents, last = path.split(".")
        target = change
        for part in parents:
            target = target[part]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        return change

    return mutate


BAD_DATA = {
    "bad base64": "not base64!!",
    "base64 of bytes that are not JSON": base64.b64encode(b"\xff\xfe{{").decode(),
    "a JSON array": encode([1, 2]),
    "a JSON string": encode("INSERT"),
    "data is a number": 12345,
    "data is missing": None,
}
BAD_CHANGES = {
    "eventName missing": _set("eventName", KeyError),
    "eventName unknown": _set("eventName", "UPSERT"),
    "eventName a number": _set("eventName", 1),
    "eventID missing": _set("eventID", KeyError),
    "tableName missing": _set("tableName", KeyError),
    "tableName with a slash": _set("tableName", "orders/../x"),
    "eventSource not DynamoDB": _set("eventSource", "aws:kinesis"),
    "dynamodb missing": _set("dynamodb", KeyError),
    "dynamodb a list": _set("dynamodb", []),
    "creation time missing": _set("dynamodb.ApproximateCreationDateTime", KeyError),
    "creation time a string": _set("dynamodb.ApproximateCreationDateTime", "1772356200456"),
    "creation time a bool": _set("dynamodb.ApproximateCreationDateTime", True),
    "creation time negative": _set("dynamodb.ApproximateCreationDateTime", -5),
    "Keys missing": _set("dynamodb.Keys", KeyError),
    "Keys empty": _set("dynamodb.Keys", {}),
    "NewImage a list": _set("dynamodb.NewImage", [1]),
    "S holding a number": _set("dynamodb.NewImage.status", {"S": 5}),
    "BOOL holding text": _set("dynamodb.NewImage.paid", {"BOOL": "yes"}),
    "binary not base64": _set("dynamodb.NewImage.attachments", {"BS": ["%%%"]}),
    "number not a number": _set("dynamodb.NewImage.total", {"N": "twelve"}),
    "number beyond 38 digits": _set("dynamodb.NewImage.total", {"N": "1e400"}),
    "unknown type": _set("dynamodb.NewImage.total", {"X": "1"}),
    "two types in one value": _set("dynamodb.NewImage.total", {"N": "1", "S": "1"}),
    "userIdentity a string": _set("userIdentity", "dynamodb"),
}


def _assert_only_second_failed(event, response):
    assert_contract(event, response)
    results = [e["result"] for e in response["records"]]
    assert results == ["Ok", "ProcessingFailed", "Ok", "Ok"]
    assert set(lines(response)) == {IDS[0], IDS[2], IDS[3]}


ECHOED = {"base64 of bytes that are not JSON", "a JSON array", "a JSON string"}


@pytest.mark.parametrize("name", BAD_DATA)
def test_undecodable_data_fails_that_record_only(
    load_transform, event, lambda_context, capsys, name
):
    transform = load_transform()
    data = BAD_DATA[name]
    event["records"][1]["data"] = data
    response = transform.handler(event, lambda_context)
    _assert_only_second_failed(event, response)
    failed = response["records"][1]
    # Raw data is echoed only when it is base64 (the response's data must be).
    assert failed["data"] == (data if name in ECHOED else "")
    logs = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"recordId"' in x]
    assert [(x["level"], x["recordId"]) for x in logs] == [("ERROR", IDS[1])]


@pytest.mark.parametrize("mutate", BAD_CHANGES.values(), ids=BAD_CHANGES.keys())
def test_a_malformed_change_fails_that_record_only(transform, event, lambda_context, mutate):
    event["records"][1]["data"] = encode(mutate(_change(event)))
    response = transform.handler(event, lambda_context)
    _assert_only_second_failed(event, response)
    # Firehose writes the raw record under the error prefix: nothing is lost.
    assert response["records"][1]["data"] == event["records"][1]["data"]


def test_failure_logs_name_the_record_and_reason_but_not_the_item(
    load_transform, event, lambda_context, capsys
):
    transform = load_transform()
    bad = _set("dynamodb.NewImage.total", {"N": "x"})(_change(event))
    event["records"][1]["data"] = encode(bad)
    transform.handler(event, lambda_context)
    out = capsys.readouterr().out
    (log,) = [json.loads(x) for x in out.splitlines() if '"recordId"' in x]
    assert log["recordId"] == IDS[1] and "total" in log["reason"]
    assert "ORDER#1001" not in out


def test_missing_arrival_time_fails_the_record_when_partitioning_on_arrival(
    transform, event, lambda_context
):
    del event["records"][1]["approximateArrivalTimestamp"]
    _assert_only_second_failed(event, transform.handler(event, lambda_context))


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda e: e.pop("records"), id="no records"),
        pytest.param(lambda e: e.update(records={"a": 1}), id="records not a list"),
        pytest.param(lambda e: e["records"][2].pop("recordId"), id="a record without recordId"),
        pytest.param(lambda e: e["records"].__setitem__(0, "x"), id="a record not an object"),
        pytest.param(
            lambda e: e["records"][1].update(recordId=e["records"][0]["recordId"]),
            id="a repeated recordId",
        ),
    ],
)
def test_an_event_firehose_could_not_match_fails_the_invocation(
    transform, event, lambda_context, broken
):
    """Without recordIds no response can account for every record: Firehose retries the
    invocation, then fails the batch into the error prefix. Nothing is silently dropped."""
    broken(event)
    with pytest.raises(transform.changes.InvalidChangeError):
        transform.handler(event, lambda_context)


# The 6 MB response ---------------------------------------------------------------------------


def _record(index: int, change: dict[str, Any]) -> dict[str, Any]:
    return {
        "recordId": f"{index:056d}",
        "approximateArrivalTimestamp": 1772355661000,
        "data": encode(change),
        "kinesisRecordMetadata": {
            "sequenceNumber": f"{index:056d}",
            "subsequenceNumber": 0,
            "partitionKey": "pk",
            "shardId": "shardId-000000000000",
            "approximateArrivalTimestamp": 1772355661000,
        },
    }


def _big_change(base: dict[str, Any], attributes: int, value: dict[str, str]) -> dict[str, Any]:
    change = copy.deepcopy(base)
    change["dynamodb"]["NewImage"] = {f"a{i:05d}": value for i in range(attributes)}
    return change


def test_a_full_request_of_ordinary_changes_stays_within_6_mb(transform, event, lambda_context):
    """Firehose's Lambda buffer (1 MB default, 3 MB max) never makes a response near 6 MB
    for ordinary records: a 4.5 MB request comes back whole."""
    base = _change(event, 0)
    change = _big_change(base, 2_000, {"S": "some text value"})
    count = 0
    event["records"] = []
    while sum(len(r["data"]) for r in event["records"]) < 4_500_000:
        event["records"].append(_record(count, change))
        count += 1
    response = transform.handler(event, lambda_context)
    assert_contract(event, response)
    assert {e["result"] for e in response["records"]} == {"Ok"}
    assert len(json.dumps(response)) <= SIX_MB


def test_records_that_would_overrun_6_mb_fail_and_the_rest_still_come_back(
    load_transform, event, lambda_context, capsys
):
    """Numbers written in exponent form expand when made plain (1E+37 -> 38 digits), so
    these outputs are twice their inputs: the response stays under 6 MB, every recordId is
    answered, and the records beyond the budget are ProcessingFailed (Firehose keeps their
    raw data under the error prefix), never a failed invocation that loses the batch."""
    transform = load_transform()
    base = _change(event, 0)
    change = _big_change(base, 4_000, {"N": "1E+37"})
    event["records"] = [_record(i, change) for i in range(40)]
    request = len(json.dumps(event))
    assert request < SIX_MB  # a request Firehose could send
    response = transform.handler(event, lambda_context)
    assert_contract(event, response)
    size = len(json.dumps(response))
    assert size <= SIX_MB
    results = [e["result"] for e in response["records"]]
    ok = results.count("Ok")
    assert 0 < ok < len(results)
    assert results == ["Ok"] * ok + ["ProcessingFailed"] * (len(results) - ok)
    assert all(e["data"] == "" for e in response["records"][ok:])  # the room is spent
    # The budget is used, not wasted: one more Ok record would not have fitted.
    assert size + len(response["records"][0]["data"]) > SIX_MB - 4_000
    metrics = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "_aws" in x]
    assert metrics[-1]["OverBudgetRecords"] == [len(results) - ok]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.sampled_from(["good", "garbage", "big"]), max_size=12),
    budget=st.integers(min_value=2_000, max_value=30_000),
)
def test_any_batch_answers_every_record_within_the_budget(changes, event, kinds, budget):
    base = _change(event, 0)
    records = []
    for index, kind in enumerate(kinds):
        if kind == "good":
            records.append(_record(index, base))
        elif kind == "big":
            records.append(_record(index, _big_change(base, 60, {"N": "1E+37"})))
        else:
            records.append({**_record(index, base), "data": "%%" * index})
    outcome = changes.transform(records, max_response_bytes=budget + 60 * len(records))
    assert [e["recordId"] for e in outcome.response["records"]] == [r["recordId"] for r in records]
    assert len(json.dumps(outcome.response)) <= budget + 60 * len(records)
    assert outcome.ok + len(outcome.failed) == len(records)
    results = [e["result"] for e in outcome.response["records"]]
    for kind, result in zip(kinds, results, strict=True):
        if kind == "garbage":
            assert result == "ProcessingFailed"
