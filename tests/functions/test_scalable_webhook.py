"""scalable-webhook handlers against moto (SQS, DynamoDB, Secrets Manager).

The consumer's contract: each delivery id is stored once, records that can never succeed (bad
signatures, duplicates) are handled, and everything else that fails is reported back to SQS.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from pytest_socket import SocketBlockedError

PATTERN = "scalable-webhook"
TABLE_NAME = "scalable-webhook-test-deliveries"
QUEUE_NAME = "scalable-webhook-test-deliveries"
REGION = "eu-west-1"

# GitHub's published example ("Validating webhook deliveries"): a check on the HMAC that does
# not depend on this file's own `sign` helper.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_EXAMPLE_BODY = "Hello, World!"
GITHUB_EXAMPLE_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# Fits in an SQS message (1 MiB) but not in a DynamoDB item (400 KB): a real, deterministic
# DynamoDB error (moto raises ValidationException, as AWS does).
OVERSIZED_BODY = json.dumps({"action": "bulk_export", "rows": "x" * 420_000})

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


# --- helpers -------------------------------------------------------------------------------


def sign(body: str, secret: str = GITHUB_SECRET, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), body.encode(), algorithm).hexdigest()


def sqs_record(
    template: dict[str, Any],
    body: str,
    *,
    source: str | None = "github",
    signature: str | None = None,
    delivery_id: str | None = None,
) -> dict[str, Any]:
    """A record in Lambda's SQS format, shaped like the fixture, with a fresh messageId."""
    record = copy.deepcopy(template)
    record["messageId"] = str(uuid.uuid4())
    record["body"] = body
    record["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()
    record.pop("md5OfMessageAttributes", None)  # no longer matches; nothing reads it
    values = {"source": source, "signature": signature, "deliveryId": delivery_id}
    record["messageAttributes"] = {
        name: {
            "stringValue": value,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
        for name, value in values.items()
        if value is not None
    }
    return record


def invoke(consumer: ModuleType, records: list[dict[str, Any]], context: Any) -> list[str]:
    """Run the consumer on one batch; the messageIds it reports as failed."""
    response = consumer.handler({"Records": records}, context)
    assert set(response) == {"batchItemFailures"}
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def stored(table: Any) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.update({item["id"]: item for item in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def emitted_metrics(output: str) -> dict[str, float]:
    """Totals per metric name from the EMF blobs Powertools printed."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + total
    return totals


def logged(output: str) -> list[dict[str, Any]]:
    """The Powertools JSON log records in captured stdout (metric blobs left out)."""
    records = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "level" in record and "_aws" not in record:
            records.append(record)
    return records


def errors(output: str, *keys: str) -> list[dict[str, Any]]:
    """Each ERROR record as its message, error type and the given keys."""
    return [
        {k: r.get(k) for k in ("message", "exception_name", *keys)}
        for r in logged(output)
        if r["level"] == "ERROR"
    ]


def queued(queue_url: str) -> list[dict[str, Any]]:
    response = boto3.client("sqs").receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=0,
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def as_lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """What the SQS event source mapping hands Lambda for a received message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {
            name: {
                "stringValue": attribute["StringValue"],
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": attribute["DataType"],
            }
            for name, attribute in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Only the fixtures below decide the handlers' configuration.
    for name in (
        "TABLE_NAME",
        "QUEUE_URL",
        "SIGNATURE_SECRET_ARN",
        "SIGNATURE_ALGORITHM",
        "SIGNATURE_HEADER",
        "DELIVERY_ID_HEADER",
    ):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    created = boto3.resource("dynamodb").create_table(
        TableName=TABLE_NAME,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    return created


@pytest.fixture
def secret_arn(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    arn: str = boto3.client("secretsmanager").create_secret(
        Name="scalable-webhook/github-signing-secret", SecretString=GITHUB_SECRET
    )["ARN"]
    monkeypatch.setenv("SIGNATURE_SECRET_ARN", arn)
    return arn


@pytest.fixture
def queue_url(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", url)
    monkeypatch.setenv("SIGNATURE_HEADER", "X-Hub-Signature-256")
    monkeypatch.setenv("DELIVERY_ID_HEADER", "X-GitHub-Delivery")
    return url


@pytest.fixture
def consumer(table: Any, load_function: LoadFunction) -> ModuleType:
    return load_function(PATTERN, "consumer")


@pytest.fixture
def signed_consumer(table: Any, secret_arn: str, load_function: LoadFunction) -> ModuleType:
    return load_function(PATTERN, "consumer")


@pytest.fixture
def publisher(queue_url: str, load_function: LoadFunction) -> ModuleType:
    return load_function(PATTERN, "publisher")


@pytest.fixture
def sqs_batch(load_event: LoadEvent) -> dict[str, Any]:
    return load_event(PATTERN, "sqs-batch")


@pytest.fixture
def template(sqs_batch: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = sqs_batch["Records"][0]
    return record


@pytest.fixture
def api_event(load_event: LoadEvent) -> dict[str, Any]:
    return load_event(PATTERN, "api-gateway-post-webhook")


# --- consumer ------------------------------------------------------------------------------


def test_mixed_batch_fails_only_the_failing_record_and_replays_idempotently(
    signed_consumer: ModuleType,
    table: Any,
    template: dict[str, Any],
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good_body = template["body"]
    dup_body = json.dumps({"action": "opened", "number": 1347})
    bad_body = json.dumps({"action": "closed", "number": 1348})
    good = sqs_record(template, good_body, signature=f"sha256={sign(good_body)}", delivery_id="d-1")
    dup_first = sqs_record(
        template, dup_body, signature=f"sha256={sign(dup_body)}", delivery_id="d-2"
    )
    dup_again = sqs_record(
        template, dup_body, signature=f"sha256={sign(dup_body)}", delivery_id="d-2"
    )
    badly_signed = sqs_record(template, bad_body, signature=f"sha256={'0' * 64}", delivery_id="d-3")
    failing = sqs_record(
        template, OVERSIZED_BODY, signature=f"sha256={sign(OVERSIZED_BODY)}", delivery_id="d-4"
    )
    batch = [good, dup_first, dup_again, badly_signed, failing]

    assert invoke(signed_consumer, batch, lambda_context) == [failing["messageId"]]
    first = stored(table)
    assert set(first) == {"github#d-1", "github#d-2"}
    assert first["github#d-1"]["body"] == good_body
    assert first["github#d-2"]["messageId"] == dup_first["messageId"]
    assert emitted_metrics(capsys.readouterr().out) == {
        "DeliveryStored": 2,
        "DuplicateDelivery": 1,
        "InvalidSignature": 1,
    }

    assert invoke(signed_consumer, batch, lambda_context) == [failing["messageId"]]
    assert stored(table) == first
    assert emitted_metrics(capsys.readouterr().out) == {
        "DuplicateDelivery": 3,
        "InvalidSignature": 1,
    }


def test_fixture_batch_is_stored_with_its_metadata(
    consumer: ModuleType, table: Any, sqs_batch: dict[str, Any], lambda_context: Any
) -> None:
    github, stripe = sqs_batch["Records"]

    assert invoke(consumer, sqs_batch["Records"], lambda_context) == []

    stripe_id = "stripe#" + hashlib.sha256(stripe["body"].encode()).hexdigest()
    assert stored(table) == {
        "github#72d3162e-cc78-11e3-81ab-4c9367dc0958": {
            "id": "github#72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "source": "github",
            "body": github["body"],
            "messageId": github["messageId"],
            "receivedAt": Decimal(github["attributes"]["SentTimestamp"]),
        },
        stripe_id: {
            "id": stripe_id,
            "source": "stripe",
            "body": stripe["body"],
            "messageId": stripe["messageId"],
            "receivedAt": Decimal(stripe["attributes"]["SentTimestamp"]),
        },
    }


def test_same_delivery_twice_is_stored_once(
    consumer: ModuleType, table: Any, template: dict[str, Any], lambda_context: Any
) -> None:
    first = sqs_record(template, template["body"], delivery_id="d-42")
    redelivered = sqs_record(template, template["body"], delivery_id="d-42")

    assert invoke(consumer, [first], lambda_context) == []
    assert invoke(consumer, [redelivered], lambda_context) == []

    items = stored(table)
    assert list(items) == ["github#d-42"]
    assert items["github#d-42"]["messageId"] == first["messageId"]


def test_id_falls_back_to_sha256_of_the_body(
    consumer: ModuleType, table: Any, template: dict[str, Any], lambda_context: Any
) -> None:
    body = json.dumps({"event": "ping", "zen": "Keep it logically awesome."})
    other = json.dumps({"event": "ping", "zen": "Design for failure."})
    records = [sqs_record(template, body), sqs_record(template, body), sqs_record(template, other)]

    assert invoke(consumer, records, lambda_context) == []

    items = stored(table)
    body_id = "github#" + hashlib.sha256(body.encode()).hexdigest()
    assert set(items) == {body_id, "github#" + hashlib.sha256(other.encode()).hexdigest()}
    assert items[body_id]["messageId"] == records[0]["messageId"]


def test_dynamodb_error_is_a_batch_item_failure(
    consumer: ModuleType, table: Any, template: dict[str, Any], lambda_context: Any
) -> None:
    fine = sqs_record(template, template["body"], delivery_id="d-fine")
    too_big = sqs_record(template, OVERSIZED_BODY, delivery_id="d-too-big")

    assert invoke(consumer, [fine, too_big], lambda_context) == [too_big["messageId"]]
    assert set(stored(table)) == {"github#d-fine"}


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_every_record_is_reported_when_the_table_is_gone(
    consumer: ModuleType, table: Any, template: dict[str, Any], lambda_context: Any
) -> None:
    records = [sqs_record(template, template["body"], delivery_id=f"d-{n}") for n in range(3)]
    table.delete()

    failed = invoke(consumer, records, lambda_context)

    assert failed == [record["messageId"] for record in records]


@pytest.mark.parametrize(
    "break_record",
    [
        pytest.param(lambda r: r["messageAttributes"].pop("source"), id="no-source-attribute"),
        pytest.param(lambda r: r["attributes"].pop("SentTimestamp"), id="no-sent-timestamp"),
        pytest.param(lambda r: r.update(body=None), id="no-body"),
    ],
)
def test_malformed_record_is_a_failure_not_dropped(
    consumer: ModuleType,
    table: Any,
    template: dict[str, Any],
    lambda_context: Any,
    break_record: Callable[[dict[str, Any]], Any],
) -> None:
    fine = sqs_record(template, template["body"], delivery_id="d-fine")
    broken = sqs_record(template, template["body"], delivery_id="d-broken")
    break_record(broken)

    assert invoke(consumer, [fine, broken], lambda_context) == [broken["messageId"]]
    assert set(stored(table)) == {"github#d-fine"}


# --- signature verification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        pytest.param(GITHUB_EXAMPLE_BODY, GITHUB_EXAMPLE_SIGNATURE, id="github-example"),
        pytest.param("{}", f"sha256={sign('{}')}", id="prefixed"),
        pytest.param("{}", sign("{}"), id="bare-hex"),
        pytest.param("{}", sign("{}").upper(), id="bare-upper-case-hex"),
    ],
)
def test_valid_signature_is_accepted(
    signed_consumer: ModuleType,
    table: Any,
    template: dict[str, Any],
    lambda_context: Any,
    body: str,
    signature: str,
) -> None:
    record = sqs_record(template, body, signature=signature, delivery_id="d-signed")

    assert invoke(signed_consumer, [record], lambda_context) == []
    assert stored(table)["github#d-signed"]["body"] == body


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param(f"sha256={'0' * 64}", id="wrong-digest"),
        pytest.param(f"sha256={sign('{}', secret='not-the-secret')}", id="other-secret"),
        pytest.param(f"sha256={sign('{ }')}", id="other-body"),
        pytest.param(f"sha256={sign('{}')[:40]}", id="truncated"),
        pytest.param(f"sha1={sign('{}', algorithm='sha1')}", id="other-algorithm"),
        pytest.param(f"sha1={sign('{}')}", id="mislabelled-algorithm"),
        pytest.param("sha256=\u00e9\u00e9\u00e9", id="non-ascii"),
    ],
)
def test_invalid_signature_is_counted_not_stored_or_retried(
    signed_consumer: ModuleType,
    table: Any,
    template: dict[str, Any],
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    signature: str | None,
) -> None:
    record = sqs_record(template, "{}", signature=signature, delivery_id="d-unsigned")

    assert invoke(signed_consumer, [record], lambda_context) == []
    assert stored(table) == {}
    assert emitted_metrics(capsys.readouterr().out) == {"InvalidSignature": 1}


def test_configured_algorithm_is_used(
    table: Any,
    secret_arn: str,
    load_function: LoadFunction,
    monkeypatch: pytest.MonkeyPatch,
    template: dict[str, Any],
    lambda_context: Any,
) -> None:
    monkeypatch.setenv("SIGNATURE_ALGORITHM", "sha512")
    consumer = load_function(PATTERN, "consumer")
    sha512 = sqs_record(
        template, "{}", signature=f"sha512={sign('{}', algorithm='sha512')}", delivery_id="d-512"
    )
    sha256 = sqs_record(template, "{}", signature=f"sha256={sign('{}')}", delivery_id="d-256")

    assert invoke(consumer, [sha512, sha256], lambda_context) == []
    assert set(stored(table)) == {"github#d-512"}


def test_unknown_algorithm_fails_at_import(
    table: Any, load_function: LoadFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNATURE_ALGORITHM", "md5")

    with pytest.raises(ValueError, match="unsupported signature algorithm"):
        load_function(PATTERN, "consumer")


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_unreadable_secret_is_a_failure_so_the_record_is_retried(
    table: Any,
    load_function: LoadFunction,
    monkeypatch: pytest.MonkeyPatch,
    template: dict[str, Any],
    lambda_context: Any,
) -> None:
    monkeypatch.setenv(
        "SIGNATURE_SECRET_ARN",
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:does-not-exist-AbCdEf",
    )
    consumer = load_function(PATTERN, "consumer")
    record = sqs_record(template, "{}", signature=f"sha256={sign('{}')}", delivery_id="d-1")

    assert invoke(consumer, [record], lambda_context) == [record["messageId"]]
    assert stored(table) == {}


# --- publisher -----------------------------------------------------------------------------


def test_publisher_queues_a_valid_delivery(
    publisher: ModuleType, queue_url: str, api_event: dict[str, Any], lambda_context: Any
) -> None:
    response = publisher.handler(api_event, lambda_context)

    assert response["statusCode"] == 202
    payload = json.loads(response["body"])
    messages = queued(queue_url)
    assert len(messages) == 1
    assert payload == {"accepted": True, "messageId": messages[0]["MessageId"]}
    assert messages[0]["Body"] == api_event["body"]
    assert messages[0]["MessageAttributes"] == {
        "source": {"StringValue": "github", "DataType": "String"},
        "signature": {
            "StringValue": api_event["headers"]["X-Hub-Signature-256"],
            "DataType": "String",
        },
        "deliveryId": {"StringValue": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "DataType": "String"},
    }


def test_publisher_header_lookup_ignores_case(
    publisher: ModuleType, queue_url: str, api_event: dict[str, Any], lambda_context: Any
) -> None:
    api_event["headers"] = {name.lower(): value for name, value in api_event["headers"].items()}

    assert publisher.handler(api_event, lambda_context)["statusCode"] == 202

    attributes = queued(queue_url)[0]["MessageAttributes"]
    assert attributes["deliveryId"]["StringValue"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert attributes["signature"]["StringValue"].startswith("sha256=")


def test_publisher_omits_absent_and_empty_headers(
    publisher: ModuleType, queue_url: str, api_event: dict[str, Any], lambda_context: Any
) -> None:
    del api_event["headers"]["X-GitHub-Delivery"]
    api_event["headers"]["X-Hub-Signature-256"] = ""

    assert publisher.handler(api_event, lambda_context)["statusCode"] == 202

    assert queued(queue_url)[0]["MessageAttributes"] == {
        "source": {"StringValue": "github", "DataType": "String"}
    }


def test_publisher_decodes_a_base64_body(
    publisher: ModuleType, queue_url: str, api_event: dict[str, Any], lambda_context: Any
) -> None:
    raw = api_event["body"]
    api_event["body"] = base64.b64encode(raw.encode()).decode()
    api_event["isBase64Encoded"] = True

    assert publisher.handler(api_event, lambda_context)["statusCode"] == 202
    assert queued(queue_url)[0]["Body"] == raw


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"ref": "refs/heads/main"', id="truncated-json"),
        pytest.param("payload=%7B%7D", id="form-encoded"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(None, id="absent"),
    ],
)
def test_publisher_rejects_a_body_that_is_not_json(
    publisher: ModuleType,
    queue_url: str,
    api_event: dict[str, Any],
    lambda_context: Any,
    body: str | None,
) -> None:
    api_event["body"] = body

    response = publisher.handler(api_event, lambda_context)

    assert response["statusCode"] == 400
    assert set(json.loads(response["body"])) == {"message"}
    assert queued(queue_url) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not base64!", id="not-base64"),
        pytest.param(base64.b64encode(b"\xff\xfe{}").decode(), id="not-utf8"),
    ],
)
def test_publisher_rejects_an_undecodable_base64_body(
    publisher: ModuleType,
    queue_url: str,
    api_event: dict[str, Any],
    lambda_context: Any,
    body: str,
) -> None:
    api_event["body"] = body
    api_event["isBase64Encoded"] = True

    response = publisher.handler(api_event, lambda_context)

    assert response["statusCode"] == 400
    assert queued(queue_url) == []


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("bad source", id="space"),
        pytest.param("a" * 65, id="too-long"),
        pytest.param("", id="empty"),
        pytest.param("github\n", id="trailing-newline"),
        pytest.param("git/hub", id="slash"),
        pytest.param(None, id="absent"),
    ],
)
def test_publisher_rejects_a_bad_source(
    publisher: ModuleType,
    queue_url: str,
    api_event: dict[str, Any],
    lambda_context: Any,
    source: str | None,
) -> None:
    api_event["pathParameters"] = None if source is None else {"source": source}

    response = publisher.handler(api_event, lambda_context)

    assert response["statusCode"] == 400
    assert "message" in json.loads(response["body"])
    assert queued(queue_url) == []


@pytest.mark.parametrize("source", ["a" * 64, "my-app.v2_prod", "S"])
def test_publisher_accepts_the_whole_source_alphabet(
    publisher: ModuleType,
    queue_url: str,
    api_event: dict[str, Any],
    lambda_context: Any,
    source: str,
) -> None:
    api_event["pathParameters"] = {"source": source}

    assert publisher.handler(api_event, lambda_context)["statusCode"] == 202
    assert queued(queue_url)[0]["MessageAttributes"]["source"]["StringValue"] == source


# --- pure rules (no AWS) -------------------------------------------------------------------


@pytest.fixture
def webhook(load_function: LoadFunction) -> ModuleType:
    return load_function(PATTERN, "webhook")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sha256=ABCdef", ("sha256", "abcdef")),
        (" SHA512=abc ", ("sha512", "abc")),
        ("abcdef", (None, "abcdef")),
        ("v1=abcdef", (None, "v1=abcdef")),
    ],
)
def test_parse_signature(
    webhook: ModuleType, header: str, expected: tuple[str | None, str]
) -> None:
    assert webhook.parse_signature(header) == expected


def test_message_attributes_leave_out_empty_values(webhook: ModuleType) -> None:
    assert webhook.message_attributes("github", signature="", delivery_id=None) == {
        "source": {"DataType": "String", "StringValue": "github"}
    }


# --- both halves ---------------------------------------------------------------------------


def test_publisher_output_is_what_the_consumer_reads(
    table: Any,
    secret_arn: str,
    queue_url: str,
    load_function: LoadFunction,
    api_event: dict[str, Any],
    lambda_context: Any,
) -> None:
    publisher = load_function(PATTERN, "publisher")
    consumer = load_function(PATTERN, "consumer")
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    # The provider retries the same delivery: it is queued twice and stored once.
    for _ in range(2):
        assert publisher.handler(api_event, lambda_context)["statusCode"] == 202
    records = [as_lambda_record(message, queue_arn) for message in queued(queue_url)]
    assert len(records) == 2

    assert invoke(consumer, records, lambda_context) == []
    items = stored(table)
    assert list(items) == ["github#72d3162e-cc78-11e3-81ab-4c9367dc0958"]
    assert items["github#72d3162e-cc78-11e3-81ab-4c9367dc0958"]["body"] == api_event["body"]


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_network_is_disabled() -> None:
    # Creating the socket is what pytest-socket blocks (and it needs no DNS look-up).
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


# --- hardening: per-source dedupe, logged failures, every request answered ------------------


def logging_to_capsys(load_function: LoadFunction, module: str) -> ModuleType:
    """Load a handler inside the test: its logger binds the stdout of the moment, and capsys
    replaces stdout only once the test runs (a fixture-loaded handler logs elsewhere)."""
    return load_function(PATTERN, module)


def item(record: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    return {
        "id": key,
        "source": source,
        "body": record["body"],
        "messageId": record["messageId"],
        "receivedAt": Decimal(record["attributes"]["SentTimestamp"]),
    }


def test_one_delivery_id_from_two_sources_is_stored_for_each(
    consumer: ModuleType,
    table: Any,
    template: dict[str, Any],
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github = sqs_record(template, template["body"], source="github", delivery_id="1001")
    stripe = sqs_record(template, '{"type":"invoice.paid"}', source="stripe", delivery_id="1001")

    assert invoke(consumer, [github], lambda_context) == []
    assert invoke(consumer, [stripe], lambda_context) == []

    assert stored(table) == {
        "github#1001": item(github, "github#1001", "github"),
        "stripe#1001": item(stripe, "stripe#1001", "stripe"),
    }
    assert emitted_metrics(capsys.readouterr().out) == {"DeliveryStored": 2}

    # Redelivered, each is a duplicate of its own source's delivery only.
    assert invoke(consumer, [stripe, github], lambda_context) == []
    assert len(stored(table)) == 2
    assert emitted_metrics(capsys.readouterr().out) == {"DuplicateDelivery": 2}


def test_identical_bodies_from_two_sources_are_stored_for_each(
    consumer: ModuleType, table: Any, template: dict[str, Any], lambda_context: Any
) -> None:
    body = json.dumps({"event": "ping"})
    digest = hashlib.sha256(body.encode()).hexdigest()
    github = sqs_record(template, body, source="github")
    stripe = sqs_record(template, body, source="stripe")
    github_again = sqs_record(template, body, source="github")

    assert invoke(consumer, [github, stripe, github_again], lambda_context) == []

    assert stored(table) == {
        f"github#{digest}": item(github, f"github#{digest}", "github"),
        f"stripe#{digest}": item(stripe, f"stripe#{digest}", "stripe"),
    }


def test_a_source_cannot_spell_another_sources_key(
    consumer: ModuleType, table: Any, template: dict[str, Any], lambda_context: Any
) -> None:
    # The direct integration queues any path segment as the source, `#` included.
    first = sqs_record(template, "{}", source="a#b", delivery_id="c")
    second = sqs_record(template, "{}", source="a", delivery_id="b#c")

    assert invoke(consumer, [first, second], lambda_context) == []

    assert set(stored(table)) == {"a%23b#c", "a#b#c"}


def _set_attribute(name: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda record: record["messageAttributes"].update({name: value})


@pytest.mark.parametrize(
    ("break_record", "error"),
    [
        pytest.param(
            lambda r: r["messageAttributes"].pop("source"),
            "InvalidDeliveryError",
            id="no-source-attribute",
        ),
        pytest.param(
            _set_attribute("source", {"binaryValue": "Z2l0aHVi", "dataType": "Binary"}),
            "InvalidDeliveryError",
            id="binary-source",
        ),
        pytest.param(
            lambda r: r.update(messageAttributes=None), "InvalidDeliveryError", id="attributes-null"
        ),
        pytest.param(
            lambda r: r.update(attributes=None), "InvalidDeliveryError", id="system-attributes-null"
        ),
        pytest.param(
            lambda r: r["attributes"].update(SentTimestamp="yesterday"),
            "InvalidDeliveryError",
            id="sent-timestamp-not-a-number",
        ),
        pytest.param(lambda r: r.update(body=None), "InvalidDeliveryError", id="no-body"),
        pytest.param(lambda r: r.update(body=OVERSIZED_BODY), "ClientError", id="too-big-to-store"),
    ],
)
def test_each_failed_record_is_logged_once_with_its_id_and_error(
    capsys: pytest.CaptureFixture[str],
    load_function: LoadFunction,
    table: Any,
    template: dict[str, Any],
    lambda_context: Any,
    break_record: Callable[[dict[str, Any]], Any],
    error: str,
) -> None:
    consumer = logging_to_capsys(load_function, "consumer")
    fine = sqs_record(template, template["body"], delivery_id="d-fine")
    broken = sqs_record(template, template["body"], delivery_id="d-broken")
    break_record(broken)

    assert invoke(consumer, [fine, broken, fine], lambda_context) == [broken["messageId"]]

    assert set(stored(table)) == {"github#d-fine"}
    assert errors(capsys.readouterr().out, "messageId") == [
        {
            "message": "Delivery failed; SQS will redeliver it",
            "exception_name": error,
            "messageId": broken["messageId"],
        }
    ]


def padded_body(size: int) -> str:
    """A JSON body of exactly `size` bytes."""
    body = '{"pad":"' + "x" * (size - 10) + '"}'
    assert len(body.encode()) == size
    return body


def sqs_size_of_attributes(api_event: dict[str, Any]) -> int:
    """What SQS counts for the publisher's attributes: name + "String" + value, each."""
    values = {
        "source": "github",
        "signature": api_event["headers"]["X-Hub-Signature-256"],
        "deliveryId": api_event["headers"]["X-GitHub-Delivery"],
    }
    return sum(len(name) + len("String") + len(value) for name, value in values.items())


@pytest.mark.parametrize("excess", [1, 1024 * 1024])
def test_publisher_answers_413_to_a_delivery_over_the_message_limit(
    capsys: pytest.CaptureFixture[str],
    load_function: LoadFunction,
    queue_url: str,
    api_event: dict[str, Any],
    lambda_context: Any,
    excess: int,
) -> None:
    publisher = logging_to_capsys(load_function, "publisher")
    limit = 256 * 1024
    api_event["body"] = padded_body(limit - sqs_size_of_attributes(api_event) + excess)

    response = publisher.handler(api_event, lambda_context)

    assert response == {
        "statusCode": 413,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "message": f"Delivery is {limit + excess} bytes with its source, signature and "
                f"delivery id; at most {limit} bytes are accepted"
            }
        ),
    }
    assert queued(queue_url) == []
    assert errors(capsys.readouterr().out) == []


def test_publisher_queues_a_delivery_of_exactly_the_message_limit(
    publisher: ModuleType, queue_url: str, api_event: dict[str, Any], lambda_context: Any
) -> None:
    body = padded_body(256 * 1024 - sqs_size_of_attributes(api_event))
    api_event["body"] = base64.b64encode(body.encode()).decode()
    api_event["isBase64Encoded"] = True  # the limit applies to the decoded body

    assert publisher.handler(api_event, lambda_context)["statusCode"] == 202
    assert queued(queue_url)[0]["Body"] == body


def test_publisher_answers_500_and_logs_once_when_the_queue_fails(
    capsys: pytest.CaptureFixture[str],
    load_function: LoadFunction,
    queue_url: str,
    api_event: dict[str, Any],
    lambda_context: Any,
) -> None:
    publisher = logging_to_capsys(load_function, "publisher")
    boto3.client("sqs").delete_queue(QueueUrl=queue_url)

    response = publisher.handler(api_event, lambda_context)

    assert response == {
        "statusCode": 500,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": "Delivery not queued; retry it later"}),
    }
    assert errors(capsys.readouterr().out, "correlation_id") == [
        {
            "message": "Delivery not queued",
            "exception_name": "QueueDoesNotExist",
            "correlation_id": api_event["requestContext"]["requestId"],
        }
    ]


SOURCE_RULE = "source must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-'"
SIGNATURE = "sha256=88505a6bdde5b7a0bd97199632c6de4b08166a0e4efc0b30938f66303a8385f2"
ALL_ATTRIBUTES = {
    "source": {"StringValue": "github", "DataType": "String"},
    "signature": {"StringValue": SIGNATURE, "DataType": "String"},
    "deliveryId": {"StringValue": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "DataType": "String"},
}


@pytest.mark.parametrize(
    ("change", "status", "outcome"),
    [
        pytest.param(
            lambda e: e.update(headers=None, multiValueHeaders=None),
            202,
            {"source": ALL_ATTRIBUTES["source"]},
            id="headers-null",
        ),
        pytest.param(lambda e: e.pop("headers"), 202, ALL_ATTRIBUTES, id="multi-value-only"),
        pytest.param(lambda e: e.pop("requestContext"), 202, ALL_ATTRIBUTES, id="no-context"),
        pytest.param(lambda e: e.pop("body"), 400, "Request body is required", id="no-body"),
        pytest.param(
            lambda e: e.update(body="<xml/>"),
            400,
            "Request body must be valid JSON",
            id="body-not-json",
        ),
        pytest.param(
            lambda e: e.update(body={"ref": "main"}),
            400,
            "Request body must be valid JSON",
            id="body-not-text",
        ),
        pytest.param(lambda e: e.pop("pathParameters"), 400, SOURCE_RULE, id="no-path-parameters"),
    ],
)
def test_publisher_answers_every_malformed_event(
    capsys: pytest.CaptureFixture[str],
    load_function: LoadFunction,
    queue_url: str,
    api_event: dict[str, Any],
    lambda_context: Any,
    change: Callable[[dict[str, Any]], Any],
    status: int,
    outcome: Any,
) -> None:
    publisher = logging_to_capsys(load_function, "publisher")
    change(api_event)

    response = publisher.handler(api_event, lambda_context)

    assert response["statusCode"] == status
    if status == 202:
        assert queued(queue_url)[0]["MessageAttributes"] == outcome
    else:
        assert json.loads(response["body"]) == {"message": outcome}
        assert queued(queue_url) == []
    assert errors(capsys.readouterr().out) == []


# --- the signing secret's cache (issue #19) --------------------------------------------------


class Clock:
    """Stands in for the `datetime` class Powertools' parameter cache reads the time from."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, 12, 0, 0)

    def now(self, tz: Any = None) -> datetime:
        return self.current


def test_the_signing_secret_is_fetched_once_per_five_minutes(
    signed_consumer: ModuleType,
    table: Any,
    template: dict[str, Any],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aws_lambda_powertools.utilities.parameters import base
    from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

    clock = Clock()
    monkeypatch.setattr(base, "datetime", clock)
    fetches: list[str] = []
    fetch = SecretsProvider._get

    def counted(self: Any, name: str, **options: Any) -> Any:
        fetches.append(name)
        return fetch(self, name, **options)

    monkeypatch.setattr(SecretsProvider, "_get", counted)

    def deliver(n: int) -> None:
        record = sqs_record(template, "{}", signature=f"sha256={sign('{}')}", delivery_id=f"d{n}")
        assert invoke(signed_consumer, [record], lambda_context) == []

    deliver(1)
    deliver(2)
    assert len(fetches) == 1
    clock.current += timedelta(seconds=300)
    deliver(3)
    assert len(fetches) == 1
    clock.current += timedelta(seconds=1)
    deliver(4)
    assert len(fetches) == 2
    assert set(stored(table)) == {f"github#d{n}" for n in range(1, 5)}


def test_an_empty_secret_arn_means_deliveries_are_not_signed(
    table: Any,
    load_function: LoadFunction,
    monkeypatch: pytest.MonkeyPatch,
    template: dict[str, Any],
    lambda_context: Any,
) -> None:
    monkeypatch.setenv("SIGNATURE_SECRET_ARN", "")
    consumer = load_function(PATTERN, "consumer")
    record = sqs_record(template, "{}", delivery_id="d-unsigned")

    assert invoke(consumer, [record], lambda_context) == []
    assert set(stored(table)) == {"github#d-unsigned"}


def test_the_consumer_logs_with_the_invocation_and_traces_each_record(
    table: Any,
    load_function: LoadFunction,
    template: dict[str, Any],
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = load_function(PATTERN, "consumer")  # loaded here: logs go to this capture
    subsegments: list[str] = []

    @contextlib.contextmanager
    def in_subsegment(name: str) -> Iterator[Any]:
        subsegments.append(name)
        yield mock.MagicMock()

    monkeypatch.setattr(consumer.tracer.provider, "in_subsegment", in_subsegment)
    first = sqs_record(template, "{}", delivery_id="d-twice")
    again = sqs_record(template, "{}", delivery_id="d-twice")

    assert invoke(consumer, [first, again], lambda_context) == []
    assert subsegments == ["## handler", "## consumer.record_handler", "## consumer.record_handler"]
    (duplicate,) = [r for r in logged(capsys.readouterr().out) if r["level"] == "INFO"]
    assert duplicate["message"] == "Duplicate delivery ignored"
    assert duplicate["function_request_id"] == lambda_context.aws_request_id
    assert duplicate["messageId"] == again["messageId"]
