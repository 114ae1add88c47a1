"""progress-tracking: handlers against moto, and the workflow run in moto's interpreter.

Executed: the lambda and eventbridge modes (moto runs `lambda:invoke` and `events:putEvents`
for real; an SQS queue behind a rule on the bus captures the progress events in order).
Direct mode is checked as a definition only: moto's `apigateway:invoke` requests a URL of
its own REST shape, and its error path ends the execution with `States.Runtime`
(`FailureEvent.__init__() missing ... 'env'`), which no Catch can take.
`GoneException` comes from a botocore Stubber: moto's `post_to_connection` never raises it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
import requests
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from pydantic import ValidationError

from components.progress_tracking import (
    DEFAULT_STEPS,
    DETAIL_TYPE,
    EVENT_SOURCE,
    ProgressTrackedWorkflowArgs,
    ReportTarget,
    build_definition,
)
from serverless_wa import asl as asl_checker
from tests import workflows

PATTERN = "progress-tracking"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
CONNECTIONS, SESSIONS = "pt-test-connections", "pt-test-sessions"
IDEMPOTENCY = "pt-test-idempotency"
CALLBACK_URL = f"https://abc123defg.execute-api.{REGION}.amazonaws.com/live"
CONNECTION = "CjPZpeSfDoECGrg="
REQUEST = {"items": [{"sku": "tee-m", "quantity": 2}], "amount": 40}
STEP_ARNS = {
    s.name: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pt-{s.key}" for s in DEFAULT_STEPS
}
REPORT_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pt-report"

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]


def delivered() -> dict[str, list[dict[str, Any]]]:
    connections = apigatewaymanagementapi_backends[ACCOUNT][REGION].connections
    out = {}
    for cid, connection in connections.items():
        if connection.data:
            # Posts accumulate as one byte string; each message is one JSON object.
            text = connection.data.decode()
            out[unquote(cid)] = json.loads("[" + text.replace("}{", "},{") + "]")
    return out


def create_registry() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=CONNECTIONS,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byUser",
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=SESSIONS,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
    )
    dynamodb.create_table(
        TableName=IDEMPOTENCY,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    now = int(time.time())
    boto3.resource("dynamodb", region_name=REGION).Table(CONNECTIONS).put_item(
        Item={
            "connectionId": CONNECTION,
            "userId": "u-1",
            "connectedAt": now,
            "expiresAt": now + 3600,
        }
    )


def definition(target: ReportTarget) -> dict[str, Any]:
    args = ProgressTrackedWorkflowArgs()
    return build_definition(
        args.steps, args.percentages(), STEP_ARNS, target, timeout_s=args.state_machine_timeout_s
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONNECTIONS_TABLE", CONNECTIONS)
    monkeypatch.setenv("SESSIONS_TABLE", SESSIONS)
    monkeypatch.setenv("CALLBACK_URL", CALLBACK_URL)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", IDEMPOTENCY)
    with mock_aws(config=workflows.INTERPRETER):
        create_registry()
        yield


@pytest.fixture
def machine_arn(aws, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = workflows.create_machine(
        definition(ReportTarget("lambda", function_arn=REPORT_ARN)), "pt"
    )
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return arn


def start_event(body: dict[str, Any] | str, connection: str = CONNECTION) -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": "startWorkflow",
            "eventType": "MESSAGE",
            "connectionId": connection,
            "stage": "live",
            "apiId": "abc123defg",
        },
        "body": body if isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }


def queue_lambda_results(*results: dict[str, Any]) -> None:
    """moto's docker-free Lambda returns these, in order, to the next invocations."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
        json={"results": [json.dumps(r) for r in results], "region": REGION},
    )
    assert response.status_code == 201


# --- start -------------------------------------------------------------------------------


def test_start_starts_one_execution_per_request_id_and_tells_the_client(
    machine_arn, load_function: LoadFunction, lambda_context
):
    start = load_function(PATTERN, "start")
    body = {"action": "startWorkflow", "requestId": "order-1001", "request": REQUEST}
    assert start.handler(start_event(body), lambda_context) == {"statusCode": 200}
    assert start.handler(start_event(body), lambda_context) == {"statusCode": 200}  # a resend
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine_arn)[
        "executions"
    ]
    assert [e["name"] for e in executions] == ["order-1001"]
    described = boto3.client("stepfunctions").describe_execution(
        executionArn=executions[0]["executionArn"]
    )
    assert json.loads(described["input"]) == {"connectionId": CONNECTION, "request": REQUEST}
    started = {
        "type": "started",
        "requestId": "order-1001",
        "executionArn": executions[0]["executionArn"],
    }
    assert delivered() == {CONNECTION: [started, started]}


def executions(machine_arn: str) -> list[dict[str, Any]]:
    listed = boto3.client("stepfunctions").list_executions(stateMachineArn=machine_arn)
    found: list[dict[str, Any]] = listed["executions"]
    return found


def forget_idempotency_records() -> None:
    """The records expire after an hour; what is left then is the execution itself."""
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=IDEMPOTENCY)["Items"]:
        dynamodb.delete_item(TableName=IDEMPOTENCY, Key={"id": item["id"]})


def log_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"level"')]


CONFLICT = "requestId order-7 already started a workflow for another request; use a new requestId"


@pytest.mark.parametrize("expired", [False, True], ids=["idempotency-record", "execution-input"])
def test_a_reused_request_id_with_another_request_is_a_409_and_the_client_is_told(
    machine_arn, load_function: LoadFunction, lambda_context, expired
):
    start = load_function(PATTERN, "start")
    first = {"action": "startWorkflow", "requestId": "order-7", "request": REQUEST}
    assert start.handler(start_event(first), lambda_context) == {"statusCode": 200}
    if expired:
        forget_idempotency_records()
    other = {**first, "request": {"amount": 1}}
    assert start.handler(start_event(other), lambda_context) == {
        "statusCode": 409,
        "body": json.dumps({"message": CONFLICT}),
    }
    (execution,) = executions(machine_arn)
    assert delivered()[CONNECTION] == [
        {"type": "started", "requestId": "order-7", "executionArn": execution["executionArn"]},
        {"type": "error", "requestId": "order-7", "error": CONFLICT},
    ]


@pytest.mark.parametrize("expired", [False, True], ids=["idempotency-record", "execution-input"])
def test_the_same_request_from_another_connection_gets_the_running_execution(
    machine_arn, load_function: LoadFunction, lambda_context, expired
):
    start = load_function(PATTERN, "start")
    body = {"action": "startWorkflow", "requestId": "order-8", "request": REQUEST}
    start.handler(start_event(body), lambda_context)
    if expired:
        forget_idempotency_records()
    assert start.handler(start_event(body, "OtherConn="), lambda_context) == {"statusCode": 200}
    (execution,) = executions(machine_arn)
    started = {"type": "started", "requestId": "order-8", "executionArn": execution["executionArn"]}
    assert delivered() == {CONNECTION: [started], "OtherConn=": [started]}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("not json", "message"),
        ({"action": "startWorkflow"}, "requestId"),
        ({"action": "startWorkflow", "requestId": "has spaces"}, "requestId"),
    ],
)
def test_start_rejects_an_invalid_message_and_starts_nothing(
    machine_arn, load_function: LoadFunction, lambda_context, body, where
):
    start = load_function(PATTERN, "start")
    response = start.handler(start_event(body), lambda_context)
    assert response["statusCode"] == 400
    (message,) = delivered()[CONNECTION]
    assert message["type"] == "error" and message["error"].startswith(where)
    assert json.loads(response["body"]) == {"message": message["error"]}
    assert executions(machine_arn) == []


@pytest.mark.parametrize(
    "event",
    [
        {"body": "{}"},
        {"requestContext": None, "body": "{}"},
        {"requestContext": {"routeKey": "startWorkflow"}, "body": "{}"},
        {"requestContext": {"connectionId": ""}, "body": "{}"},
    ],
    ids=["no-request-context", "null-request-context", "no-connection-id", "empty-connection-id"],
)
def test_an_event_without_a_connection_is_a_400_with_a_message(
    machine_arn, load_function: LoadFunction, lambda_context, event
):
    start = load_function(PATTERN, "start")
    assert start.handler(event, lambda_context) == {
        "statusCode": 400,
        "body": json.dumps({"message": "the event has no requestContext.connectionId"}),
    }
    assert delivered() == {} and executions(machine_arn) == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"body": None}, "action: Field required"),
        ({"body": "[1, 2]"}, "message: Input should be an object"),
        ({"body": "e30=", "isBase64Encoded": True}, "action: Field required"),
        ({"body": "{}}", "isBase64Encoded": True}, "message: must be a JSON object"),
        ({"body": {"action": "startWorkflow"}}, "message: must be a JSON object"),
    ],
    ids=["null-body", "json-list", "base64", "bad-base64", "body-not-text"],
)
def test_malformed_messages_are_a_400_told_to_the_client(
    machine_arn, load_function: LoadFunction, lambda_context, changes, error
):
    start = load_function(PATTERN, "start")
    event = {**start_event("{}"), **changes}
    assert start.handler(event, lambda_context) == {
        "statusCode": 400,
        "body": json.dumps({"message": error}),
    }
    assert delivered() == {CONNECTION: [{"type": "error", "error": error}]}
    assert executions(machine_arn) == []


PATTERN_ERROR = "requestId: String should match pattern '^[A-Za-z0-9_-]{1,80}$'"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"action": 5, "requestId": "a"}', "action: Input should be a valid string"),
        ('{"action": null}', "action: Input should be a valid string"),
        ('{"requestId": "has spaces"}', "action: Field required"),  # the first field first
        ('{"action": "x", "requestId": 7}', "requestId: Input should be a valid string"),
        ('{"action": "x", "requestId": ""}', PATTERN_ERROR),
        ('{"action": "x", "requestId": "' + "a" * 81 + '"}', PATTERN_ERROR),
        ('{"action": "x", "requestId": "ab\\n"}', PATTERN_ERROR),
        (
            '{"action": "x", "requestId": "ok", "request": null}',
            "request: Input should be an object",
        ),
        (
            '{"action": "x", "requestId": "ok", "request": [1]}',
            "request: Input should be an object",
        ),
        ("null", "message: Input should be an object"),
        ('"text"', "message: Input should be an object"),
        ('{"action": "x", "requestId": "ok", "request": NaN}', "message: Invalid JSON"),
        ('{"action": "x"', "message: Invalid JSON"),
    ],
)
def test_the_start_message_is_checked_field_by_field(
    load_function: LoadFunction, body: str, error: str
) -> None:
    workflow = load_function(PATTERN, "workflow")
    with pytest.raises(workflow.InvalidMessageError) as raised:
        workflow.start_request(body)
    assert str(raised.value).startswith(error)


def test_a_valid_start_message_keeps_its_fields_and_drops_unknown_ones(
    load_function: LoadFunction,
) -> None:
    workflow = load_function(PATTERN, "workflow")
    body = {"action": "go", "requestId": "a" * 80, "request": {"n": [1, 2.5, None]}, "x": 1}
    assert workflow.start_request(json.dumps(body)).message() == {
        "action": "go",
        "requestId": "a" * 80,
        "request": {"n": [1, 2.5, None]},
    }
    assert workflow.start_request('{"action": "go", "requestId": "r"}').request == {}


@pytest.mark.parametrize("sparse", ["base64", "null-headers"])
def test_a_base64_or_sparse_message_starts_the_workflow(
    machine_arn, load_function: LoadFunction, lambda_context, sparse
):
    start = load_function(PATTERN, "start")
    body = {"action": "startWorkflow", "requestId": "order-64", "request": REQUEST}
    event = {**start_event(body), "headers": None, "multiValueHeaders": None}
    if sparse == "base64":
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    assert start.handler(event, lambda_context) == {"statusCode": 200}
    assert [e["name"] for e in executions(machine_arn)] == ["order-64"]


def test_a_failure_is_a_500_logged_once_with_the_request_and_connection(
    machine_arn, load_function: LoadFunction, lambda_context, capsys, monkeypatch
):
    start = load_function(PATTERN, "start")
    monkeypatch.setattr(start, "STATE_MACHINE_ARN", machine_arn.replace(":pt", ":deleted"))
    body = {"action": "startWorkflow", "requestId": "order-9", "request": REQUEST}
    assert start.handler(start_event(body), lambda_context) == {
        "statusCode": 500,
        "body": json.dumps({"message": "the workflow could not be started; try again"}),
    }
    (error,) = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert (error["message"], error["requestId"], error["connectionId"]) == (
        "Start failed",
        "order-9",
        CONNECTION,
    )
    assert error["exception_name"] == "StateMachineDoesNotExist"
    assert error["function_request_id"] == lambda_context.aws_request_id


# --- report ------------------------------------------------------------------------------

REPORT = {
    "connectionId": CONNECTION,
    "executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:pt:order-1",
    "step": "Payment",
    "progress": 50,
    "message": "Payment started",
}


def test_report_posts_the_progress_to_the_client(aws, load_function: LoadFunction, lambda_context):
    report = load_function(PATTERN, "report")
    assert report.handler(dict(REPORT), lambda_context) == {"delivered": True}
    assert delivered() == {
        CONNECTION: [
            {"type": "progress", **{k: v for k, v in REPORT.items() if k != "connectionId"}}
        ]
    }


def test_report_returns_normally_when_the_client_has_gone(
    aws, load_function: LoadFunction, lambda_context, capsys
):
    report = load_function(PATTERN, "report")
    with Stubber(report.sender.client) as stubber:
        stubber.add_client_error(
            "post_to_connection",
            service_error_code="GoneException",
            http_status_code=410,
            expected_params={"ConnectionId": CONNECTION, "Data": ANY},
        )
        assert report.handler(dict(REPORT), lambda_context) == {"delivered": False}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert any(m.get("ClientGone") == [1.0] or m.get("ClientGone") == 1.0 for m in metrics)
    table = boto3.resource("dynamodb", region_name=REGION).Table(CONNECTIONS)
    assert "Item" not in table.get_item(Key={"connectionId": CONNECTION})


def test_report_rejects_a_malformed_payload_and_logs_it_once(
    aws, load_function: LoadFunction, lambda_context, capsys
):
    report = load_function(PATTERN, "report")
    with pytest.raises(ValidationError):
        report.handler({**REPORT, "progress": 140}, lambda_context)
    assert delivered() == {}
    (error,) = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert (error["message"], error["executionArn"], error["connectionId"]) == (
        "Report failed",
        REPORT["executionArn"],
        CONNECTION,
    )
    assert error["exception_name"] == "ValidationError"


# --- example steps -----------------------------------------------------------------------


def test_steps_return_results_or_raise_typed_errors(load_function: LoadFunction, lambda_context):
    steps = load_function(PATTERN, "steps")
    event = {"request": REQUEST, "executionArn": "arn"}
    assert steps.inventory_check(event, lambda_context) == {"reserved": REQUEST["items"]}
    assert steps.payment(event, lambda_context) == {"charged": 40}
    with pytest.raises(steps.OutOfStockError):
        steps.check_inventory({"items": [{"sku": "tee-m", "quantity": 11}]})
    with pytest.raises(steps.InvalidOrderError):
        steps.check_inventory({"items": []})
    with pytest.raises(steps.PaymentDeclinedError):
        steps.charge({"amount": 5000})


@pytest.mark.parametrize(
    ("handler", "request_", "error", "text"),
    [
        (
            "inventory_check",
            {"items": [{"sku": "s" * 5000, "quantity": 11}]},
            "OutOfStockError",
            f"only 10 of {'s' * 99}… in stock",
        ),
        ("inventory_check", {"items": ["tee-m"]}, "InvalidOrderError", "bad item 'tee-m'"),
        ("payment", [1, 2], "InvalidOrderError", "the request must be a JSON object"),
    ],
    ids=["long-sku", "item-not-an-object", "request-not-an-object"],
)
def test_a_failing_step_raises_its_typed_error_bounded_and_logs_it_once(
    load_function: LoadFunction, lambda_context, capsys, handler, request_, error, text
):
    steps = load_function(PATTERN, "steps")
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:pt:order-5"
    with pytest.raises(getattr(steps, error)) as raised:
        getattr(steps, handler)({"request": request_, "executionArn": execution}, lambda_context)
    assert str(raised.value) == text
    (line,) = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert (line["message"], line["step"], line["executionArn"], line["exception_name"]) == (
        "Step failed",
        handler,
        execution,
        error,
    )


# --- the workflow in moto's interpreter --------------------------------------------------


def test_all_three_definitions_pass_the_asl_checks():
    for target in (
        ReportTarget(
            "direct", api_endpoint="abc123defg.execute-api.eu-west-1.amazonaws.com", stage="live"
        ),
        ReportTarget("lambda", function_arn=REPORT_ARN),
        ReportTarget("eventbridge", bus_name="progress", workflow="pt"),
    ):
        assert asl_checker.check(definition(target)) == []


def test_lambda_mode_reports_before_each_step_and_completes(aws):
    arn = workflows.create_machine(
        definition(ReportTarget("lambda", function_arn=REPORT_ARN)), "pt"
    )
    reserved, charged = {"reserved": REQUEST["items"]}, {"charged": 40}
    queue_lambda_results(
        {"delivered": True}, reserved, {"delivered": False}, charged, {"delivered": True}
    )
    execution = workflows.run(arn, "order-1", {"connectionId": CONNECTION, "request": REQUEST})
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["results"] == {
        "inventory_check": {"result": reserved},
        "payment": {"result": charged},
    }
    assert output["connectionId"] == CONNECTION and "error" not in output  # reports left no trace
    assert workflows.entered(execution["executionArn"]) == [
        "Report: Inventory check",
        "Inventory check",
        "Report: Payment",
        "Payment",
        "Report: completed",
        "Done",
    ]


def progress_capture(bus: str) -> str:
    """A rule on `bus` (the component's pattern) -> an SQS queue; returns its URL."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="progress-capture")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="progress",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE], "detail": {"workflow": ["pt"]}}
        ),
    )
    events.put_targets(
        Rule="progress", EventBusName=bus, Targets=[{"Id": "capture", "Arn": queue_arn}]
    )
    return url


def captured(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return out
        out += [json.loads(m["Body"])["detail"] for m in batch]


def test_eventbridge_mode_puts_progress_events_in_order(aws):
    boto3.client("events").create_event_bus(Name="progress")
    url = progress_capture("progress")
    arn = workflows.create_machine(
        definition(ReportTarget("eventbridge", bus_name="progress", workflow="pt")), "pt"
    )
    queue_lambda_results({"reserved": REQUEST["items"]}, {"charged": 40})
    execution = workflows.run(arn, "order-2", {"connectionId": CONNECTION, "request": REQUEST})
    assert execution["status"] == "SUCCEEDED"
    details = captured(url)
    assert [(d["step"], d["progress"]) for d in details] == [
        ("Inventory check", 0),
        ("Payment", 50),
        ("completed", 100),
    ]
    assert {d["connectionId"] for d in details} == {CONNECTION}
    assert {d["executionArn"] for d in details} == {execution["executionArn"]}
    assert {d["workflow"] for d in details} == {"pt"}


def test_a_reporting_failure_never_fails_the_workflow(aws):
    """The bus is gone: every Report state fails, is caught, and the work goes on."""
    arn = workflows.create_machine(
        definition(ReportTarget("eventbridge", bus_name="deleted-bus", workflow="pt")), "pt"
    )
    queue_lambda_results({"reserved": REQUEST["items"]}, {"charged": 40})
    execution = workflows.run(arn, "order-3", {"connectionId": CONNECTION, "request": REQUEST})
    assert execution["status"] == "SUCCEEDED"
    history = boto3.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"]
    )
    failed = [e for e in history["events"] if e["type"] == "TaskFailed"]
    assert len(failed) == 3  # the three reports on the success path
    assert all("deleted-bus" in e["taskFailedEventDetails"]["cause"] for e in failed)
    output = json.loads(execution["output"])
    assert set(output["results"]) == {"inventory_check", "payment"}
    assert "Failed" not in workflows.entered(execution["executionArn"])
