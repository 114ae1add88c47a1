"""xray-tracer handlers against moto (DynamoDB, SQS, SNS) and a stubbed HTTP adapter.

Two halves. With tracing off (the suite's default) a spy on `tracer.put_annotation` checks
what each hop annotates, and the hops' behaviour is checked against moto. With tracing on,
the handlers run inside a real X-Ray segment context: the SDK's Lambda context with the
trace header Lambda would set, Powertools' Tracer enabled (it patches botocore and
requests), and the recorder's emitter replaced by one that keeps every entity it is given.
Those tests assert what X-Ray would receive (the handler and method subsegments, the
`flow` and `path` annotations, one subsegment per AWS or HTTP call, all under the
invocation's trace id) and that the trace header travels on each hop that carries one: the
`AWSTraceHeader` attribute of the queued message, and the `X-Amzn-Trace-Id` header of the
DynamoDB, SNS and HTTP requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.batch.exceptions import UnexpectedBatchTypeError
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.lambda_launcher import LambdaContext as XRayLambdaContext
from moto import mock_aws
from requests.adapters import BaseAdapter

from tests.functions.conftest import FakeLambdaContext

PATTERN = "xray-tracer"
TABLE = "xray-test-hits"
TARGET_URL = "https://status.example.com/ping"
NOW_S = 1_796_292_302.0
COUNTER_TTL_S = 86_400
TRACE_ID = "1-674ee3ce-5e0f8c2b3d4a6f7e8a9b0c1d"
LAMBDA_PARENT = "53995c3f42cd8ad8"
LAMBDA_HEADER = f"Root={TRACE_ID};Parent={LAMBDA_PARENT};Sampled=1"

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


# --- doubles -------------------------------------------------------------------------------


class StubAdapter(BaseAdapter):
    """Answers every request with `status`, keeping the requests and their timeouts."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self.sent: list[tuple[requests.PreparedRequest, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append((request, kwargs.get("timeout")))
        response = requests.Response()
        response.status_code = self.status
        response.url = request.url or ""
        response.request = request
        response._content = b"ok"
        return response

    def close(self) -> None:
        pass


class AnnotationSpy:
    """Stands in for `tracer.put_annotation` while tracing is off."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, key: str, value: Any) -> None:
        self.calls.append((key, value))

    @property
    def keys(self) -> dict[str, set[Any]]:
        found: dict[str, set[Any]] = {}
        for key, value in self.calls:
            found.setdefault(key, set()).add(value)
        return found


class CapturingEmitter:
    """The X-Ray recorder's emitter, keeping each entity (as X-Ray would receive it)."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        self.documents.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address: str) -> None:
        pass

    @property
    def subsegments(self) -> list[dict[str, Any]]:
        """Every subsegment sent, nested ones included, each with its trace id."""
        found: list[dict[str, Any]] = []

        def walk(document: dict[str, Any], trace_id: str) -> None:
            found.append({**document, "trace_id": document.get("trace_id", trace_id)})
            for child in document.get("subsegments", []):
                walk(child, trace_id)

        for document in self.documents:
            walk(document, document["trace_id"])
        return found

    def named(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.subsegments if s["name"] == name]

    def one(self, name: str) -> dict[str, Any]:
        (found,) = self.named(name)
        return found


def trace_headers_sent(client: Any) -> list[str]:
    """Collects the `X-Amzn-Trace-Id` header of every request the boto3 client sends."""
    seen: list[str] = []

    def keep(request: Any, **_: Any) -> None:
        header = request.headers.get("X-Amzn-Trace-Id")
        seen.append(header.decode() if isinstance(header, bytes) else str(header))

    client.meta.events.register("before-send", keep)
    return seen


def header_fields(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(";"))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("TABLE_NAME", "QUEUE_URL", "SECOND_TOPIC_ARN", "FAILURE_RATE", "_X_AMZN_TRACE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COUNTER_TTL_S", str(COUNTER_TTL_S))
    monkeypatch.setenv("HTTP_TARGET_URL", TARGET_URL)
    monkeypatch.setenv("HTTP_CONNECT_TIMEOUT_S", "2")
    monkeypatch.setenv("HTTP_READ_TIMEOUT_S", "5")
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    return boto3.resource("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "path", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "path", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def queue_url(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs").create_queue(QueueName="xray-test-hops")["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", url)
    return url


@pytest.fixture
def second_topic(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The second topic, with a queue subscribed (raw) to see what was published."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(Name="xray-test-second")["TopicArn"]
    observer = sqs.create_queue(QueueName="xray-test-observer")["QueueUrl"]
    observer_arn = sqs.get_queue_attributes(QueueUrl=observer, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=observer_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    monkeypatch.setenv("SECOND_TOPIC_ARN", topic_arn)
    return {"arn": topic_arn, "observer": observer}


@pytest.fixture
def xray(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturingEmitter]:
    """Tracing on, as in a traced Lambda invocation: load handlers after this fixture."""
    emitter = CapturingEmitter()
    enabled = global_sdk_config.sdk_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA_HEADER)
    monkeypatch.delenv("AWS_XRAY_SDK_ENABLED", raising=False)
    monkeypatch.setattr(xray_recorder, "context", XRayLambdaContext())
    monkeypatch.setattr(xray_recorder, "emitter", emitter)
    monkeypatch.setattr(xray_recorder, "streaming_threshold", xray_recorder.streaming_threshold)
    Tracer._reset_config()  # the tracer's settings are shared by every Tracer() made
    global_sdk_config.set_sdk_enabled(True)
    yield emitter
    Tracer._reset_config()
    global_sdk_config.set_sdk_enabled(enabled)


@pytest.fixture
def spy() -> AnnotationSpy:
    return AnnotationSpy()


def sns_event(load_event: LoadEvent, *messages: Any, fixture: str = "sns-fanout") -> dict:
    """The fixture's SNS invocation, one record per message (SNS sends one)."""
    event = load_event(PATTERN, fixture)
    (template,) = event["Records"]
    event["Records"] = [
        {**template, "Sns": {**template["Sns"], "Message": message}} for message in messages
    ]
    return event


def load(
    load_function: LoadFunction, module: str, spy: AnnotationSpy | None, monkeypatch: Any
) -> ModuleType:
    handler = load_function(PATTERN, module)
    if spy is not None:
        monkeypatch.setattr(handler.tracer, "put_annotation", spy)
    return handler


# --- dynamo flow ---------------------------------------------------------------------------


def test_dynamo_flow_counts_each_path(
    table: Any, load_function: LoadFunction, load_event: LoadEvent, spy: AnnotationSpy, monkeypatch
):
    flow = load(load_function, "dynamo_flow", spy, monkeypatch)
    monkeypatch.setattr(flow, "clock", lambda: NOW_S)
    context = FakeLambdaContext()
    for path in ("/shop/basket", "/shop/basket", "/shop/checkout"):
        flow.handler(sns_event(load_event, path), context)

    basket = table.get_item(Key={"path": "/shop/basket"})["Item"]
    assert basket["hits"] == 2
    assert basket["expiresAt"] == int(NOW_S) + COUNTER_TTL_S
    assert table.get_item(Key={"path": "/shop/checkout"})["Item"]["hits"] == 1
    assert spy.keys == {"flow": {"dynamo"}, "path": {"/shop/basket", "/shop/checkout"}}


def test_dynamo_flow_answers_with_the_new_total(
    table: Any, load_function: LoadFunction, load_event: LoadEvent, monkeypatch
):
    flow = load(load_function, "dynamo_flow", None, monkeypatch)
    event = load_event(PATTERN, "sns-fanout")
    assert flow.handler(event, FakeLambdaContext()) == {"hits": {"/shop/basket": 1}}
    assert flow.handler(event, FakeLambdaContext()) == {"hits": {"/shop/basket": 2}}


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": []},
        {"Records": "nope"},
        {"Records": [{"EventSource": "aws:sns"}]},
        {"Records": [{"Sns": {"Message": '{"path": "/shop"}'}}]},
        {"Records": [{"Sns": {"Message": 42}}]},
        {"Records": [{"Sns": {"Message": "/bad\npath"}}]},
        {"Records": [{"Sns": {"Message": "/" + "a" * 1024}}]},
    ],
    ids=[
        "no-records",
        "empty",
        "records-not-a-list",
        "no-sns",
        "json-not-a-path",
        "number",
        "control-char",
        "too-long",
    ],
)
def test_dynamo_flow_raises_on_a_malformed_invocation(
    table: Any, load_function: LoadFunction, event: dict, monkeypatch
):
    flow = load(load_function, "dynamo_flow", None, monkeypatch)
    hops = load_function(PATTERN, "hops")
    with pytest.raises(hops.InvalidMessage):
        flow.handler(event, FakeLambdaContext())
    assert table.scan()["Items"] == []


# --- sqs flow and consumer -----------------------------------------------------------------


def receive_all(url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = (
        boto3.client("sqs")
        .receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["AWSTraceHeader"],
        )
        .get("Messages", [])
    )
    return messages


def test_sqs_flow_queues_exactly_one_message_per_path(
    queue_url: str,
    load_function: LoadFunction,
    load_event: LoadEvent,
    spy: AnnotationSpy,
    monkeypatch,
):
    flow = load(load_function, "sqs_flow", spy, monkeypatch)
    result = flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())

    (message,) = receive_all(queue_url)
    assert json.loads(message["Body"]) == {"v": 1, "path": "/shop/basket"}
    assert result == {"messageIds": [message["MessageId"]]}
    assert "AWSTraceHeader" not in message.get("Attributes", {})  # no trace outside Lambda
    assert spy.keys == {"flow": {"sqs"}, "path": {"/shop/basket"}}


def test_sqs_flow_forwards_lambdas_trace_header_when_the_tracer_is_off(
    queue_url: str, load_function: LoadFunction, load_event: LoadEvent, monkeypatch
):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA_HEADER)
    flow = load(load_function, "sqs_flow", None, monkeypatch)
    flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())
    (message,) = receive_all(queue_url)
    assert message["Attributes"]["AWSTraceHeader"] == LAMBDA_HEADER


def test_sqs_flow_queues_nothing_for_a_malformed_message(
    queue_url: str, load_function: LoadFunction, load_event: LoadEvent, monkeypatch
):
    flow = load(load_function, "sqs_flow", None, monkeypatch)
    hops = load_function(PATTERN, "hops")
    with pytest.raises(hops.InvalidMessage):
        flow.handler(sns_event(load_event, "not-a-path"), FakeLambdaContext())
    assert receive_all(queue_url) == []


def test_sqs_consumer_reads_each_hop_message(
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    spy: AnnotationSpy,
    monkeypatch,
):
    consumer = load(load_function, "sqs_consumer", spy, monkeypatch)
    result = consumer.handler(load_event(PATTERN, "sqs-hops"), FakeLambdaContext())
    assert result == {"batchItemFailures": []}
    assert spy.keys == {"flow": {"sqs"}, "path": {"/shop/basket", "/shop/checkout"}}


def test_sqs_consumer_reports_poison_messages_as_batch_item_failures(
    aws: None, load_function: LoadFunction, load_event: LoadEvent, monkeypatch
):
    consumer = load(load_function, "sqs_consumer", None, monkeypatch)
    event = load_event(PATTERN, "sqs-hops")
    good = event["Records"][0]
    bodies = {
        "not-json": "{nope",
        "wrong-version": json.dumps({"v": 2, "path": "/shop"}),
        "not-an-object": json.dumps(["/shop"]),
        "no-path": json.dumps({"v": 1}),
        "path-not-a-path": json.dumps({"v": 1, "path": "shop"}),
    }
    event["Records"] = [good] + [
        {**good, "messageId": message_id, "body": body} for message_id, body in bodies.items()
    ]
    result = consumer.handler(event, FakeLambdaContext())
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(bodies)


@pytest.mark.parametrize("event", [{"Records": []}, {}], ids=["empty", "no-records"])
def test_sqs_consumer_refuses_a_batch_without_records(
    aws: None, load_function: LoadFunction, event: dict, monkeypatch
):
    """SQS never sends one; Powertools' typed error says what arrived (no record is lost)."""
    consumer = load(load_function, "sqs_consumer", None, monkeypatch)
    with pytest.raises(UnexpectedBatchTypeError):
        consumer.handler(event, FakeLambdaContext())


# --- http flow -----------------------------------------------------------------------------


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType, int], StubAdapter]:
    def mount(flow: ModuleType, status: int = 200) -> StubAdapter:
        adapter = StubAdapter(status)
        flow.client.mount("https://", adapter)
        return adapter

    return mount


def test_http_flow_calls_the_target_with_explicit_timeouts(
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    spy: AnnotationSpy,
    stub,
    monkeypatch,
):
    flow = load(load_function, "http_flow", spy, monkeypatch)
    adapter = stub(flow)
    result = flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())

    assert result == {"statuses": {"/shop/basket": 200}}
    ((request, timeout),) = adapter.sent
    assert request.method == "GET"
    assert request.url == f"{TARGET_URL}?path=%2Fshop%2Fbasket"
    assert timeout == (2.0, 5.0)
    assert spy.keys == {"flow": {"http"}, "path": {"/shop/basket"}}


def test_http_flow_injects_faults_at_the_failure_rate(
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    spy: AnnotationSpy,
    stub,
    monkeypatch,
):
    monkeypatch.setenv("FAILURE_RATE", "1")
    flow = load(load_function, "http_flow", spy, monkeypatch)
    hops = load_function(PATTERN, "hops")
    adapter = stub(flow)
    with pytest.raises(hops.InjectedFault):
        flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())
    assert adapter.sent == []
    assert spy.keys == {"flow": {"http"}, "path": {"/shop/basket"}}


def test_http_flow_never_injects_at_rate_zero(
    aws: None, load_function: LoadFunction, load_event: LoadEvent, stub, monkeypatch
):
    flow = load(load_function, "http_flow", None, monkeypatch)
    monkeypatch.setattr(flow, "draw", lambda: 0.0)  # the lowest draw there is
    stub(flow)
    assert flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())["statuses"]


def test_http_flow_raises_on_a_server_error(
    aws: None, load_function: LoadFunction, load_event: LoadEvent, stub, monkeypatch
):
    flow = load(load_function, "http_flow", None, monkeypatch)
    hops = load_function(PATTERN, "hops")
    stub(flow, 503)
    with pytest.raises(hops.DownstreamError, match="503"):
        flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())


def test_http_flow_retries_are_bounded_and_only_for_gets(aws: None, load_function: LoadFunction):
    outbound = load_function(PATTERN, "outbound")
    retry = outbound.session(2).get_adapter(TARGET_URL).max_retries
    assert retry.total == 2
    assert set(retry.allowed_methods) == {"GET"}
    assert set(retry.status_forcelist) == {502, 503, 504}


@pytest.mark.parametrize("value", ["-0.1", "1.5", "often"])
def test_a_failure_rate_outside_zero_to_one_is_refused(
    aws: None, load_function: LoadFunction, value: str
):
    hops = load_function(PATTERN, "hops")
    with pytest.raises(ValueError):
        hops.failure_rate(value)


# --- sns flow and consumer -----------------------------------------------------------------


def test_sns_flow_publishes_the_path_to_the_second_topic(
    second_topic: dict[str, str],
    load_function: LoadFunction,
    load_event: LoadEvent,
    spy: AnnotationSpy,
    monkeypatch,
):
    flow = load(load_function, "sns_flow", spy, monkeypatch)
    result = flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())
    (message,) = receive_all(second_topic["observer"])
    assert message["Body"] == "/shop/basket"
    assert len(result["messageIds"]) == 1
    assert spy.keys == {"flow": {"sns"}, "path": {"/shop/basket"}}


def test_sns_consumer_reads_the_path(
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    spy: AnnotationSpy,
    monkeypatch,
):
    consumer = load(load_function, "sns_consumer", spy, monkeypatch)
    result = consumer.handler(load_event(PATTERN, "sns-second"), FakeLambdaContext())
    assert result == {"paths": ["/shop/basket"]}
    assert spy.keys == {"flow": {"sns"}, "path": {"/shop/basket"}}


def test_sns_consumer_raises_on_a_malformed_message(
    aws: None, load_function: LoadFunction, load_event: LoadEvent, monkeypatch
):
    consumer = load(load_function, "sns_consumer", None, monkeypatch)
    hops = load_function(PATTERN, "hops")
    with pytest.raises(hops.InvalidMessage):
        consumer.handler(sns_event(load_event, None, fixture="sns-second"), FakeLambdaContext())


# --- traced: what X-Ray receives -----------------------------------------------------------


def assert_flow_annotated(emitter: CapturingEmitter, flow: str, path: str) -> dict[str, Any]:
    """The handler subsegment: annotated, with the event as metadata, in this trace."""
    handler = emitter.one("## handler")
    assert handler["trace_id"] == TRACE_ID
    assert handler["annotations"]["flow"] == flow
    assert handler["annotations"]["path"] == path
    assert "event" in json.dumps(handler.get("metadata", {}))
    assert all(s["trace_id"] == TRACE_ID for s in emitter.subsegments)
    return handler


def aws_call(emitter: CapturingEmitter, service: str, operation: str) -> dict[str, Any]:
    (call,) = [
        s
        for s in emitter.named(service)
        if s.get("namespace") == "aws" and s["aws"].get("operation") == operation
    ]
    return call


def test_traced_dynamo_flow_emits_its_subsegments_and_sends_the_header(
    xray: CapturingEmitter,
    table: Any,
    load_function: LoadFunction,
    load_event: LoadEvent,
    monkeypatch,
):
    flow = load(load_function, "dynamo_flow", None, monkeypatch)
    assert flow.tracer.disabled is False
    headers = trace_headers_sent(flow.table.meta.client)
    flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())

    handler = assert_flow_annotated(xray, "dynamo", "/shop/basket")
    assert handler["parent_id"] == LAMBDA_PARENT
    count = xray.one("## dynamo_flow.count")
    update = aws_call(xray, "dynamodb", "UpdateItem")
    assert update["aws"]["table_name"] == TABLE
    assert update["parent_id"] == count["id"]
    (header,) = headers
    assert header_fields(header)["Root"] == TRACE_ID
    assert header_fields(header)["Parent"] == update["id"]


def test_traced_sqs_flow_sets_the_aws_trace_header_of_the_active_segment(
    xray: CapturingEmitter,
    queue_url: str,
    load_function: LoadFunction,
    load_event: LoadEvent,
    monkeypatch,
):
    flow = load(load_function, "sqs_flow", None, monkeypatch)
    flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())

    assert_flow_annotated(xray, "sqs", "/shop/basket")
    forward = xray.one("## sqs_flow.forward")
    send = aws_call(xray, "sqs", "SendMessage")
    assert send["parent_id"] == forward["id"]
    (message,) = receive_all(queue_url)
    fields = header_fields(message["Attributes"]["AWSTraceHeader"])
    assert fields == {"Root": TRACE_ID, "Parent": forward["id"], "Sampled": "1"}


def test_traced_http_flow_records_the_remote_call_and_sends_the_header(
    xray: CapturingEmitter,
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    stub,
    monkeypatch,
):
    flow = load(load_function, "http_flow", None, monkeypatch)
    adapter = stub(flow)
    flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())

    assert_flow_annotated(xray, "http", "/shop/basket")
    remote = xray.one("status.example.com")
    assert remote["namespace"] == "remote"
    assert remote["http"]["request"]["method"] == "GET"
    assert remote["http"]["response"]["status"] == 200
    assert remote["parent_id"] == xray.one("## http_flow.call_target")["id"]
    ((request, _),) = adapter.sent
    fields = header_fields(request.headers["X-Amzn-Trace-Id"])
    assert (fields["Root"], fields["Parent"]) == (TRACE_ID, remote["id"])


def test_traced_http_flow_records_an_injected_fault(
    xray: CapturingEmitter,
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    stub,
    monkeypatch,
):
    monkeypatch.setenv("FAILURE_RATE", "1")
    flow = load(load_function, "http_flow", None, monkeypatch)
    hops = load_function(PATTERN, "hops")
    stub(flow)
    with pytest.raises(hops.InjectedFault):
        flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())

    handler = assert_flow_annotated(xray, "http", "/shop/basket")
    call = xray.one("## http_flow.call_target")
    assert call["fault"] is True and handler["fault"] is True
    (exception,) = call["cause"]["exceptions"]
    assert exception["type"] == "InjectedFault"
    assert handler["cause"] == exception["id"]  # X-Ray's reference to the same exception
    assert xray.named("status.example.com") == []


def test_traced_sns_flow_publishes_with_the_trace_header(
    xray: CapturingEmitter,
    second_topic: dict[str, str],
    load_function: LoadFunction,
    load_event: LoadEvent,
    monkeypatch,
):
    flow = load(load_function, "sns_flow", None, monkeypatch)
    headers = trace_headers_sent(flow.sns)
    flow.handler(load_event(PATTERN, "sns-fanout"), FakeLambdaContext())

    assert_flow_annotated(xray, "sns", "/shop/basket")
    publish = aws_call(xray, "sns", "Publish")
    assert publish["parent_id"] == xray.one("## sns_flow.republish")["id"]
    (header,) = headers
    assert header_fields(header)["Root"] == TRACE_ID
    assert header_fields(header)["Parent"] == publish["id"]


def test_traced_sqs_consumer_annotates_each_record(
    xray: CapturingEmitter,
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    monkeypatch,
):
    consumer = load(load_function, "sqs_consumer", None, monkeypatch)
    consumer.handler(load_event(PATTERN, "sqs-hops"), FakeLambdaContext())

    handler = xray.one("## handler")
    assert handler["annotations"]["flow"] == "sqs"
    records = xray.named("## sqs_consumer.record_handler")
    assert sorted(r["annotations"]["path"] for r in records) == ["/shop/basket", "/shop/checkout"]
    assert {r["annotations"]["flow"] for r in records} == {"sqs"}
    assert {r["parent_id"] for r in records} == {handler["id"]}


def test_traced_sns_consumer_annotates_the_flow(
    xray: CapturingEmitter,
    aws: None,
    load_function: LoadFunction,
    load_event: LoadEvent,
    monkeypatch,
):
    consumer = load(load_function, "sns_consumer", None, monkeypatch)
    consumer.handler(load_event(PATTERN, "sns-second"), FakeLambdaContext())
    assert_flow_annotated(xray, "sns", "/shop/basket")
