"""eventbridge-etl handlers against moto (S3, SQS, EventBridge, DynamoDB).

The contract: every CSV row the landing bucket receives ends as an item in the sink table,
as a `RecordFailed` event saying why not, or (when the bus will not take it) as a message
in the unsent-events queue; every message a consumer cannot handle is a batch item failure.
Rules on a moto bus route the events to probe queues, as the component's rules route them
to the stage queues.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

PATTERN = "eventbridge-etl"
REGION = "eu-west-1"
BUCKET = "etl-landing-test"
BUS = "etl-test"
SOURCE = "etl.test"
TABLE = "etl-test-data"
FIXTURE_CSV = Path(__file__).resolve().parents[1] / "events" / PATTERN / "houses.csv"
HOUSES = FIXTURE_CSV.read_bytes()
HOUSE_ROWS = 10

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]

PROBES = {
    "extracted": {"detail-type": ["RecordExtracted"]},
    "transformed": {"detail-type": ["RecordTransformed"]},
    "loaded": {"detail-type": ["RecordLoaded"]},
    "failed": {"detail-type": ["RecordFailed"]},
    "files": {"detail-type": ["FileExtracted"]},
    "all": {},
}


@dataclass
class Etl:
    s3: Any
    sqs: Any
    events: Any
    table: Any
    extract_queue: str
    unsent_queue: str
    probes: dict[str, str] = field(default_factory=dict)

    def upload(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Every message on the queue (deleted as read), bodies parsed."""
        found = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def probe(self, name: str) -> list[dict[str, Any]]:
        return self.drain(self.probes[name])

    def count(self, name: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.probes[name], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def notifications(self) -> dict[str, Any]:
        """What the extract queue holds, as Lambda's SQS event (real S3 notifications)."""
        records = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.extract_queue, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return {"Records": records}
            for message in messages:
                records.append(
                    sqs_record(message["Body"], message_id=message["MessageId"], queue="extract")
                )
                self.sqs.delete_message(
                    QueueUrl=self.extract_queue, ReceiptHandle=message["ReceiptHandle"]
                )


def sqs_record(body: str, *, message_id: str | None = None, queue: str = "stage") -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB-test",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1796292930123",
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "ApproximateFirstReceiveTimestamp": "1796292930130",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:etl-test-{queue}",
        "awsRegion": REGION,
    }


def as_sqs_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Bus events as their stage queue delivers them to the consumer. moto's rule targets
    leave out the event's `account`, which EventBridge always sends: it is put back."""
    return {
        "Records": [
            sqs_record(json.dumps({"account": "123456789012", **e}, sort_keys=True)) for e in events
        ]
    }


def failures(response: dict[str, Any]) -> list[str]:
    assert set(response) == {"batchItemFailures"}
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def notification(key: str, *, size: int | None = None, event: str = "ObjectCreated:Put") -> str:
    obj: dict[str, Any] = {"key": key.replace(" ", "+"), "eTag": "0123456789abcdef"}
    if size is not None:
        obj["size"] = size
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventName": event,
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                        "object": obj,
                    },
                }
            ]
        }
    )


def emf_blobs(output: str) -> list[dict[str, Any]]:
    """The EMF blobs printed, each metric's values summed (EMF writes a list)."""
    blobs = []
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if isinstance(blob, dict) and "_aws" in blob:
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = blob[metric["Name"]]
                    blob[metric["Name"]] = sum(value) if isinstance(value, list) else value
            blobs.append(blob)
    return blobs


@pytest.fixture
def etl(monkeypatch: pytest.MonkeyPatch) -> Iterator[Etl]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        events.create_event_bus(Name=BUS)
        extract_queue = sqs.create_queue(QueueName="etl-test-extract")["QueueUrl"]
        unsent_queue = sqs.create_queue(QueueName="etl-test-unsent")["QueueUrl"]
        table = dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        etl = Etl(s3, sqs, events, table, extract_queue, unsent_queue)
        for name, pattern in PROBES.items():
            url = sqs.create_queue(QueueName=f"probe-{name}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            events.put_rule(
                Name=f"probe-{name}",
                EventBusName=BUS,
                EventPattern=json.dumps({"source": [SOURCE], **pattern}),
            )
            events.put_targets(
                Rule=f"probe-{name}", EventBusName=BUS, Targets=[{"Id": "probe", "Arn": arn}]
            )
            etl.probes[name] = url
        for name, value in {
            "EVENT_BUS_NAME": BUS,
            "EVENT_SOURCE": SOURCE,
            "UNSENT_QUEUE_URL": unsent_queue,
            "TABLE_NAME": TABLE,
            "LANDING_PREFIX": "incoming/",
            "MAX_FILE_MB": "1",
            "MAX_ROWS": "1000",
            "PUT_WORKERS": "2",
        }.items():
            monkeypatch.setenv(name, value)
        yield etl


@pytest.fixture
def no_backoff(load_function: LoadFunction, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_function(PATTERN, "publisher"), "backoff", lambda attempt: 0.0)


def run_extract(
    load_function: LoadFunction, context: Any, *bodies: str
) -> tuple[ModuleType, list[str]]:
    extract = load_function(PATTERN, "extract")
    event = {"Records": [sqs_record(body, queue="extract") for body in bodies]}
    return extract, failures(extract.handler(event, context))


def failed_reasons(etl: Etl) -> list[tuple[Any, str]]:
    return sorted((e["detail"]["row"] or 0, e["detail"]["reason"]) for e in etl.probe("failed"))


# --- extract ---------------------------------------------------------------------------------


def test_extract_puts_one_event_per_row_from_a_real_s3_notification(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    arn = etl.sqs.get_queue_attributes(QueueUrl=etl.extract_queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    etl.s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "incoming/"},
                                {"Name": "suffix", "Value": ".csv"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    etl.upload("incoming/2026-12/houses export.csv", HOUSES)
    etl.upload("elsewhere/houses.csv", HOUSES)  # outside the prefix: no notification
    event = etl.notifications()
    bodies = [json.loads(r["body"]) for r in event["Records"]]
    assert [b.get("Event") for b in bodies] == ["s3:TestEvent", None]  # S3's own test event

    extract = load_function(PATTERN, "extract")
    assert failures(extract.handler(event, lambda_context)) == []

    assert etl.count("extracted") == HOUSE_ROWS
    extracted = sorted(etl.probe("extracted"), key=lambda e: e["detail"]["row"])
    first = extracted[0]
    assert (first["source"], first["detail-type"]) == (SOURCE, "RecordExtracted")
    assert first["detail"]["fileKey"] == "incoming/2026-12/houses export.csv"
    assert first["detail"]["headers"] == ["id", "house_number", "street", "town", "zip"]
    assert first["detail"]["data"] == ["H-001", "12", "Acacia Avenue", "Springfield", "10001"]
    assert extracted[8]["detail"]["data"][1] == "3, rear"  # a quoted comma stays one value
    assert [e["detail"]["row"] for e in extracted] == list(range(1, HOUSE_ROWS + 1))
    (summary,) = etl.probe("files")
    assert summary["detail"] == {
        "fileKey": "incoming/2026-12/houses export.csv",
        "etag": first["detail"]["etag"],
        "rows": HOUSE_ROWS,
        "failed": 0,
        "complete": True,
    }
    assert etl.probe("failed") == []


def test_the_notification_fixture_decodes_its_url_encoded_key(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    etl.upload("incoming/2026-12/houses export.csv", HOUSES)
    extract = load_function(PATTERN, "extract")
    assert failures(extract.handler(load_event(PATTERN, "s3-notification"), lambda_context)) == []
    assert etl.count("extracted") == HOUSE_ROWS


def test_puts_are_batched_at_the_api_limit(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    rows = 95
    body = "id,n\n" + "".join(f"r{i},{i}\n" for i in range(rows))
    etl.upload("incoming/many.csv", body.encode())
    extract = load_function(PATTERN, "extract")
    calls: list[int] = []
    original = extract.events.put_events

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Entries"]))
        return original(**kwargs)

    extract.events.put_events = counting
    try:
        extract.handler(
            {"Records": [sqs_record(notification("incoming/many.csv"))]}, lambda_context
        )
    finally:
        extract.events.put_events = original
    # 95 rows + FileExtracted = 96 entries: ten calls, never more than 10 entries each.
    assert sum(calls) == rows + 1 and max(calls) == 10 and len(calls) == -(-(rows + 1) // 10)
    assert etl.count("extracted") == rows


def test_s3_test_event_is_acknowledged_without_events(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    extract = load_function(PATTERN, "extract")
    assert failures(extract.handler(load_event(PATTERN, "s3-test-event"), lambda_context)) == []
    assert etl.count("all") == 0


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"Records": []}),
        json.dumps({"Records": [{"eventSource": "aws:s3"}]}),
        notification("incoming/houses.csv", event="ObjectRemoved:Delete"),
        json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}),
    ],
    ids=["not-json", "not-object", "no-records", "no-s3", "removed", "no-bucket"],
)
def test_a_message_that_is_not_a_notification_is_a_batch_item_failure(
    etl: Etl, load_function: LoadFunction, lambda_context: Any, body: str
) -> None:
    etl.upload("incoming/houses.csv", HOUSES)
    good = sqs_record(notification("incoming/houses.csv"))
    bad = sqs_record(body)
    extract = load_function(PATTERN, "extract")
    response = extract.handler({"Records": [bad, good]}, lambda_context)
    assert failures(response) == [bad["messageId"]]
    assert etl.count("extracted") == HOUSE_ROWS  # the good message in the batch still ran


def test_a_non_csv_object_is_a_failed_file(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    etl.upload("incoming/houses.xlsx", b"PK\x03\x04 not a csv")
    _, failed = run_extract(load_function, lambda_context, notification("incoming/houses.xlsx"))
    assert failed == []
    assert failed_reasons(etl) == [(0, "not a .csv object")]
    assert etl.count("extracted") == 0


def test_an_oversize_file_is_refused_before_it_is_read(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    big = b"id,payload\n" + b"".join(b"r%d,%s\n" % (i, b"x" * 100) for i in range(11_000))
    assert len(big) > 1024 * 1024  # MAX_FILE_MB is 1 here
    etl.upload("incoming/big.csv", big)
    # The notification understates the size: the function's own HEAD is what counts.
    _, failed = run_extract(load_function, lambda_context, notification("incoming/big.csv", size=1))
    assert failed == []
    ((row, reason),) = failed_reasons(etl)
    assert row == 0 and reason.startswith(f"the file is {len(big)} bytes, over max_file_mb (1 MB)")
    assert etl.count("extracted") == 0


def test_an_empty_file_is_a_failed_file_and_a_header_only_file_has_no_rows(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    etl.upload("incoming/empty.csv", b"")
    etl.upload("incoming/header.csv", b"id,name\n")
    _, failed = run_extract(
        load_function,
        lambda_context,
        notification("incoming/empty.csv"),
        notification("incoming/header.csv"),
    )
    assert failed == []
    assert failed_reasons(etl) == [(0, "empty file: no header row")]
    files = {e["detail"]["fileKey"]: e["detail"] for e in etl.probe("files")}
    assert (files["incoming/empty.csv"]["rows"], files["incoming/empty.csv"]["complete"]) == (
        0,
        False,
    )
    assert (files["incoming/header.csv"]["rows"], files["incoming/header.csv"]["complete"]) == (
        0,
        True,
    )


def test_a_repeated_header_fails_the_file(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    etl.upload("incoming/dup.csv", b"id,town,town\n1,a,b\n")
    run_extract(load_function, lambda_context, notification("incoming/dup.csv"))
    assert failed_reasons(etl) == [(0, "the header row repeats town")]
    assert etl.count("extracted") == 0


def test_bad_utf8_stops_the_file_at_the_first_row_not_extracted(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    # 30 rows of 300 bytes: past the text decoder's first 8 KB chunk.
    good = b"".join(b"r%05d,%s\n" % (i, b"x" * 300) for i in range(30))
    etl.upload("incoming/latin1.csv", b"id,name\n" + good + b"r-bad,caf\xe9\n" + b"r-after,x\n")
    run_extract(load_function, lambda_context, notification("incoming/latin1.csv"))
    extracted = etl.count("extracted")
    assert 0 < extracted <= 30
    ((row, reason),) = failed_reasons(etl)
    assert row == 0
    assert reason.startswith(f"row {extracted + 1} and any after it were not extracted")
    assert "not valid UTF-8" in reason
    (summary,) = etl.probe("files")
    assert (summary["detail"]["rows"], summary["detail"]["complete"]) == (extracted, False)


def test_a_binary_file_named_csv_is_a_failed_file(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    etl.upload("incoming/image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    run_extract(load_function, lambda_context, notification("incoming/image.csv"))
    assert failed_reasons(etl) == [
        (
            0,
            "row 1 and any after it were not extracted: the file is not valid UTF-8 "
            "(invalid start byte)",
        )
    ]
    assert etl.count("extracted") == 0


def test_rows_past_max_rows_are_reported_not_dropped(
    etl: Etl, load_function: LoadFunction, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ROWS", "4")
    etl.upload("incoming/houses.csv", HOUSES)
    run_extract(load_function, lambda_context, notification("incoming/houses.csv"))
    assert etl.count("extracted") == 4
    assert failed_reasons(etl) == [
        (0, "row 5 and any after it were not extracted: the file has more than max_rows (4)")
    ]


def test_a_deleted_object_is_a_failed_file(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    _, failed = run_extract(load_function, lambda_context, notification("incoming/gone.csv"))
    assert failed == []
    assert failed_reasons(etl) == [(0, "the object no longer exists")]


def test_a_ragged_row_is_extracted_as_written(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    etl.upload("incoming/ragged.csv", b"id,a,b\n1,x,y\n2,x\n3,x,y,z\n")
    run_extract(load_function, lambda_context, notification("incoming/ragged.csv"))
    data = {e["detail"]["row"]: e["detail"]["data"] for e in etl.probe("extracted")}
    assert data == {1: ["1", "x", "y"], 2: ["2", "x"], 3: ["3", "x", "y", "z"]}


# --- PutEvents failures ----------------------------------------------------------------------


def _entries(count: int) -> list[dict[str, Any]]:
    return [
        {"EventBusName": BUS, "Source": SOURCE, "DetailType": "RecordExtracted", "Detail": "{}"}
        for _ in range(count)
    ]


def _ok(count: int) -> dict[str, Any]:
    return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(count)]}


def test_a_partial_failure_resends_only_the_failed_entries(load_function: LoadFunction) -> None:
    publisher = load_function(PATTERN, "publisher")
    entries = [{**e, "Detail": json.dumps({"row": i})} for i, e in enumerate(_entries(12))]
    client = boto3.client("events", region_name=REGION)
    first = {
        "FailedEntryCount": 2,
        "Entries": [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
            if i in (3, 7)
            else {"EventId": f"e{i}"}
            for i in range(10)
        ],
    }
    with Stubber(client) as stub:
        stub.add_response("put_events", first, {"Entries": entries[:10]})
        stub.add_response("put_events", _ok(2), {"Entries": [entries[3], entries[7]]})
        stub.add_response("put_events", _ok(2), {"Entries": entries[10:]})
        report = publisher.put_all(client, entries, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert (report.sent, report.calls, report.resent, report.unsent) == (12, 3, 2, [])


def test_entries_still_failing_after_the_retries_come_back_unsent(
    load_function: LoadFunction,
) -> None:
    publisher = load_function(PATTERN, "publisher")
    entries = _entries(3)
    client = boto3.client("events", region_name=REGION)
    failing = {
        "FailedEntryCount": 1,
        "Entries": [
            {"EventId": "a"},
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
            {"ErrorCode": "MalformedDetail", "ErrorMessage": "bad"},
        ],
    }
    again = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}
    with Stubber(client) as stub:
        stub.add_response("put_events", failing, {"Entries": entries})
        stub.add_response("put_events", again, {"Entries": [entries[1]]})
        stub.add_response("put_events", again, {"Entries": [entries[1]]})
        report = publisher.put_all(client, entries, attempts=3, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    # The malformed entry is not resent (no retry can fix it); the other one is, twice.
    assert report.sent == 1 and report.calls == 3
    assert sorted((u.index, u.error_code) for u in report.unsent) == [
        (1, "InternalFailure"),
        (2, "MalformedDetail"),
    ]


def test_a_throttled_call_is_retried_whole(load_function: LoadFunction) -> None:
    publisher = load_function(PATTERN, "publisher")
    entries = _entries(2)
    client = boto3.client("events", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error("put_events", "ThrottlingException", "slow down")
        stub.add_response("put_events", _ok(2), {"Entries": entries})
        report = publisher.put_all(client, entries, sleep=lambda s: None)
    assert (report.sent, report.calls, report.unsent) == (2, 2, [])


def test_batches_respect_the_256_kb_request_limit(load_function: LoadFunction) -> None:
    etl_events = load_function(PATTERN, "etl_events")
    big = {"Source": SOURCE, "DetailType": "RecordExtracted", "Detail": "x" * 100_000}
    small = {"Source": SOURCE, "DetailType": "RecordExtracted", "Detail": "{}"}
    sizes = [len(b) for b in etl_events.batches([big, big, big, small, small])]
    assert sizes == [2, 3]  # two 100 KB entries fit, a third would pass 256 KB
    with pytest.raises(ValueError, match="exceeds PutEvents"):
        list(etl_events.batches([{**big, "Detail": "x" * 300_000}]))


class FlakyEvents:
    """The moto client, except that rows in `always` fail every time and rows in `once`
    fail the first time (the entry-level partial failure PutEvents reports)."""

    def __init__(self, client: Any, *, always: set[int], once: set[int]) -> None:
        self.client = client
        self.always = always
        self.once = set(once)
        self.calls: list[list[int | None]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        rows = [json.loads(e["Detail"]).get("row") for e in Entries]
        self.calls.append(rows)
        failing = {i for i, row in enumerate(rows) if row in self.always or row in self.once}
        self.once -= {rows[i] for i in failing}
        passing = [e for i, e in enumerate(Entries) if i not in failing]
        accepted = iter(self.client.put_events(Entries=passing)["Entries"] if passing else [])
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
            if i in failing
            else next(accepted)
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": len(failing), "Entries": results}


def test_entries_that_never_reach_the_bus_go_to_the_unsent_queue(
    etl: Etl,
    load_function: LoadFunction,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: None,
) -> None:
    etl.upload("incoming/houses.csv", HOUSES)
    extract = load_function(PATTERN, "extract")
    flaky = FlakyEvents(extract.events, always={2, 9}, once={4, 5})
    monkeypatch.setattr(extract, "events", flaky)
    event = {"Records": [sqs_record(notification("incoming/houses.csv"))]}
    assert failures(extract.handler(event, lambda_context)) == []

    delivered = sorted(e["detail"]["row"] for e in etl.probe("extracted"))
    assert delivered == [1, 3, 4, 5, 6, 7, 8, 10]  # 4 and 5 made it on the resend
    parked = etl.drain(etl.unsent_queue)
    assert sorted(json.loads(p["entry"]["Detail"])["row"] for p in parked) == [2, 9]
    assert {(p["stage"], p["errorCode"]) for p in parked} == {("extract", "InternalFailure")}
    # Only failed entries were ever resent: each other row went out once.
    sends = Counter(row for rows in flaky.calls for row in rows)
    assert sends == {**dict.fromkeys([1, 3, 6, 7, 8, 10, None], 1), 4: 2, 5: 2, 2: 4, 9: 4}


# --- transform -------------------------------------------------------------------------------


def _extracted(load_event: LoadEvent, **detail: Any) -> dict[str, Any]:
    event = json.loads(load_event(PATTERN, "record-extracted")["Records"][0]["body"])
    event["detail"].update(detail)
    return event


def test_transform_turns_a_good_row_into_record_transformed(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    transform = load_function(PATTERN, "transform")
    event = load_event(PATTERN, "record-extracted")
    assert failures(transform.handler(event, lambda_context)) == []
    (transformed,) = etl.probe("transformed")
    assert transformed["detail"]["id"] == "H-003"
    assert transformed["detail"]["item"] == {
        "id": "H-003",
        "house_number": "221B",
        "street": "Baker Street",
        "town": "Springfield",
        "zip": "10001",
        "etlSource": {
            "file": "incoming/houses.csv",
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "row": 3,
        },
    }


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"data": ["H-003", "221B"]}, "ragged row: 2 values for 5 columns"),
        (
            {"data": ["H-003", "221B", "Baker Street", "Springfield", "10001", "extra"]},
            "ragged row: 6 values for 5 columns",
        ),
        ({"data": ["  ", "221B", "Baker Street", "Springfield", "10001"]}, "'id' column is blank"),
        (
            {"headers": ["ref", "id"], "data": ["1", "2"]},
            "'id' column would be overwritten by the table key",
        ),
    ],
    ids=["short", "long", "blank-id", "id-clash"],
)
def test_transform_turns_a_bad_row_into_record_failed(
    etl: Etl,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    detail: dict[str, Any],
    reason: str,
) -> None:
    if "headers" in detail:
        monkeypatch.setenv("ID_COLUMN", "ref")
    transform = load_function(PATTERN, "transform")
    response = transform.handler(as_sqs_event([_extracted(load_event, **detail)]), lambda_context)
    assert failures(response) == []  # a bad row is an event, not an error
    (failed,) = etl.probe("failed")
    assert failed["detail"]["stage"] == "transform" and failed["detail"]["row"] == 3
    assert reason in failed["detail"]["reason"]
    assert failed["detail"]["data"]["data"] == _extracted(load_event, **detail)["detail"]["data"]
    assert etl.count("transformed") == 0


def test_without_an_id_column_the_key_is_etag_and_row(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    transform = load_function(PATTERN, "transform")
    event = _extracted(load_event, headers=["name"], data=["Ada"], row=7)
    transform.handler(as_sqs_event([event]), lambda_context)
    (transformed,) = etl.probe("transformed")
    assert transformed["detail"]["id"] == "d41d8cd98f00b204e9800998ecf8427e#7"


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        json.dumps({"detail-type": "RecordExtracted", "detail": {}}),
        "EXTRACTED_WITHOUT_ROW",
        "EXTRACTED_WITH_NUMBER_DATA",
    ],
    ids=["bad-json", "not-eventbridge", "no-row", "wrong-types"],
)
def test_transform_reports_a_malformed_message_and_handles_the_rest(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any, body: str
) -> None:
    if body == "EXTRACTED_WITHOUT_ROW":
        event = _extracted(load_event)
        del event["detail"]["row"]
        body = json.dumps(event)
    elif body == "EXTRACTED_WITH_NUMBER_DATA":
        body = json.dumps(_extracted(load_event, data={"id": 1}))
    transform = load_function(PATTERN, "transform")
    bad, good = sqs_record(body), sqs_record(json.dumps(_extracted(load_event)))
    assert failures(transform.handler({"Records": [bad, good]}, lambda_context)) == [
        bad["messageId"]
    ]
    assert etl.count("transformed") == 1


def test_transform_fails_only_the_message_whose_event_did_not_reach_the_bus(
    etl: Etl,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: None,
) -> None:
    transform = load_function(PATTERN, "transform")
    monkeypatch.setattr(transform, "events", FlakyEvents(transform.events, always={2}, once=set()))
    records = [sqs_record(json.dumps(_extracted(load_event, row=row))) for row in (1, 2, 3)]
    assert failures(transform.handler({"Records": records}, lambda_context)) == [
        records[1]["messageId"]
    ]
    assert sorted(e["detail"]["row"] for e in etl.probe("transformed")) == [1, 3]


def test_an_empty_batch_reports_nothing(
    etl: Etl, load_function: LoadFunction, lambda_context: Any
) -> None:
    for name in ("transform", "load", "observe"):
        module = load_function(PATTERN, name)
        assert module.handler({"Records": []}, lambda_context) == {"batchItemFailures": []}
    assert etl.count("all") == 0


# --- load ------------------------------------------------------------------------------------


def _scan(table: Any) -> list[dict[str, Any]]:
    return sorted(table.scan(ConsistentRead=True)["Items"], key=lambda item: item["id"])


def test_load_twice_leaves_the_same_items(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    load = load_function(PATTERN, "load")
    event = load_event(PATTERN, "record-transformed")
    assert failures(load.handler(event, lambda_context)) == []
    once = _scan(etl.table)
    assert failures(load.handler(copy.deepcopy(event), lambda_context)) == []
    assert _scan(etl.table) == once
    (item,) = once
    assert item["id"] == "H-003" and item["street"] == "Baker Street"
    assert item["etlSource"]["row"] == 3
    loaded = etl.probe("loaded")
    assert [e["detail"] for e in loaded] == [
        {
            "fileKey": "incoming/houses.csv",
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "row": 3,
            "id": "H-003",
        }
    ] * 2


def test_load_turns_an_item_dynamodb_refuses_into_record_failed(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    load = load_function(PATTERN, "load")
    event = json.loads(load_event(PATTERN, "record-transformed")["Records"][0]["body"])
    event["detail"]["item"]["notes"] = "x" * 410_000  # over DynamoDB's 400 KB item limit
    assert failures(load.handler(as_sqs_event([event]), lambda_context)) == []
    (failed,) = etl.probe("failed")
    assert failed["detail"]["stage"] == "load"
    assert failed["detail"]["reason"].startswith("DynamoDB refused the item")
    assert _scan(etl.table) == []


def test_load_reports_a_malformed_message(
    etl: Etl, load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    load = load_function(PATTERN, "load")
    event = json.loads(load_event(PATTERN, "record-transformed")["Records"][0]["body"])
    event["detail"]["id"] = ""
    bad, garbage = sqs_record(json.dumps(event)), sqs_record("")
    assert failures(load.handler({"Records": [bad, garbage]}, lambda_context)) == [
        bad["messageId"],
        garbage["messageId"],
    ]
    assert _scan(etl.table) == []


# --- observe ---------------------------------------------------------------------------------


def _bus_event(detail_type: str, file_key: str, row: int | None = 1) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": "123456789012",
        "time": "2026-12-03T10:15:31Z",
        "region": REGION,
        "resources": [],
        "detail": {"fileKey": file_key, "etag": "e1", "row": row},
    }


def test_observe_prints_emf_counts_per_file(
    etl: Etl, load_function: LoadFunction, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    observe = load_function(PATTERN, "observe")
    events = [
        *[_bus_event("RecordExtracted", "incoming/a.csv", r) for r in (1, 2, 3)],
        *[_bus_event("RecordTransformed", "incoming/a.csv", r) for r in (1, 2)],
        _bus_event("RecordLoaded", "incoming/a.csv"),
        _bus_event("RecordFailed", "incoming/a.csv", 3),
        _bus_event("RecordExtracted", "incoming/b.csv"),
    ]
    event = as_sqs_event(events)
    bad = sqs_record("not an event")
    event["Records"].append(bad)
    assert failures(observe.handler(event, lambda_context)) == [bad["messageId"]]

    blobs = {b["fileKey"]: b for b in emf_blobs(capsys.readouterr().out)}
    assert set(blobs) == {"incoming/a.csv", "incoming/b.csv"}
    a = blobs["incoming/a.csv"]
    assert (a["RowsExtracted"], a["RowsTransformed"], a["RowsLoaded"], a["RowsFailed"]) == (
        3,
        2,
        1,
        1,
    )
    assert blobs["incoming/b.csv"]["RowsExtracted"] == 1
    (directive,) = a["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ServerlessPatternsTest"
    assert {m["Name"] for m in directive["Metrics"]} >= {
        "RowsExtracted",
        "RowsTransformed",
        "RowsLoaded",
        "RowsFailed",
    }
    assert all("fileKey" not in dims for dims in directive["Dimensions"])  # a property only


# --- end to end ------------------------------------------------------------------------------


def test_a_file_flows_through_every_stage_to_the_table(
    etl: Etl, load_function: LoadFunction, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """extract -> (rule) transform -> (rule) load -> table, observe seeing every event."""
    csv_text = HOUSES + b"H-011,9\n"  # one ragged row
    etl.upload("incoming/houses.csv", csv_text)
    extract = load_function(PATTERN, "extract")
    extract.handler({"Records": [sqs_record(notification("incoming/houses.csv"))]}, lambda_context)
    transform = load_function(PATTERN, "transform")
    extracted = etl.probe("extracted")
    for start in range(0, len(extracted), 10):
        assert (
            failures(transform.handler(as_sqs_event(extracted[start : start + 10]), lambda_context))
            == []
        )
    load = load_function(PATTERN, "load")
    assert failures(load.handler(as_sqs_event(etl.probe("transformed")), lambda_context)) == []

    items = _scan(etl.table)
    assert [item["id"] for item in items] == [f"H-{i:03d}" for i in range(1, 11)]
    (failed,) = etl.probe("failed")
    assert (failed["detail"]["row"], failed["detail"]["stage"]) == (11, "transform")

    observe = load_function(PATTERN, "observe")
    everything = etl.probe("all")
    capsys.readouterr()
    for start in range(0, len(everything), 10):
        observe.handler(as_sqs_event(everything[start : start + 10]), lambda_context)
    totals: dict[str, float] = {}
    for blob in emf_blobs(capsys.readouterr().out):
        for name in ("RowsExtracted", "RowsTransformed", "RowsLoaded", "RowsFailed"):
            totals[name] = totals.get(name, 0) + blob[name]
    assert totals == {
        "RowsExtracted": 11,
        "RowsTransformed": 10,
        "RowsLoaded": 10,
        "RowsFailed": 1,
    }
