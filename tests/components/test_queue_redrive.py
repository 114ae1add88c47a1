"""QueueRedrive under mocks: the machine role per DLQ, schedules, API, alarms, refusals."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest
from statelint.linter import Linter

from components.core import packaging
from components.core.dead_letter import DeadLetterQueue
from components.core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from components.core.queue import DurableQueue, QueueSpec
from components.core.scope import Scope
from components.core.settings import Settings
from components.queue_redrive import (
    DLQ_ACTIONS,
    QueueRedrive,
    QueueRedriveArgs,
    RedriveTarget,
)
from serverless_wa.asl import check
from tests.helpers import scoped_grants

SM = "aws:sfn/stateMachine:StateMachine"
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


class Owner(pulumi.ComponentResource):
    def __init__(self) -> None:
        super().__init__("serverless-patterns:test:Owner", "app", None, None)


def two_queues(**kwargs):
    """`orders` (a DurableQueue, back to its queue, scheduled) and `payments` (raw queues,
    redriven to a separate queue)."""

    def program():
        app = Scope(Owner(), "app", Settings())
        orders = DurableQueue(app, "orders", QueueSpec(consumer_timeout_s=30))
        payments_dlq = aws.sqs.Queue("payments-dlq", name="payments-dlq")
        payments = aws.sqs.Queue("payments", name="payments")
        replay = aws.sqs.Queue("payments-replay", name="payments-replay")
        QueueRedrive(
            "redrive",
            QueueRedriveArgs(
                queues=(
                    RedriveTarget.of("orders", orders, schedule="cron(0 6 * * ? *)"),
                    RedriveTarget(
                        name="payments", source=payments, dlq=payments_dlq, destination=replay
                    ),
                ),
                **kwargs,
            ),
        )

    return program


def arn(plan, name: str) -> str:
    return plan.one(QUEUE, name).outputs["arn"]


def test_machine_role_moves_only_the_listed_dlqs_to_their_destinations(build):
    plan = build(two_queues())
    orders_dlq, orders = arn(plan, "orders-dlq"), arn(plan, "app-orders")
    payments_dlq, replay = arn(plan, "payments-dlq"), arn(plan, "payments-replay")
    sqs = {(a, r) for a, r in scoped_grants(plan, "workflow-role") if a.startswith("sqs:")}
    assert sqs == {
        *((action, orders_dlq) for action in DLQ_ACTIONS),
        *((action, payments_dlq) for action in DLQ_ACTIONS),
        ("sqs:SendMessage", orders),
        ("sqs:SendMessage", replay),
    }
    # The payments source queue is never written to: its DLQ goes to the replay queue.
    assert not any(r == arn(plan, "payments") for _, r in sqs)
    assert ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/default") in (
        scoped_grants(plan, "workflow-role")
    )


def test_the_definition_is_bounded_and_every_sdk_task_retries_and_catches(build):
    plan = build(two_queues(poll_seconds=20, max_polls=50, state_machine_timeout_s=3600))
    machine = plan.one(SM).inputs
    assert machine["type"] == "STANDARD"
    assert machine["tracingConfiguration"] == {"enabled": True}
    definition = json.loads(machine["definition"])
    assert check(definition) == []
    assert Linter.validate(definition) == []
    assert definition["TimeoutSeconds"] == 3600
    states = definition["States"]
    assert states["TooLong"]["Choices"][0]["NumericGreaterThanEquals"] == 50
    assert states["Count"]["Parameters"]["value.$"] == "States.MathAdd($.polls.value, 1)"
    assert states["Wait"] == {"Type": "Wait", "SecondsPath": "$.pollSeconds", "Next": "Poll"}
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    sdk = [n for n, s in tasks.items() if ":aws-sdk:sqs:" in s["Resource"]]
    assert sorted(sdk) == ["Check", "ListActive", "Poll", "Start"]
    for name in sdk:
        assert tasks[name]["Retry"][0]["BackoffRate"] > 1
        assert tasks[name]["Catch"][0]["Next"] == "AnnounceFailure"
    start = states["Start"]["Parameters"]
    assert start == {
        "SourceArn.$": "$.dlqArn",
        "DestinationArn.$": "$.destinationArn",
        "MaxNumberOfMessagesPerSecond.$": "$.rate",
    }


def test_schedules_start_a_redrive_with_retry_and_a_dlq(build):
    plan = build(two_queues())
    (schedule,) = plan.of_type("aws:scheduler/schedule:Schedule")
    target = schedule.inputs["target"]
    assert schedule.inputs["scheduleExpression"] == "cron(0 6 * * ? *)"
    assert target["arn"] == plan.one(SM).outputs["arn"]
    assert target["retryPolicy"]["maximumRetryAttempts"] >= 1
    assert target["deadLetterConfig"]["arn"] == arn(plan, "orders-redrive-schedule-dlq")
    payload = json.loads(target["input"])
    assert payload == {
        "queue": "orders",
        "dlqArn": arn(plan, "orders-dlq"),
        "dlqUrl": plan.one(QUEUE, "orders-dlq").outputs["url"],
        "destinationArn": arn(plan, "app-orders"),
        "rate": 10,
        "pollSeconds": 30,
    }


def test_the_api_is_iam_authorized_and_start_redrive_knows_only_the_allow_list(build):
    plan = build(two_queues(max_messages_per_second=20))
    method = plan.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["authorization"]) == ("POST", "AWS_IAM")
    assert plan.one("aws:apigateway/resource:Resource", "queue").inputs["pathPart"] == "{queue}"
    function = plan.one("aws:lambda/function:Function", "start-redrive").inputs
    env = function["environment"]["variables"]
    assert json.loads(env["REDRIVE_TARGETS"]) == {
        "orders": {
            "destinationArn": arn(plan, "app-orders"),
            "dlqArn": arn(plan, "orders-dlq"),
            "dlqUrl": plan.one(QUEUE, "orders-dlq").outputs["url"],
        },
        "payments": {
            "destinationArn": arn(plan, "payments-replay"),
            "dlqArn": arn(plan, "payments-dlq"),
            "dlqUrl": plan.one(QUEUE, "payments-dlq").outputs["url"],
        },
    }
    assert env["DEFAULT_RATE"] == "20"
    assert function["timeout"] == 10
    scoped = {
        (a, r) for a, r in scoped_grants(plan, "start-redrive-role") if not a.startswith("logs:")
    }
    machine = plan.one(SM).outputs["arn"]
    assert scoped == {
        ("states:StartExecution", machine),
        ("states:DescribeExecution", machine.replace(":stateMachine:", ":execution:") + ":*"),
        # Only the registered DLQs: a request while one moves is answered with that move.
        ("sqs:ListMessageMoveTasks", arn(plan, "orders-dlq")),
        ("sqs:ListMessageMoveTasks", arn(plan, "payments-dlq")),
    }
    assert plan.one("aws:apigateway/stage:Stage").inputs["xrayTracingEnabled"] is True


def test_one_alarm_per_dlq_to_the_notify_topic(build):
    def program():
        topic = aws.sns.Topic("ops", kms_master_key_id="alias/aws/sns")
        two_queues(notify_topic=topic)()

    plan = build(program)
    topic = plan.one("aws:sns/topic:Topic").outputs["arn"]
    waiting = [a for a in plan.of_type(ALARM) if a.name.endswith("dlq-waiting")]
    assert {a.inputs["dimensions"]["QueueName"] for a in waiting} == {
        plan.one(QUEUE, "orders-dlq").inputs["name"],
        "payments-dlq",
    }
    assert all(a.inputs["alarmActions"] == [topic] for a in waiting)
    assert all(a.inputs["threshold"] == 0 for a in waiting)


def test_without_queues_a_demo_queue_is_registered(build):
    outputs = {}

    def program():
        redrive = QueueRedrive("redrive")
        for key, value in redrive.exports.items():
            pulumi.Output.from_input(value).apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    assert {q.name for q in plan.of_type(QUEUE)} >= {"redrive-orders", "redrive-orders-dlq"}
    assert len(outputs["alarm_arns"]) == 1
    assert outputs["api_url"].endswith("/redrives")
    assert outputs["state_machine_arn"] == plan.one(SM).outputs["arn"]
    component = plan.one("serverless-patterns:patterns:QueueRedrive")
    assert all(r.parent == component.urn for r in plan.registrations if r is not component)


def test_no_api_means_no_function(build):
    plan = build(lambda: QueueRedrive("redrive", QueueRedriveArgs(api=False)))
    assert plan.of_type("aws:lambda/function:Function") == []
    assert plan.of_type("aws:apigateway/restApi:RestApi") == []


def test_a_dlq_fed_by_a_function_async_config_is_refused(build):
    def program():
        app = Scope(Owner(), "app", Settings())
        failures = DeadLetterQueue(app, "failures", description="async failures")
        worker = LambdaFunction(
            app,
            "worker",
            FunctionSpec(
                handler="consumer.handler", async_invoke=AsyncInvoke(on_failure_arn=failures.arn)
            ),
            package=packaging.build("scalable_webhook"),
            service="test",
        )
        with pytest.raises(ValueError, match="source must be the SQS queue whose redrive policy"):
            RedriveTarget(
                name="failures",
                source=worker.invoke_config,  # type: ignore[arg-type]
                dlq=failures.queue,
            )
        with pytest.raises(ValueError, match="dlq must be an SQS queue that is the redrive"):
            RedriveTarget(
                name="failures",
                source=failures.queue,
                dlq=failures,  # type: ignore[arg-type]
            )

    build(program)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_messages_per_second": 501}, "max_messages_per_second must be between 1 and 500"),
        ({"poll_seconds": 0}, "poll_seconds must be between 1 and 3600"),
        ({"max_polls": 0}, "max_polls must be between 1 and 10000"),
        ({"state_machine_timeout_s": 30}, "state_machine_timeout_s must be between 60"),
        ({"poll_seconds": 60, "max_polls": 120}, "must be below state_machine_timeout_s"),
        ({"event_bus_name": ""}, "event_bus_name must be a bus name or ARN"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QueueRedriveArgs(**kwargs)


def test_target_names_schedules_and_uniqueness_are_checked(build):
    def program():
        source, dlq = aws.sqs.Queue("s"), aws.sqs.Queue("d")
        with pytest.raises(ValueError, match="name must be 1-40 lower-case"):
            RedriveTarget(name="Orders!", source=source, dlq=dlq)
        with pytest.raises(ValueError, match="singular unit for 1"):
            RedriveTarget(name="orders", source=source, dlq=dlq, schedule="rate(1 hours)")
        target = RedriveTarget(name="orders", source=source, dlq=dlq)
        with pytest.raises(ValueError, match=r"queues: names must be unique \(orders\)"):
            QueueRedriveArgs(queues=(target, target))

    build(program)
