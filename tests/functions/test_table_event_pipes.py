"""table-event-pipes behaviour: filters under EventBridge's matcher, templates, enrich, consumer.

moto's EventBridge `TestEventPattern` API is not implemented (it raises
NotImplementedError), so the filters are evaluated with the matcher behind it,
`moto.events.models.EventPattern`, which moto also uses for rules and pipes-like filtering.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyKeyError
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.events.models import EventPattern

from components.core import streams
from components.table_event_pipes import STORY, ItemType, enrichment_environment

ORDER = ItemType(
    discriminator={"dynamodb": {"NewImage": {"entityType": {"S": ["Order"]}}}},
    detail_type="OrderPlaced",
    input_template=(
        '{"orderId": "<$.dynamodb.Keys.pk.S>", "customerId": "<$.dynamodb.NewImage.customerId.S>", '
        '"total": "<$.dynamodb.NewImage.total.N>", "sourceEventId": "<$.eventID>"}'
    ),
    lookup_key={"pk": "customerId", "sk": "customerSk"},
)
CUSTOMER = ItemType(
    discriminator={"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "CUSTOMER#"}]}}}},
    detail_type="CustomerChanged",
    event_names=["INSERT", "MODIFY", "REMOVE"],
    input_template='{"customerId": "<$.dynamodb.Keys.pk.S>", "sourceEventId": "<$.eventID>"}',
)
TYPES = {"story": STORY, "order": ORDER, "customer": CUSTOMER}
# Which fixture records each type's filter must let through (and no other type's).
EXPECTED = {
    "story": {"story-insert"},
    "order": {"order-insert", "order-insert-2"},
    "customer": {"customer-insert"},
}
TABLE = "app"


@pytest.fixture
def records(load_event) -> dict[str, dict[str, Any]]:
    return load_event("table-event-pipes", "stream-records")


def service_matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(record)


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_each_filter_passes_exactly_its_own_records(records, type_name):
    pattern = TYPES[type_name].filter()
    passed = {name for name, record in records.items() if service_matches(pattern, record)}
    assert passed == EXPECTED[type_name]


def test_no_record_reaches_two_types(records):
    for name, record in records.items():
        claimed = [t for t, spec in TYPES.items() if service_matches(spec.filter(), record)]
        assert len(claimed) <= 1, name
        # A type's own MODIFY and REMOVE records (and TTL expiries) never re-emit its event.
        if name.endswith(("-modify", "-remove")) and not name.startswith("customer"):
            assert claimed == []


def test_the_enrichment_router_agrees_with_the_service(load_function, records):
    routing = load_function("table-event-pipes", "routing")
    patterns = [t.filter() for t in TYPES.values()] + [
        {"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["PAID"]}]}}}},
        {"dynamodb": {"OldImage": {"status": {"S": [{"exists": True}]}}}},
        {"userIdentity": {"principalId": ["dynamodb.amazonaws.com"]}},
    ]
    for pattern in patterns:
        for name, record in records.items():
            assert routing.matches(pattern, record) == service_matches(pattern, record), (
                name,
                pattern,
            )


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_input_templates_render_the_contract(load_function, records, type_name):
    templates = load_function("table-event-pipes", "templates")
    spec = TYPES[type_name]
    for name in EXPECTED[type_name]:
        rendered = streams.render_input_template(spec.input_template, records[name])
        assert templates.render(spec.input_template, records[name]) == rendered
        detail = json.loads(rendered)
        assert detail["sourceEventId"] == records[name]["eventID"]
        assert not any(isinstance(v, dict) and set(v) <= {"S", "N"} for v in detail.values())


def test_story_detail_keeps_consumers_off_the_table_schema(records):
    detail = json.loads(
        streams.render_input_template(STORY.input_template, records["story-insert"])
    )
    assert detail == {
        "storyId": "STORY#2026-03-01",
        "title": 'Parker and Jackson in the "haunted" woods',
        "createdAt": "2026-03-01T19:15:00Z",
        "sourceEventId": "5f2b1c0e8e9a4d6fa1b2c3d4e5f60718",
    }


# enrich -------------------------------------------------------------------------------


@pytest.fixture
def enrich(monkeypatch, load_function):
    monkeypatch.setenv("ITEM_TYPES", enrichment_environment(TYPES))
    monkeypatch.setenv("LOOKUP_TABLE_NAME", TABLE)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": "CUSTOMER#42"},
                "sk": {"S": "PROFILE"},
                "name": {"S": "Ada"},
                "orders": {"N": "12"},
            },
        )
        yield load_function("table-event-pipes", "enrich")


def test_enrich_returns_one_event_per_record_in_order(enrich, records, lambda_context):
    batch = [records["order-insert"], records["story-insert"], records["order-insert-2"]]
    events = enrich.handler(batch, lambda_context)
    assert [e["detailType"] for e in events] == ["OrderPlaced", "StoryCreated", "OrderPlaced"]
    assert [e["detail"]["sourceEventId"] for e in events] == [r["eventID"] for r in batch]
    assert events[0]["detail"] == {
        "orderId": "ORDER#1001",
        "customerId": "CUSTOMER#42",
        "total": "129.90",
        "sourceEventId": records["order-insert"]["eventID"],
        "related": {"pk": "CUSTOMER#42", "sk": "PROFILE", "name": "Ada", "orders": 12},
    }
    assert events[2]["detail"]["related"] is None  # no such customer
    assert "related" not in events[1]["detail"]  # stories look nothing up
    assert enrich.handler(batch, lambda_context) == events  # deterministic


def test_enrich_raises_on_throttling_so_the_pipe_retries(enrich, records, lambda_context):
    # moto never throttles; the Stubber plays DynamoDB's throttling error.
    with Stubber(enrich.dynamodb) as stub:
        stub.add_client_error("batch_get_item", "ProvisionedThroughputExceededException")
        with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
            enrich.handler([records["order-insert"]], lambda_context)


def test_enrich_raises_when_keys_stay_unprocessed(enrich, records, lambda_context):
    key = {"pk": {"S": "CUSTOMER#42"}, "sk": {"S": "PROFILE"}}
    unprocessed = {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: {"Keys": [key]}}}
    with Stubber(enrich.dynamodb) as stub:
        for _ in range(3):
            stub.add_response("batch_get_item", unprocessed)
        with pytest.raises(enrich.lookups.LookupIncomplete):
            enrich.handler([records["order-insert"]], lambda_context)


def test_enrich_refuses_a_record_no_type_claims(enrich, records, lambda_context):
    with pytest.raises(ValueError, match="matches no item type"):
        enrich.handler([records["order-modify"]], lambda_context)


def test_enrich_reads_each_related_item_once(enrich, records, lambda_context):
    calls: list[int] = []
    enrich.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: calls.append(len(params["RequestItems"][TABLE]["Keys"])),
    )
    twice = [records["order-insert"], dict(records["order-insert"], eventID="other")]
    events = enrich.handler(twice, lambda_context)
    assert calls == [1]  # BatchGetItem rejects duplicate keys
    assert events[0]["detail"]["related"] == events[1]["detail"]["related"]


# example consumer ---------------------------------------------------------------------


@pytest.fixture
def consumer(monkeypatch, load_function):
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "idempotency")
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        module = load_function("table-event-pipes", "consumer")
        calls: list[str] = []
        process = module.process

        def counting(event):
            calls.append(event["detail"]["sourceEventId"])
            return process(event)

        monkeypatch.setattr(module, "process", counting)
        module.calls = calls
        yield module


def test_consumer_processes_a_redelivered_event_once(consumer, load_event, lambda_context):
    event = load_event("table-event-pipes", "story-created-event")
    first = consumer.handler(event, lambda_context)
    again = consumer.handler(load_event("table-event-pipes", "story-created-event"), lambda_context)
    assert (
        first
        == again
        == {"detailType": "StoryCreated", "sourceEventId": event["detail"]["sourceEventId"]}
    )
    assert consumer.calls == [event["detail"]["sourceEventId"]]
    other = load_event("table-event-pipes", "story-created-event")
    other["detail"]["sourceEventId"] = "another-stream-record"
    consumer.handler(other, lambda_context)
    assert consumer.calls == [event["detail"]["sourceEventId"], "another-stream-record"]
    stored = boto3.client("dynamodb").scan(TableName="idempotency")["Items"]
    assert len(stored) == 2 and all(i["status"]["S"] == "COMPLETED" for i in stored)


def test_consumer_rejects_an_event_without_its_dedupe_key(consumer, load_event, lambda_context):
    event = load_event("table-event-pipes", "story-created-event")
    del event["detail"]["sourceEventId"]
    with pytest.raises(IdempotencyKeyError):
        consumer.handler(event, lambda_context)
    assert consumer.calls == []
