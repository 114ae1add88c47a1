"""table-event-pipes behaviour: filters under EventBridge's matcher, templates, enrich, consumer.

moto's EventBridge `TestEventPattern` API is not implemented (it raises
NotImplementedError), so the filters are evaluated with the matcher behind it,
`moto.events.models.EventPattern`, which moto also uses for rules and pipes-like filtering.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyKeyError,
    IdempotencyValidationError,
)
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


@pytest.fixture
def edge_records(load_event) -> dict[str, dict[str, Any]]:
    """Real-shaped records the happy path lacks: every attribute type, a missing attribute,
    a bad number, an item type nobody configured."""
    return load_event("table-event-pipes", "edge-records")


def log_records(output: str) -> list[dict[str, Any]]:
    """The Powertools log lines (not the EMF metric blobs) a handler printed."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if "level" in line]


def errors(output: str, *keys: str) -> list[dict[str, Any]]:
    """Each ERROR line, reduced to its message, exception type and the given keys."""
    return [
        {k: line.get(k) for k in ("message", "exception_name", *keys)}
        for line in log_records(output)
        if line["level"] == "ERROR"
    ]


def metrics_of(output: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in output.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                    sum(value) if isinstance(value, list) else value
                )
    return totals


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


def create_lookup_table(name: str, sort_key_type: str = "S") -> Any:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": sort_key_type},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@pytest.fixture
def lookup_world(monkeypatch):
    """moto with the lookup table and the enrichment's environment; a test that reads log
    lines loads `enrich` itself: a module loaded during setup logs to setup's closed capture."""
    monkeypatch.setenv("ITEM_TYPES", enrichment_environment(TYPES))
    monkeypatch.setenv("LOOKUP_TABLE_NAME", TABLE)
    with mock_aws():
        dynamodb = create_lookup_table(TABLE)
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": "CUSTOMER#42"},
                "sk": {"S": "PROFILE"},
                "name": {"S": "Ada"},
                "orders": {"N": "12"},
            },
        )
        yield


@pytest.fixture
def enrich(lookup_world, load_function):
    return load_function("table-event-pipes", "enrich")


def run_enrich(enrich, batch, context) -> list[dict[str, Any]]:
    """The handler's output as the pipe reads it: JSON bytes, numbers exact."""
    output = enrich.handler(batch, context)
    assert isinstance(output, bytes)
    events: list[dict[str, Any]] = json.loads(output, parse_float=Decimal)
    return events


def test_enrich_returns_one_event_per_record_in_order(enrich, records, lambda_context):
    batch = [records["order-insert"], records["story-insert"], records["order-insert-2"]]
    events = run_enrich(enrich, batch, lambda_context)
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
    assert run_enrich(enrich, batch, lambda_context) == events  # deterministic


def test_enrich_raises_on_throttling_so_the_pipe_retries(
    lookup_world, load_function, records, lambda_context, capsys
):
    enrich = load_function("table-event-pipes", "enrich")
    # moto never throttles; the Stubber plays DynamoDB's throttling error.
    batch = [records["order-insert"], records["story-insert"]]
    with Stubber(enrich.dynamodb) as stub:
        stub.add_client_error("batch_get_item", "ProvisionedThroughputExceededException")
        with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
            enrich.handler(batch, lambda_context)
    # The lookup serves the whole batch, so its failure names every record of it.
    assert errors(capsys.readouterr().out, "eventIds") == [
        {
            "message": "Enrichment failed; the pipe retries the batch",
            "exception_name": "ProvisionedThroughputExceededException",
            "eventIds": [r["eventID"] for r in batch],
        }
    ]


def test_enrich_raises_when_keys_stay_unprocessed(enrich, records, lambda_context):
    key = {"pk": {"S": "CUSTOMER#42"}, "sk": {"S": "PROFILE"}}
    unprocessed = {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: {"Keys": [key]}}}
    with Stubber(enrich.dynamodb) as stub:
        for _ in range(3):
            stub.add_response("batch_get_item", unprocessed)
        with pytest.raises(enrich.lookups.LookupIncomplete):
            enrich.handler([records["order-insert"]], lambda_context)


def test_enrich_skips_records_the_pipe_filters_remove(
    lookup_world, load_function, records, edge_records, lambda_context, capsys
):
    """An order MODIFY (orders take INSERT only), a story's TTL removal and an item type
    nobody configured reach no target: the pipe's filters would have removed them."""
    enrich = load_function("table-event-pipes", "enrich")
    skipped = [records["order-modify"], records["story-ttl-remove"], edge_records["invoice-insert"]]
    batch = [skipped[0], records["order-insert"], *skipped[1:]]
    events = run_enrich(enrich, batch, lambda_context)
    assert [e["detail"]["sourceEventId"] for e in events] == [records["order-insert"]["eventID"]]
    output = capsys.readouterr().out
    warnings = [
        (line["message"], line["eventId"])
        for line in log_records(output)
        if line["level"] == "WARNING"
    ]
    assert warnings == [("No item type takes the record; skipped", r["eventID"]) for r in skipped]
    assert errors(output) == []
    assert metrics_of(output) == {"EnrichedRecords": 1, "SkippedRecords": 3}
    # A batch of nothing but such records invokes no target.
    assert run_enrich(enrich, skipped, lambda_context) == []


def test_enrich_turns_a_removal_without_a_new_image_into_its_event(enrich, records, lambda_context):
    """Customers take REMOVE too: a removal carries Keys and OldImage only."""
    removal = json.loads(json.dumps(records["customer-insert"]))
    removal.update(eventID="d1a2b3c4e5f60718293a4b5c6d7e8f90", eventName="REMOVE")
    removal["dynamodb"]["OldImage"] = removal["dynamodb"].pop("NewImage")
    assert run_enrich(enrich, [removal], lambda_context) == [
        {
            "detailType": "CustomerChanged",
            "detail": {"customerId": "CUSTOMER#42", "sourceEventId": removal["eventID"]},
        }
    ]


def test_enrich_names_the_record_and_the_path_a_template_misses(
    lookup_world, load_function, edge_records, records, lambda_context, capsys
):
    enrich = load_function("table-event-pipes", "enrich")
    record = edge_records["order-insert-without-customer"]
    with pytest.raises(LookupError) as raised:
        enrich.handler([records["story-insert"], record], lambda_context)
    assert type(raised.value).__name__ == "MissingPathError"  # not a bare KeyError
    assert str(raised.value) == (
        f"stream record {record['eventID']}: input template path "
        "$.dynamodb.NewImage.customerId.S is not in it"
    )
    assert (raised.value.event_id, raised.value.path) == (
        record["eventID"],
        "$.dynamodb.NewImage.customerId.S",
    )
    assert errors(capsys.readouterr().out, "eventId") == [
        {
            "message": "Enrichment failed; the pipe retries the batch",
            "exception_name": "MissingPathError",
            "eventId": record["eventID"],
        }
    ]


def test_enrich_refuses_a_record_with_a_bad_number(
    lookup_world, load_function, edge_records, lambda_context, capsys
):
    enrich = load_function("table-event-pipes", "enrich")
    record = edge_records["order-insert-bad-number"]
    with pytest.raises(ValueError) as raised:
        enrich.handler([record], lambda_context)
    assert type(raised.value).__name__ == "InvalidAttributeError"
    assert raised.value.attribute == "total"
    assert errors(capsys.readouterr().out, "eventId") == [
        {
            "message": "Enrichment failed; the pipe retries the batch",
            "exception_name": "InvalidAttributeError",
            "eventId": record["eventID"],
        }
    ]


def test_enrich_refuses_a_record_several_types_claim(
    monkeypatch, load_function, records, lambda_context, capsys
):
    by_key = ItemType(
        discriminator={"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}},
        detail_type="OrderKeyed",
        input_template='{"sourceEventId": "<$.eventID>"}',
    )
    monkeypatch.setenv("ITEM_TYPES", enrichment_environment({"order": ORDER, "keyed": by_key}))
    with mock_aws():
        enrich = load_function("table-event-pipes", "enrich")
        with pytest.raises(ValueError, match="matches several item types") as raised:
            enrich.handler([records["order-insert"]], lambda_context)
    assert type(raised.value).__name__ == "AmbiguousRecordError"
    assert str(raised.value) == (
        f"stream record {records['order-insert']['eventID']} matches several item types "
        "(keyed, order)"
    )
    assert errors(capsys.readouterr().out, "eventId") == [
        {
            "message": "Enrichment failed; the pipe retries the batch",
            "exception_name": "AmbiguousRecordError",
            "eventId": records["order-insert"]["eventID"],
        }
    ]


def test_enrich_reads_each_related_item_once(enrich, records, lambda_context):
    calls: list[int] = []
    enrich.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: calls.append(len(params["RequestItems"][TABLE]["Keys"])),
    )
    twice = [records["order-insert"], dict(records["order-insert"], eventID="other")]
    events = run_enrich(enrich, twice, lambda_context)
    assert calls == [1]  # BatchGetItem rejects duplicate keys
    assert events[0]["detail"]["related"] == events[1]["detail"]["related"]


BINARY_TAG = base64.b64decode("3q2+7w==")  # the rich record's customerTag
EXACT = "12345678901234567890.123456789"  # more digits than a float holds


def test_enrich_finds_related_items_by_a_binary_key_and_keeps_every_value_exact(
    monkeypatch, load_function, edge_records, lambda_context
):
    """The key comes from the stream (binary as base64 text) and must reach DynamoDB as the
    bytes; the related item's numbers, binary and sets come back exactly."""
    tagged = ItemType(
        discriminator=ORDER.discriminator,
        detail_type="OrderPlaced",
        input_template=(
            '{"orderId": "<$.dynamodb.Keys.pk.S>", "total": "<$.dynamodb.NewImage.total.N>", '
            '"lines": <$.dynamodb.NewImage.lines>, "sourceEventId": "<$.eventID>"}'
        ),
        lookup_key={"pk": "customerId", "sk": "customerTag"},
    )
    monkeypatch.setenv("ITEM_TYPES", enrichment_environment({"order": tagged}))
    monkeypatch.setenv("LOOKUP_TABLE_NAME", "tags")
    with mock_aws():
        create_lookup_table("tags", sort_key_type="B").put_item(
            TableName="tags",
            Item={
                "pk": {"S": "CUSTOMER#42"},
                "sk": {"B": BINARY_TAG},
                "credit": {"N": EXACT},
                "avatar": {"B": b"\x00\xff"},
                "keys": {"BS": [b"\x02", b"\x01"]},
                "scores": {"NS": ["2", "-0.5"]},
                "nick": {"NULL": True},
            },
        )
        enrich = load_function("table-event-pipes", "enrich")
        record = edge_records["order-insert-rich"]
        output = enrich.handler([record], lambda_context)
    assert f'"credit": {EXACT}' in output.decode()  # a JSON number, every digit kept
    assert f'"total": "{EXACT}"' in output.decode()
    (event,) = json.loads(output, parse_float=Decimal)
    assert event["detail"] == {
        "orderId": "ORDER#1003",
        "total": EXACT,
        "lines": record["dynamodb"]["NewImage"]["lines"],  # the template passes it as is
        "sourceEventId": record["eventID"],
        "related": {
            "pk": "CUSTOMER#42",
            "sk": "3q2+7w==",
            "credit": Decimal(EXACT),
            "avatar": "AP8=",
            "keys": ["AQ==", "Ag=="],
            "scores": [Decimal("-0.5"), 2],
            "nick": None,
        },
    }


# example consumer ---------------------------------------------------------------------


@pytest.fixture
def load_consumer(monkeypatch, load_function):
    """moto with the idempotency table; loads the consumer with its work counted (call it
    in the test when it reads log lines: setup's capture is closed by then)."""
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "idempotency")
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def load():
            module = load_function("table-event-pipes", "consumer")
            calls: list[str] = []
            process = module.process

            def counting(event):
                calls.append(event["detail"]["sourceEventId"])
                return process(event)

            monkeypatch.setattr(module, "process", counting)
            module.calls = calls
            return module

        yield load


@pytest.fixture
def consumer(load_consumer):
    return load_consumer()


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


def test_consumer_refuses_another_detail_under_the_same_key(
    load_consumer, load_event, lambda_context, capsys
):
    consumer = load_consumer()
    """A key reused with another detail is a conflict, not a replay of the first answer."""
    event = load_event("table-event-pipes", "story-created-event")
    consumer.handler(event, lambda_context)
    stored = boto3.client("dynamodb").scan(TableName="idempotency")["Items"]
    changed = load_event("table-event-pipes", "story-created-event")
    changed["detail"]["title"] = "Parker and Jackson, revised"
    capsys.readouterr()
    with pytest.raises(IdempotencyValidationError):
        consumer.handler(changed, lambda_context)
    assert consumer.calls == [event["detail"]["sourceEventId"]]
    assert boto3.client("dynamodb").scan(TableName="idempotency")["Items"] == stored
    assert errors(capsys.readouterr().out, "eventId", "sourceEventId") == [
        {
            "message": "Domain event failed",
            "exception_name": "IdempotencyValidationError",
            "eventId": event["id"],
            "sourceEventId": event["detail"]["sourceEventId"],
        }
    ]


def test_consumer_logs_ids_and_shapes_never_the_detail(
    load_consumer, load_event, lambda_context, capsys
):
    consumer = load_consumer()
    event = load_event("table-event-pipes", "story-created-event")
    consumer.handler(event, lambda_context)
    output = capsys.readouterr().out
    (line,) = [r for r in log_records(output) if r["message"] == "Domain event"]
    fields = ("level", "eventId", "detailType", "source", "sourceEventId", "detailKeys")
    assert {k: line.get(k) for k in (*fields, "detail")} == {
        "level": "INFO",
        "eventId": event["id"],
        "detailType": "StoryCreated",
        "source": "app.stories",
        "sourceEventId": event["detail"]["sourceEventId"],
        "detailKeys": ["createdAt", "sourceEventId", "storyId", "title"],
        "detail": None,
    }
    for value in ("Parker and Jackson", event["detail"]["storyId"]):
        assert value not in output  # nothing of the item's data, in any line
