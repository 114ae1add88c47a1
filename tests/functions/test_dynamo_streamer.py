"""dynamo-streamer's `subscriber`: batch item failures for exactly the bad records, and the
whole path in moto: the rendered PutItem request (tests/vtl.py) stored by DynamoDB, read
back from the table's stream and handled without a failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components.dynamo_streamer import put_item_template
from tests.functions.conftest import FakeLambdaContext
from tests.vtl import render_vtl

PATTERN = "dynamo-streamer"
REGION = "eu-west-1"
TABLE = "streamer-items"
BAD_SEQUENCE = "111200000000012345678902"

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


@pytest.fixture
def subscriber(monkeypatch: pytest.MonkeyPatch, load_function: LoadFunction) -> ModuleType:
    monkeypatch.setenv("KEY_NAME", "message")
    return load_function(PATTERN, "subscriber")


def _handle(module: ModuleType, event: dict[str, Any]) -> list[str]:
    response = module.handler(event, FakeLambdaContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def _errors(caplog: pytest.LogCaptureFixture) -> list[Any]:
    """The subscriber's own ERROR lines (Tracer adds one of its own per raised record)."""
    return [
        r
        for r in caplog.records
        if r.levelname == "ERROR" and r.getMessage().startswith("Stream record is not")
    ]


def test_one_bad_record_fails_alone(subscriber, load_event, caplog):
    assert _handle(subscriber, load_event(PATTERN, "stream-inserts")) == [BAD_SEQUENCE]
    (error,) = _errors(caplog)
    assert error.eventId == "c81e728d9d4c2f636f067f89cc14862c"
    assert error.reason == "item has no non-empty string 'message'"
    received = [r for r in caplog.records if r.getMessage() == "Item received"]
    assert [(r.requestId, r.preview) for r in received] == [
        ("0f8a3c1e-5d2b-4e77-9c10-2b1f6e0d9a01", 'hello "world"'),
        ("7b2d9e44-1a3c-4f8e-8d55-6c0b3a9f1e22", "line one\nline two \\ éè 🚀"),
    ]


def test_a_good_batch_has_no_failures_and_an_empty_one_is_fine(subscriber, load_event):
    event = load_event(PATTERN, "stream-inserts")
    del event["Records"][1]
    assert _handle(subscriber, event) == []
    assert _handle(subscriber, {"Records": []}) == []


def _with_bad(load_event: LoadEvent, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = load_event(PATTERN, "stream-inserts")
    change(event["Records"][0])
    return event


MALFORMED: dict[str, Callable[[dict[str, Any]], None]] = {
    "modify": lambda r: r.update(eventName="MODIFY"),
    "no new image": lambda r: r["dynamodb"].pop("NewImage"),
    "new image not an object": lambda r: r["dynamodb"].update(NewImage="text"),
    "empty text": lambda r: r["dynamodb"]["NewImage"].update(message={"S": ""}),
    "no key": lambda r: r["dynamodb"]["NewImage"].pop("message"),
    "bad dynamodb json": lambda r: r["dynamodb"]["NewImage"].update(message={"X": "?"}),
    "bad number": lambda r: r["dynamodb"]["NewImage"].update(count={"N": "twelve"}),
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_records_are_their_own_failures(subscriber, load_event, caplog, change):
    failures = _handle(subscriber, _with_bad(load_event, change))
    assert failures == ["111100000000012345678901", BAD_SEQUENCE]
    assert len(_errors(caplog)) == 2


def test_a_batch_where_every_record_fails_lists_them_all(subscriber, load_event):
    event = load_event(PATTERN, "stream-inserts")
    for record in event["Records"]:
        record["eventName"] = "REMOVE"
    assert _handle(subscriber, event) == [
        "111100000000012345678901",
        BAD_SEQUENCE,
        "111300000000012345678903",
    ]


def test_the_items_module_names_what_is_wrong(subscriber):
    items = subscriber.items
    with pytest.raises(items.InvalidRecordError, match="record is not an object"):
        items.stored_item(["not", "a", "record"], "message")
    with pytest.raises(items.InvalidRecordError, match="record has no dynamodb change"):
        items.stored_item({"eventName": "INSERT"}, "message")
    with pytest.raises(items.InvalidRecordError, match="record has no sequence number"):
        items.stored_item({"eventName": "INSERT", "dynamodb": {"NewImage": {}}}, "message")


# The whole path in moto -----------------------------------------------------------------------


TEXTS = [
    'She said "it\'s fine"',
    "C:\\temp\\new \\u0041",
    "line one\nline two\r\n\tend",
    "control \u0000 \u001f",
    "unicode é 中文 🚀 \u2028",
    '"}, "Evil": {"S": "x"}, "y": {"S": "',
]


def _stream_event(client: Any, stream_arn: str) -> dict[str, Any]:
    """The stream's records as Lambda hands them to the function."""
    # botocore sends stream-ARN requests to an account-based endpoint that moto routes to
    # DynamoDB itself; the classic endpoint reaches moto's streams backend.
    streams = boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
    )
    records = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            record["dynamodb"].pop("ApproximateCreationDateTime", None)  # a datetime in boto3
            records.append({**record, "eventSourceARN": stream_arn})
    return {"Records": records}


def test_the_rendered_put_item_is_stored_and_handled_from_the_stream(subscriber, load_event):
    fixture = json.dumps(load_event(PATTERN, "api-put-item"))
    bodies = [fixture, *(json.dumps({"message": text}) for text in TEXTS)]
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        table = client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "message", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "message", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]
        for index, body in enumerate(bodies):
            rendered = render_vtl(
                put_item_template(TABLE, "message"), body, {"requestId": f"request-{index}"}
            )
            client.put_item(**json.loads(rendered))
        stored = {
            item["message"]["S"]: item["requestId"]["S"]
            for item in client.scan(TableName=TABLE)["Items"]
        }
        assert stored == {
            json.loads(body)["message"]: f"request-{index}" for index, body in enumerate(bodies)
        }
        event = _stream_event(client, table["LatestStreamArn"])
    assert len(event["Records"]) == len(bodies)
    assert {r["eventName"] for r in event["Records"]} == {"INSERT"}
    assert _handle(subscriber, event) == []
