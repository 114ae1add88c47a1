"""queue-redrive: `start_redrive` and its guards against moto, and the state machine in moto's
interpreter.

moto implements neither `StartMessageMoveTask` nor `ListMessageMoveTasks`. The empty-DLQ
branch runs against moto alone; the move path runs in the interpreter with its SQS client
answered by botocore Stubber (each response is what SQS documents), and a copy of that test
without the stub is kept as an expected failure until moto adds the two APIs. `start_redrive`
runs against `MoveTasks`, a model of the two APIs plugged into moto's SQS, so the handler and
the interpreter share one set of move tasks.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.sqs.exceptions import InvalidParameterValue
from moto.sqs.responses import SQSResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
)

from components.queue_redrive.definition import definition
from tests import workflows

PATTERN = "queue-redrive"
SOURCE = "serverless-patterns.test"
ACCOUNT = "123456789012"

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]

pytestmark = pytest.mark.disable_socket


class Queues:
    """The `orders` queue and its DLQ in moto, an operators' inbox for the outcome events."""

    def __init__(self) -> None:
        sqs = boto3.client("sqs")
        self.dlq_url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        self.dlq_arn = self.arn(self.dlq_url)
        self.source_url = sqs.create_queue(
            QueueName="orders",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": 5}
                )
            },
        )["QueueUrl"]
        self.source_arn = self.arn(self.source_url)
        self.inbox = sqs.create_queue(QueueName="operators")["QueueUrl"]
        events = boto3.client("events")
        events.put_rule(Name="outcomes", EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="outcomes", Targets=[{"Id": "1", "Arn": self.arn(self.inbox)}])

    @staticmethod
    def arn(url: str) -> str:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )
        arn: str = attributes["Attributes"]["QueueArn"]
        return arn

    def input(self, rate: int = 10) -> dict[str, Any]:
        return {
            "queue": "orders",
            "dlqArn": self.dlq_arn,
            "dlqUrl": self.dlq_url,
            "destinationArn": self.source_arn,
            "rate": rate,
            "pollSeconds": 0,
        }

    def outcomes(self) -> list[dict[str, Any]]:
        messages = (
            boto3.client("sqs")
            .receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10)
            .get("Messages", [])
        )
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def queues() -> Iterator[Queues]:
    with mock_aws(config=workflows.INTERPRETER):
        yield Queues()


def machine(max_polls: int = 5) -> str:
    return workflows.create_machine(
        definition(max_polls=max_polls, timeout_s=600, source=SOURCE), "redrive"
    )


@pytest.fixture
def sqs_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The interpreter's SDK tasks get one stubbed SQS client; other services stay on moto."""
    client = boto3.client("sqs")
    stubber = Stubber(client)
    real = state_task_service_aws_sdk.boto_client_for

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return client if service == "sqs" else real(region, service, state_credentials)

    monkeypatch.setattr(state_task_service_aws_sdk, "boto_client_for", client_for)
    with stubber:
        yield stubber


def depth(stub: Stubber, queues: Queues, messages: int) -> None:
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": str(messages)}},
        {"QueueUrl": queues.dlq_url, "AttributeNames": ["ApproximateNumberOfMessages"]},
    )


def tasks(stub: Stubber, queues: Queues, *results: dict[str, Any]) -> None:
    stub.add_response(
        "list_message_move_tasks",
        {"Results": list(results)},
        {"SourceArn": queues.dlq_arn, "MaxResults": 1},
    )


def task(status: str, moved: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "TaskHandle": "eyJ0YXNrSWQiOiJ0YXNrLTEifQ==",
        "Status": status,
        "SourceArn": "arn:aws:sqs:eu-west-1:123456789012:orders-dlq",
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": 3,
        "StartedTimestamp": 1767262500000,
        **extra,
    }


# The state machine ----------------------------------------------------------------------------


def test_an_empty_dlq_has_nothing_to_redrive(queues):
    result = workflows.run(machine(), "empty", queues.input())
    assert result["status"] == "SUCCEEDED"
    assert workflows.entered(result["executionArn"])[-1] == "NothingToRedrive"
    assert queues.outcomes() == []


def test_a_move_runs_until_completed_and_is_announced(queues, sqs_stub):
    depth(sqs_stub, queues, 3)
    tasks(sqs_stub, queues)  # no task was ever started for this DLQ
    sqs_stub.add_response(
        "start_message_move_task",
        {"TaskHandle": "eyJ0YXNrSWQiOiJ0YXNrLTEifQ=="},
        {
            "SourceArn": queues.dlq_arn,
            "DestinationArn": queues.source_arn,
            "MaxNumberOfMessagesPerSecond": 25,
        },
    )
    tasks(sqs_stub, queues, task("RUNNING", moved=1))
    tasks(sqs_stub, queues, task("COMPLETED", moved=3))
    result = workflows.run(machine(), "move", queues.input(rate=25))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    sqs_stub.assert_no_pending_responses()
    states = workflows.entered(result["executionArn"])
    assert states.count("Poll") == 2 and states[-2:] == ["Announce", "Redriven"]
    (event,) = queues.outcomes()
    assert event["detail-type"] == "RedriveCompleted"
    assert event["detail"]["queue"] == "orders"
    assert event["detail"]["moved"] == 3
    assert event["detail"]["destinationArn"] == queues.source_arn
    assert event["detail"]["startedAt"] <= event["detail"]["finishedAt"]


def test_one_active_move_per_queue(queues, sqs_stub):
    depth(sqs_stub, queues, 7)
    tasks(sqs_stub, queues, task("RUNNING", moved=2))
    result = workflows.run(machine(), "second", queues.input())
    assert result["status"] == "SUCCEEDED"
    assert workflows.entered(result["executionArn"])[-1] == "AlreadyRunning"
    sqs_stub.assert_no_pending_responses()  # StartMessageMoveTask was never called


def test_a_previous_finished_task_does_not_block_a_new_one(queues, sqs_stub):
    depth(sqs_stub, queues, 1)
    tasks(sqs_stub, queues, task("COMPLETED", moved=4))
    sqs_stub.add_response("start_message_move_task", {"TaskHandle": "h2"})
    tasks(sqs_stub, queues, task("COMPLETED", moved=1))
    result = workflows.run(machine(), "again", queues.input())
    assert result["status"] == "SUCCEEDED", result.get("cause")


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_a_failed_or_cancelled_move_is_announced_and_fails(queues, sqs_stub, status):
    depth(sqs_stub, queues, 3)
    tasks(sqs_stub, queues)
    sqs_stub.add_response("start_message_move_task", {"TaskHandle": "h"})
    tasks(sqs_stub, queues, task(status, moved=1, FailureReason="AccessDenied"))
    result = workflows.run(machine(), f"broken-{status.lower()}", queues.input())
    assert (result["status"], result["error"]) == ("FAILED", "RedriveFailed")
    (event,) = queues.outcomes()
    assert event["detail-type"] == "RedriveFailed"
    assert event["detail"]["state"]["progress"]["first"]["task"]["Status"] == status


def test_the_watch_ends_after_max_polls(queues, sqs_stub):
    depth(sqs_stub, queues, 3)
    tasks(sqs_stub, queues)
    sqs_stub.add_response("start_message_move_task", {"TaskHandle": "h"})
    for _ in range(2):
        tasks(sqs_stub, queues, task("RUNNING"))
    result = workflows.run(machine(max_polls=2), "slow", queues.input())
    assert (result["status"], result["error"]) == ("FAILED", "RedriveStillRunning")
    assert workflows.entered(result["executionArn"]).count("Poll") == 2


def test_sqs_errors_from_the_move_api_fail_the_redrive_with_an_event(queues, sqs_stub):
    depth(sqs_stub, queues, 3)
    tasks(sqs_stub, queues)
    sqs_stub.add_client_error(
        "start_message_move_task",
        service_error_code="UnsupportedOperation",
        service_message="Source queue must be configured as a Dead Letter Queue.",
        response_meta={"RequestId": "2c9f0e5e-8b1a-4c0e-9d6f-1a2b3c4d5e6f"},
    )
    result = workflows.run(machine(), "not-a-dlq", queues.input())
    assert (result["status"], result["error"]) == ("FAILED", "RedriveFailed")
    (event,) = queues.outcomes()
    assert "error" in event["detail"]["state"]


@pytest.mark.xfail(
    reason="moto implements neither StartMessageMoveTask nor ListMessageMoveTasks; "
    "this turns green when it does",
    strict=False,
)
def test_the_move_path_against_moto_alone(queues):
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody='{"order": 1}')
    result = workflows.run(machine(), "real-move", queues.input())
    assert result["status"] == "SUCCEEDED", result.get("cause")
    moved = sqs.receive_message(QueueUrl=queues.source_url).get("Messages", [])
    assert [m["Body"] for m in moved] == ['{"order": 1}']


# start_redrive --------------------------------------------------------------------------------


class MoveTasks:
    """SQS message move tasks, which moto lacks, modelled on how SQS answers: `Results` newest
    first, `TaskHandle` only while RUNNING, `MaxNumberOfMessagesPerSecond` only when the start
    set one, and a start on a DLQ whose task is still active refused with SQS's
    `InvalidParameterValue` ("There is already a task running..."). Tasks never finish on their
    own; `finish` ends one. No message is moved."""

    ACTIVE = ("RUNNING", "CANCELLING")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tasks: dict[str, list[dict[str, Any]]] = {}
        model = self
        monkeypatch.setattr(
            SQSResponse, "start_message_move_task", lambda r: model.start(r), raising=False
        )
        monkeypatch.setattr(
            SQSResponse, "list_message_move_tasks", lambda r: model.list(r), raising=False
        )

    def start(self, response: SQSResponse) -> ActionResult:
        source = response._get_param("SourceArn")
        history = self.tasks.setdefault(source, [])
        if history and history[0]["Status"] in self.ACTIVE:
            raise InvalidParameterValue(
                "There is already a task running. Only one active task is allowed for a "
                "source queue arn at a given time."
            )
        dlq = response.sqs_backend.get_queue(source.rsplit(":", 1)[-1])
        task: dict[str, Any] = {
            "TaskHandle": base64.b64encode(f"{source}#{len(history) + 1}".encode()).decode(),
            "Status": "RUNNING",
            "SourceArn": source,
            "ApproximateNumberOfMessagesMoved": 0,
            "ApproximateNumberOfMessagesToMove": dlq.approximate_number_of_messages,
            "StartedTimestamp": 1767262505000,
        }
        for name in ("DestinationArn", "MaxNumberOfMessagesPerSecond"):
            if response._get_param(name) is not None:
                task[name] = response._get_param(name)
        history.insert(0, task)
        return ActionResult({"TaskHandle": task["TaskHandle"]})

    def list(self, response: SQSResponse) -> ActionResult:
        history = self.tasks.get(response._get_param("SourceArn"), [])
        results = [
            {k: v for k, v in t.items() if k != "TaskHandle" or t["Status"] == "RUNNING"}
            for t in history[: response._get_param("MaxResults") or 1]
        ]
        return ActionResult({"Results": results})

    def finish(self, source: str) -> None:
        task = self.tasks[source][0]
        task["Status"] = "COMPLETED"
        task["ApproximateNumberOfMessagesMoved"] = task["ApproximateNumberOfMessagesToMove"]


@pytest.fixture
def move_tasks(queues: Queues, monkeypatch: pytest.MonkeyPatch) -> MoveTasks:
    return MoveTasks(monkeypatch)


@pytest.fixture
def start_redrive(
    move_tasks: MoveTasks,
    queues: Queues,
    load_function: LoadFunction,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[ModuleType, str]]:
    arn = machine()
    allowed = {
        "orders": {
            "dlqArn": queues.dlq_arn,
            "dlqUrl": queues.dlq_url,
            "destinationArn": queues.source_arn,
        }
    }
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("REDRIVE_TARGETS", json.dumps(allowed))
    monkeypatch.setenv("DEFAULT_RATE", "10")
    monkeypatch.setenv("POLL_SECONDS", "0")
    module = load_function(PATTERN, "start_redrive")
    clock = iter(
        [datetime(2026, 1, 1, 10, 15, 5, tzinfo=UTC), datetime(2026, 1, 1, 10, 15, 50, tzinfo=UTC)]
        + [datetime(2026, 1, 1, 10, 16, 1, tzinfo=UTC)] * 5
    )
    monkeypatch.setattr(module, "now", lambda: next(clock))
    yield module, arn


def body(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def test_start_redrive_starts_an_execution_for_a_registered_dlq(
    start_redrive, load_event, lambda_context
):
    module, _ = start_redrive
    response = module.handler(load_event(PATTERN, "api-post-redrive"), lambda_context)
    assert response["statusCode"] == 202
    started = body(response)
    assert started["executionArn"].endswith(":redrive:orders-20260101T1015Z")
    assert started["rate"] == 25
    execution = workflows.wait(started["executionArn"])
    assert json.loads(execution["input"])["rate"] == 25
    assert execution["status"] == "SUCCEEDED"  # the DLQ is empty


def test_a_duplicate_request_within_the_minute_returns_the_existing_execution(
    start_redrive, load_event, lambda_context
):
    module, arn = start_redrive
    first = body(module.handler(load_event(PATTERN, "api-post-redrive"), lambda_context))
    again = module.handler(load_event(PATTERN, "api-post-redrive"), lambda_context)
    assert again["statusCode"] == 202
    assert body(again)["executionArn"] == first["executionArn"]
    later = body(module.handler(load_event(PATTERN, "api-post-redrive"), lambda_context))
    assert later["executionArn"].endswith("orders-20260101T1016Z")
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 2


@pytest.mark.parametrize(
    ("queue", "request_body", "status", "message"),
    [
        ("payments", '{"rate": 5}', 404, "no redrivable queue named 'payments'"),
        ("orders", '{"rate": 501}', 400, "from 1 to 500"),
        ("orders", '{"rate": 0}', 400, "from 1 to 500"),
        ("orders", '{"rate": "fast"}', 400, "whole number"),
        ("orders", '{"rate": true}', 400, "whole number"),
        ("orders", '{"destination": "x"}', 400, "may only hold"),
        ("orders", "[1]", 400, "may only hold"),
        ("orders", "{nope", 400, "must be a JSON object"),
    ],
)
def test_start_redrive_refuses_unknown_queues_and_bad_rates(
    start_redrive, load_event, lambda_context, queue, request_body, status, message
):
    module, arn = start_redrive
    event = load_event(PATTERN, "api-post-redrive")
    event["pathParameters"] = {"queue": queue}
    event["body"] = request_body
    response = module.handler(event, lambda_context)
    assert response["statusCode"] == status
    assert message in body(response)["message"]
    assert boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []


def test_no_body_uses_the_default_rate(start_redrive, load_event, lambda_context):
    module, _ = start_redrive
    event = load_event(PATTERN, "api-post-redrive")
    event["body"] = None
    assert body(module.handler(event, lambda_context))["rate"] == 10


def request(load_event: LoadEvent, **changes: Any) -> dict[str, Any]:
    return {**load_event(PATTERN, "api-post-redrive"), **changes}


def test_the_move_task_model_refuses_a_second_start_as_sqs_does(queues, move_tasks):
    sqs = boto3.client("sqs")
    sqs.start_message_move_task(SourceArn=queues.dlq_arn, MaxNumberOfMessagesPerSecond=5)
    with pytest.raises(ClientError, match="There is already a task running") as refused:
        sqs.start_message_move_task(SourceArn=queues.dlq_arn)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    (task,) = sqs.list_message_move_tasks(SourceArn=queues.dlq_arn)["Results"]
    assert (task["Status"], task["MaxNumberOfMessagesPerSecond"]) == ("RUNNING", 5)


def test_a_request_while_a_move_runs_is_a_409_with_the_running_moves_rate(
    start_redrive, queues, move_tasks, load_event, lambda_context, monkeypatch
):
    module, arn = start_redrive
    sqs = boto3.client("sqs")
    for number in range(3):
        sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=json.dumps({"order": number}))
    first = module.handler(load_event(PATTERN, "api-post-redrive"), lambda_context)
    assert (first["statusCode"], body(first)["rate"]) == (202, 25)
    watched = workflows.wait(body(first)["executionArn"])
    # Nobody moves the messages here: the watch gives up, the move task carries on.
    assert (watched["status"], watched["error"]) == ("FAILED", "RedriveStillRunning")
    (running,) = move_tasks.tasks[queues.dlq_arn]

    again = module.handler(request(load_event, body='{"rate": 100}'), lambda_context)
    assert again["statusCode"] == 409
    assert body(again) == {
        "message": "a move of the orders DLQ is already running at 25 messages per second; "
        "a new rate applies only to the next move",
        "queue": "orders",
        "status": "RUNNING",
        "rate": 25,
        "taskHandle": running["TaskHandle"],
        "moved": 0,
        "toMove": 3,
    }
    assert len(move_tasks.tasks[queues.dlq_arn]) == 1  # the running move keeps its rate
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 1

    move_tasks.finish(queues.dlq_arn)
    monkeypatch.setattr(module, "now", lambda: datetime(2026, 1, 1, 10, 17, tzinfo=UTC))
    later = module.handler(request(load_event, body='{"rate": 100}'), lambda_context)
    assert (later["statusCode"], body(later)["rate"]) == (202, 100)
    workflows.wait(body(later)["executionArn"])
    assert move_tasks.tasks[queues.dlq_arn][0]["MaxNumberOfMessagesPerSecond"] == 100


def test_another_rate_within_the_minute_is_a_409_with_the_started_rate(
    start_redrive, load_event, lambda_context
):
    module, arn = start_redrive
    first = body(module.handler(load_event(PATTERN, "api-post-redrive"), lambda_context))
    workflows.wait(first["executionArn"])
    again = module.handler(request(load_event, body='{"rate": 100}'), lambda_context)
    assert again["statusCode"] == 409
    assert body(again) == {
        "message": "this minute's redrive of orders was started at 25 messages per second; "
        "ask again in the next minute for another rate",
        "queue": "orders",
        "rate": 25,
        "executionArn": first["executionArn"],
    }
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 1


@pytest.mark.parametrize(
    ("changes", "status", "answer"),
    [
        ({"body": "{not json"}, 400, "the body must be a JSON object"),
        ({"body": "[1]"}, 400, "the body may only hold"),
        ({"body": "bm90IGpzb24=", "isBase64Encoded": True}, 400, "the body must be a JSON object"),
        ({"body": "%%%", "isBase64Encoded": True}, 400, "the body must be a JSON object"),
        ({"pathParameters": None}, 404, "no redrivable queue named None"),
        ({"body": '{"rate": 7}', "isBase64Encoded": True}, 400, "the body must be a JSON object"),
    ],
)
def test_malformed_requests_get_a_4xx_with_a_message(
    start_redrive, load_event, lambda_context, changes, status, answer
):
    module, arn = start_redrive
    response = module.handler(request(load_event, **changes), lambda_context)
    assert response["statusCode"] == status
    assert body(response)["message"].startswith(answer)
    assert boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"body": base64.b64encode(b'{"rate": 7}').decode(), "isBase64Encoded": True},
        {"body": '{"rate": 7}', "headers": None, "multiValueHeaders": None},
        {"body": '{"rate": 7}', "requestContext": None},
    ],
    ids=["base64", "null-headers", "no-request-context"],
)
def test_base64_bodies_and_sparse_events_are_honoured(
    start_redrive, load_event, lambda_context, changes
):
    module, _ = start_redrive
    event = request(load_event, **changes)
    if event.get("requestContext", "") is None:
        del event["requestContext"]
    response = module.handler(event, lambda_context)
    assert (response["statusCode"], body(response)["rate"]) == (202, 7)


def test_an_unknown_queue_is_echoed_bounded(
    start_redrive, load_event, lambda_context, capsys, monkeypatch
):
    module, _ = start_redrive
    monkeypatch.setattr(module.logger.registered_handler, "stream", sys.stdout)
    response = module.handler(
        request(load_event, pathParameters={"queue": "q" * 5000}), lambda_context
    )
    assert response["statusCode"] == 404
    echoed = "q" * 99 + "…"
    assert body(response)["message"] == f"no redrivable queue named {echoed!r}"
    (refused,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert refused["message"] == "Redrive refused" and refused["queue"] == echoed


def test_a_failure_is_a_500_with_one_error_line(
    start_redrive, load_event, lambda_context, capsys, monkeypatch
):
    module, arn = start_redrive
    monkeypatch.setattr(module.logger.registered_handler, "stream", sys.stdout)
    monkeypatch.setattr(module, "STATE_MACHINE_ARN", arn.replace(":redrive", ":deleted"))
    response = module.handler(load_event(PATTERN, "api-post-redrive"), lambda_context)
    assert response["statusCode"] == 500
    assert body(response) == {"message": "the redrive could not be started; try again"}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert (error["message"], error["queue"], error["exception_name"]) == (
        "Redrive failed",
        "orders",
        "StateMachineDoesNotExist",
    )
    assert error["correlation_id"] == "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
