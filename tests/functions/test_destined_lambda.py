"""destined-lambda handlers: `destined` answers or fails (the routing is not in its code),
the bus rules route real destination records to the right handler (moto's EventBridge
pattern matcher, and `put_events` through moto to SQS targets), and the two handlers log
what they are given, refusing records that are not theirs.

moto keeps a function's invoke config but never delivers destination records, so the
record Lambda would send is built from the handler's real outcome (`_destination_event`)
and checked beside the recorded envelopes under tests/events/destined-lambda/."""

from __future__ import annotations

import copy
import json
import traceback
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from components.destined_lambda import PAYLOAD_SOURCE, failure_pattern, success_pattern

PATTERN = "destined-lambda"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:dev-destined-destined"
BUS = "dev-destined-destinations"


@pytest.fixture
def destined(load_function, monkeypatch):
    monkeypatch.setenv("PAYLOAD_SOURCE", PAYLOAD_SOURCE)
    return load_function(PATTERN, "destined")


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    # Through JSON, as the rule's eventPattern is stored.
    return EventPattern(None, json.loads(json.dumps(pattern))).matches_event(event)


def _destination_event(event: dict[str, Any], outcome: Any, *, attempts: int) -> dict[str, Any]:
    """What Lambda sends to the bus after `destined` ran on `event` (an EventBridge event)."""
    failed = isinstance(outcome, BaseException)
    context = {
        "requestId": "11111111-2222-4333-8444-555555555555",
        "functionArn": f"{FUNCTION_ARN}:$LATEST",
        "condition": "RetriesExhausted" if failed else "Success",
        "approximateInvokeCount": attempts,
    }
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if failed:
        response_context["functionError"] = "Unhandled"
        payload: Any = {
            "errorMessage": str(outcome),
            "errorType": type(outcome).__name__,
            "requestId": context["requestId"],
            "stackTrace": traceback.format_tb(outcome.__traceback__),
        }
    else:
        payload = outcome
    kind = "Failure" if failed else "Success"
    return {
        "version": "0",
        "id": "0e0e0e0e-1f1f-4a4a-8b8b-2c2c2c2c2c2c",
        "detail-type": f"Lambda Function Invocation Result - {kind}",
        "source": "lambda",
        "account": "123456789012",
        "time": "2026-12-04T10:05:02Z",
        "region": "eu-west-1",
        "resources": [f"{FUNCTION_ARN}:$LATEST"],
        "detail": {
            "version": "1.0",
            "timestamp": "2026-12-04T10:05:02.401Z",
            "requestContext": context,
            "requestPayload": event,
            "responseContext": response_context,
            "responsePayload": payload,
        },
    }


# destined ---------------------------------------------------------------------------------


def test_a_succeed_request_returns_the_payload_the_success_rule_matches(
    destined, load_event, lambda_context
):
    event = load_event(PATTERN, "sns-succeed")
    result = destined.handler(event, lambda_context)
    assert result["source"] == PAYLOAD_SOURCE
    assert result["action"] == "message"
    assert result["message"]
    assert result["requestId"] == "5f0c1e9a-8a4e-4f83-b8a1-2f0cbb7d1a10"
    record = _destination_event(event, result, attempts=1)
    assert _matches(success_pattern(FUNCTION_ARN), record)
    assert not _matches(failure_pattern(FUNCTION_ARN), record)


def test_a_fail_request_raises_and_its_record_matches_the_failure_rule(
    destined, load_event, lambda_context
):
    event = load_event(PATTERN, "sns-fail")
    with pytest.raises(Exception) as raised:
        destined.handler(event, lambda_context)
    assert type(raised.value).__name__ == "DestinedFailure"
    assert "a3b4c5d6-1e2f-4a5b-8c9d-0e1f2a3b4c5d" in str(raised.value)
    record = _destination_event(event, raised.value, attempts=3)
    assert record["detail"]["responsePayload"]["errorType"] == "DestinedFailure"
    assert _matches(failure_pattern(FUNCTION_ARN), record)
    assert not _matches(success_pattern(FUNCTION_ARN), record)


def _sns_with_message(load_event, message: Any) -> dict[str, Any]:
    event = load_event(PATTERN, "sns-succeed")
    event["Records"][0]["Sns"]["Message"] = message
    return event


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: {}, "expected one SNS record, got no"),
        (lambda e: {"Records": []}, "expected one SNS record, got 0"),
        (lambda e: {"Records": e["Records"] * 2}, "expected one SNS record, got 2"),
        (lambda e: {"Records": [{"EventSource": "aws:sns"}]}, "no Sns.Message string"),
        (lambda e: {"Records": ["not a record"]}, "no Sns.Message string"),
    ],
)
def test_malformed_sns_events_raise_a_typed_error(
    destined, load_event, lambda_context, mutate, message
):
    event = mutate(load_event(PATTERN, "sns-succeed"))
    with pytest.raises(Exception, match=message) as raised:
        destined.handler(event, lambda_context)
    assert type(raised.value).__name__ == "InvalidRequestError"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("please succeed", "the message is not JSON"),
        ('["succeed"]', "must be a JSON object"),
        ("{}", r"mode must be one of fail, succeed \(got None\)"),
        ('{"mode": "explode"}', r"mode must be one of fail, succeed \(got 'explode'\)"),
        ('{"mode": 1}', r"got 1\)"),
        (None, "no Sns.Message string"),
    ],
)
def test_a_message_outside_the_contract_raises_a_typed_error(
    destined, load_event, lambda_context, body, message
):
    with pytest.raises(Exception, match=message) as raised:
        destined.handler(_sns_with_message(load_event, body), lambda_context)
    assert type(raised.value).__name__ == "InvalidRequestError"
    # Its failure record still reaches on_failure: nothing is dropped on the floor.
    record = _destination_event(_sns_with_message(load_event, body), raised.value, attempts=3)
    assert _matches(failure_pattern(FUNCTION_ARN), record)


# the rules against recorded envelopes -------------------------------------------------------


def test_recorded_envelopes_are_routed_by_the_two_rules(load_event):
    success, failure = success_pattern(FUNCTION_ARN), failure_pattern(FUNCTION_ARN)
    routed = {
        name: (
            _matches(success, load_event(PATTERN, name)),
            _matches(failure, load_event(PATTERN, name)),
        )
        for name in ("destination-success", "destination-failure", "destination-expired")
    }
    assert routed == {
        "destination-success": (True, False),
        "destination-failure": (False, True),
        # Expired events never ran, so they carry no errorType; they still reach on_failure.
        "destination-expired": (False, True),
    }


def test_the_success_rule_needs_the_payload_source_and_this_function(load_event):
    success = success_pattern(FUNCTION_ARN)
    other_source = load_event(PATTERN, "destination-success")
    other_source["detail"]["responsePayload"]["source"] = "someone.else"
    no_payload = load_event(PATTERN, "destination-success")
    no_payload["detail"]["responsePayload"] = None
    sibling = load_event(PATTERN, "destination-success")
    sibling["detail"]["requestContext"]["functionArn"] = f"{FUNCTION_ARN}-2:$LATEST"
    version = load_event(PATTERN, "destination-success")
    version["detail"]["requestContext"]["functionArn"] = f"{FUNCTION_ARN}:7"
    assert [_matches(success, e) for e in (other_source, no_payload, sibling, version)] == [
        False,
        False,
        False,
        True,
    ]


def test_the_failure_rule_ignores_other_functions_and_success_records_with_an_error_field(
    load_event,
):
    failure = failure_pattern(FUNCTION_ARN)
    sibling = load_event(PATTERN, "destination-failure")
    sibling["detail"]["requestContext"]["functionArn"] = f"{FUNCTION_ARN}-2:$LATEST"
    # A successful result that happens to hold an errorType is still a success.
    lookalike = load_event(PATTERN, "destination-success")
    lookalike["detail"]["responsePayload"]["errorType"] = "NotAnError"
    assert not _matches(failure, sibling)
    assert not _matches(failure, lookalike)


@mock_aws
def test_put_events_through_moto_delivers_each_record_to_its_rules_queue(load_event):
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    queues = {}
    for name, pattern in (
        ("success", success_pattern(FUNCTION_ARN)),
        ("failure", failure_pattern(FUNCTION_ARN)),
    ):
        url = sqs.create_queue(QueueName=f"{name}-target")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name=name, EventBusName=BUS, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=BUS, Targets=[{"Id": name, "Arn": arn}])
        queues[name] = url

    recorded = {
        n: load_event(PATTERN, n)
        for n in ("destination-success", "destination-failure", "destination-expired")
    }
    entries = [
        {
            "EventBusName": BUS,
            "Source": e["source"],
            "DetailType": e["detail-type"],
            "Resources": e["resources"],
            "Detail": json.dumps(e["detail"]),
        }
        for e in recorded.values()
    ]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0

    def received(url: str) -> list[str]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        return sorted(
            json.loads(m["Body"])["detail"]["requestContext"]["requestId"] for m in messages
        )

    ids = {n: e["detail"]["requestContext"]["requestId"] for n, e in recorded.items()}
    assert received(queues["success"]) == [ids["destination-success"]]
    assert received(queues["failure"]) == sorted(
        [ids["destination-failure"], ids["destination-expired"]]
    )


# on_success / on_failure ----------------------------------------------------------------------


def test_on_success_logs_the_result(load_function, load_event, lambda_context, capsys):
    on_success = load_function(PATTERN, "on_success")
    summary = on_success.handler(load_event(PATTERN, "destination-success"), lambda_context)
    assert summary["requestId"] == "c2a5f0e4-1b7d-4c8e-9f3a-5d6e7f8a9b0c"
    assert summary["response"]["source"] == PAYLOAD_SOURCE
    assert summary["attempts"] == 1
    logged = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"level"' in line
    ]
    assert any(line["message"] == "Destined invocation succeeded" for line in logged)


def test_on_failure_logs_the_error_and_the_request_to_replay(
    load_function, load_event, lambda_context, capsys
):
    on_failure = load_function(PATTERN, "on_failure")
    summary = on_failure.handler(load_event(PATTERN, "destination-failure"), lambda_context)
    assert (summary["condition"], summary["errorType"], summary["attempts"]) == (
        "RetriesExhausted",
        "DestinedFailure",
        3,
    )
    replay = summary["replay"]
    assert replay["topicArn"] == "arn:aws:sns:eu-west-1:123456789012:dev-destined-requests"
    assert json.loads(replay["message"]) == {
        "mode": "fail",
        "requestId": "a3b4c5d6-1e2f-4a5b-8c9d-0e1f2a3b4c5d",
    }
    (line,) = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"level":"ERROR"' in line.replace(" ", "")
    ]
    assert line["replay"] == replay and line["errorType"] == "DestinedFailure"


def test_on_failure_logs_an_expired_event_without_a_response(
    load_function, load_event, lambda_context
):
    on_failure = load_function(PATTERN, "on_failure")
    summary = on_failure.handler(load_event(PATTERN, "destination-expired"), lambda_context)
    assert (summary["condition"], summary["errorType"]) == ("EventAgeExceeded", None)
    assert json.loads(summary["replay"]["message"])["mode"] == "succeed"


@pytest.mark.parametrize(
    ("module", "mutate", "message"),
    [
        ("on_success", lambda e: {"detail-type": "x"}, "no detail object"),
        ("on_success", lambda e: {**e, "detail": {"foo": 1}}, "no requestContext"),
        (
            "on_failure",
            lambda e: {**e, "detail": {"requestContext": {"condition": 5}}},
            "needs condition and requestId",
        ),
        ("on_failure", lambda e: "not an event", "no detail object"),
    ],
)
def test_events_that_are_not_destination_records_raise_a_typed_error(
    load_function, load_event, lambda_context, module, mutate, message
):
    handler = load_function(PATTERN, module)
    event = mutate(load_event(PATTERN, "destination-success"))
    with pytest.raises(Exception, match=message) as raised:
        handler.handler(event, lambda_context)
    assert type(raised.value).__name__ == "MalformedRecordError"


def test_a_record_routed_to_the_wrong_handler_is_refused_not_logged_as_handled(
    load_function, load_event, lambda_context
):
    on_success = load_function(PATTERN, "on_success")
    with pytest.raises(Exception, match="RetriesExhausted record reached on_success"):
        on_success.handler(load_event(PATTERN, "destination-failure"), lambda_context)
    on_failure = load_function(PATTERN, "on_failure")
    with pytest.raises(Exception, match="Success record reached on_failure"):
        on_failure.handler(
            copy.deepcopy(load_event(PATTERN, "destination-success")), lambda_context
        )
