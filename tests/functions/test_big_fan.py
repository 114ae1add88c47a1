"""big-fan: one publish reaches only the queues whose filter policy selects it (moto's SNS
honours filter policies and raw delivery), and each consumer reports exactly its poison
records as batch item failures."""

from __future__ import annotations

import importlib
import json
from typing import Any
from urllib.parse import parse_qs, quote

import boto3
import pytest
from moto import mock_aws

from components.big_fan import DEFAULT_ROUTES, send_template

PATTERN = "big-fan"


def _sqs_event(queue_arn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Lambda's SQS event for messages received with all their attributes."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-west-1",
            }
            for m in messages
        ]
    }


def _render_send(topic_arn: str, body: dict[str, Any]) -> dict[str, str]:
    """The form API Gateway posts to SNS for `body`: the template's two VTL expressions
    evaluated as API Gateway would, then parsed as SNS parses a form."""
    text = json.dumps(body)
    form = (
        send_template(topic_arn)
        .replace("$util.urlEncode($input.body)", quote(text, safe=""))
        .replace("$util.urlEncode($input.path('$.status'))", quote(body["status"], safe=""))
    )
    assert "$" not in form  # nothing left unevaluated
    parsed = parse_qs(form, keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in parsed.values())
    return {k: v[0] for k, v in parsed.items()}


def _publish_form(sns, form: dict[str, str]) -> None:
    assert form["Action"] == "Publish"
    attributes: dict[str, dict[str, str]] = {}
    index = 1
    while f"MessageAttributes.entry.{index}.Name" in form:
        prefix = f"MessageAttributes.entry.{index}"
        attributes[form[f"{prefix}.Name"]] = {
            "DataType": form[f"{prefix}.Value.DataType"],
            "StringValue": form[f"{prefix}.Value.StringValue"],
        }
        index += 1
    sns.publish(TopicArn=form["TopicArn"], Message=form["Message"], MessageAttributes=attributes)


@mock_aws
def test_one_publish_each_reaches_only_its_slice_and_each_consumer_takes_all_of_it(
    load_function, lambda_context, monkeypatch
):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="dev-big-fan-topic")["TopicArn"]
    queues: dict[str, tuple[str, str]] = {}
    for route, policy in DEFAULT_ROUTES.items():
        url = sqs.create_queue(QueueName=f"dev-big-fan-{route}-queue")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps(policy),
                "FilterPolicyScope": "MessageAttributes",
            },
        )
        queues[route] = (url, arn)

    sent = [
        {"status": "created", "orderId": "o-1"},
        {"status": "shipped", "orderId": "o-2"},
        {"status": "created", "orderId": "o-3", "note": "a & b = c"},
        {"status": "cancelled", "orderId": "o-4"},
        {"status": "Created", "orderId": "o-5"},  # filter values are case-sensitive
    ]
    for body in sent:
        _publish_form(sns, _render_send(topic, body))

    received: dict[str, list[dict[str, Any]]] = {}
    for route, (url, _) in queues.items():
        received[route] = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])

    def orders(route: str) -> list[str]:
        return sorted(json.loads(m["Body"])["orderId"] for m in received[route])

    assert orders("created") == ["o-1", "o-3"]
    assert orders("other") == ["o-2", "o-4", "o-5"]
    # Raw delivery: the body is the request body itself, with the status attribute beside it.
    first = next(m for m in received["created"] if "o-3" in m["Body"])
    assert json.loads(first["Body"]) == sent[2]
    assert first["MessageAttributes"]["status"] == {"StringValue": "created", "DataType": "String"}

    for route, (_, arn) in queues.items():
        monkeypatch.setenv("ROUTE", route)
        # Reloaded per route: ROUTE is read at import, as in each route's own function.
        consumer = importlib.reload(load_function(PATTERN, "consumer"))
        assert route == consumer.ROUTE
        response = consumer.handler(_sqs_event(arn, received[route]), lambda_context)
        assert response == {"batchItemFailures": []}


@pytest.fixture
def consumer(load_function, monkeypatch):
    monkeypatch.setenv("ROUTE", "created")
    return load_function(PATTERN, "consumer")


def test_poison_records_are_reported_one_by_one(consumer, load_event, lambda_context, caplog):
    response = consumer.handler(load_event(PATTERN, "sqs-batch"), lambda_context)
    # Not JSON, and no status attribute; the two well-formed records are consumed.
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"},
            {"itemIdentifier": "8ab4f4b4-0f2e-4b69-9d5e-0e7e2a6c2c11"},
        ]
    }
    logged = [(r.getMessage(), getattr(r, "messageId", None)) for r in caplog.records]
    assert [m for text, m in logged if text == "Message received"] == [
        "2e1424d4-f796-459a-8184-9c92662be6da",
        "c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    ]
    assert [m for text, m in logged if text.startswith("Message breaks the contract")] == [
        "059f36b4-87a3-44ab-83d2-661975830a7d",
        "8ab4f4b4-0f2e-4b69-9d5e-0e7e2a6c2c11",
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": '["created"]'}, "must be a JSON object"),
        ({"body": None}, "no body string"),
        ({"messageAttributes": {"status": {"stringValue": ""}}}, "no status message attribute"),
        ({"body": json.dumps({"status": "shipped"})}, "differs from the body's"),
        ({"messageId": ""}, "no messageId"),
    ],
)
def test_each_kind_of_bad_record_is_a_failure_not_a_loss(
    consumer, load_event, lambda_context, caplog, change, reason
):
    event = load_event(PATTERN, "sqs-batch")
    record = {**event["Records"][0], **change}
    response = consumer.handler({"Records": [record]}, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    (error,) = [
        r for r in caplog.records if r.getMessage().startswith("Message breaks the contract")
    ]
    assert reason in str(error.exc_info[1])


def test_an_empty_batch_reports_no_failures(consumer, lambda_context):
    assert consumer.handler({"Records": []}, lambda_context) == {"batchItemFailures": []}


def test_an_event_that_is_not_an_sqs_batch_raises(consumer, lambda_context):
    with pytest.raises(Exception, match="Unexpected batch event type"):
        consumer.handler({"detail": {}}, lambda_context)
