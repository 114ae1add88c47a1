"""The messaging blocks: a traced SNS topic with its subscriptions, EventBridge buses and
routes, and queues that services may send to."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from components.core import defaults, packaging
from components.core.event_route import EventRoute, check_retry, event_bus
from components.core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from components.core.queue import DurableQueue, QueueSpec
from components.core.scope import Scope
from components.core.settings import Settings
from components.core.topic import TracedTopic, check_filter_policy
from tests.helpers import policy

ALARM = "arn:aws:sns:eu-west-1:123456789012:alarms"
ACCOUNT = "123456789012"


class Owner(pulumi.ComponentResource):
    def __init__(self, name: str = "owner") -> None:
        super().__init__("serverless-patterns:test:Owner", name, None, None)


def scope() -> Scope:
    return Scope(Owner(), "owner", Settings(alarm_actions=(ALARM,)))


def test_topic_is_encrypted_traced_tls_only_and_lets_named_services_publish(build):
    source = "arn:aws:s3:::landing"

    def program():
        TracedTopic(scope(), "events", service_publishers=[("s3.amazonaws.com", source)])

    plan = build(program)
    topic = plan.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    assert topic.inputs["tracingConfig"] == "Active"
    deny, allow = policy(plan.one("aws:sns/topicPolicy:TopicPolicy"))["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == topic.outputs["arn"]
    assert allow["Condition"] == {
        "ArnLike": {"aws:SourceArn": source},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }
    (xray,) = json.loads(
        plan.one("aws:xray/resourcePolicy:ResourcePolicy").inputs["policyDocument"]
    )["Statement"]
    assert xray["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:*"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }


def test_one_xray_policy_per_stack_serves_every_traced_topic(build):
    """An account holds five X-Ray resource policies per Region: topics share the stack's."""

    def program():
        TracedTopic(scope(), "one")
        TracedTopic(Scope(Owner("other"), "other", Settings(alarm_actions=(ALARM,))), "two")

    plan = build(program)
    assert len(plan.of_type("aws:sns/topic:Topic")) == 2
    policy_ = plan.one("aws:xray/resourcePolicy:ResourcePolicy")
    assert policy_.name == "sns-active-tracing"
    assert policy_.parent == plan.stack_urn  # outlives any one component
    assert policy_.inputs["policyName"] == "test-sns-active-tracing"
    # A new run (a new stack) gets its own.
    assert len(build(program).of_type("aws:xray/resourcePolicy:ResourcePolicy")) == 1


def test_a_cmk_replaces_the_managed_key(build):
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234"
    plan = build(lambda: TracedTopic(scope(), "events", kms_key_arn=key))
    assert plan.one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == key


def test_queue_subscription_is_raw_filtered_redriven_and_allowed_by_the_queue(build):
    def program():
        owner = scope()
        topic = TracedTopic(owner, "orders")
        queue = DurableQueue(
            owner,
            "created",
            QueueSpec(consumer_timeout_s=30),
            service_senders=[("sns.amazonaws.com", topic.arn)],
        )
        topic.subscribe_queue("created", queue, filter_policy={"status": ["created"]})

    plan = build(program)
    topic_arn = plan.one("aws:sns/topic:Topic").outputs["arn"]
    subscription = plan.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert subscription["protocol"] == "sqs"
    assert subscription["rawMessageDelivery"] is True
    assert json.loads(subscription["filterPolicy"]) == {"status": ["created"]}
    assert subscription["filterPolicyScope"] == "MessageAttributes"
    redrive_dlq = plan.one("aws:sqs/queue:Queue", "created-redrive")
    assert json.loads(subscription["redrivePolicy"]) == {
        "deadLetterTargetArn": redrive_dlq.outputs["arn"]
    }
    queue_arn = plan.one("aws:sqs/queue:Queue", "owner-created").outputs["arn"]
    assert subscription["endpoint"] == queue_arn
    statements = policy(plan.one("aws:sqs/queuePolicy:QueuePolicy", "owner-created-policy"))
    allow = statements["Statement"][1]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": topic_arn},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }
    redrive_policy = policy(
        plan.one("aws:sqs/queuePolicy:QueuePolicy", "owner-created-redrive-policy")
    )
    assert redrive_policy["Statement"][1]["Condition"]["ArnEquals"] == {"aws:SourceArn": topic_arn}
    # A queue with no service sender keeps the TLS-only policy alone.
    (deny,) = policy(plan.one("aws:sqs/queuePolicy:QueuePolicy", "owner-created-dlq-policy"))[
        "Statement"
    ]
    assert deny["Effect"] == "Deny"


def test_function_subscription_has_a_pinned_permission_and_a_redrive_dlq(build):
    def program():
        owner = scope()
        topic = TracedTopic(owner, "orders")
        failures = DurableQueue(owner, "failures", QueueSpec(consumer_timeout_s=30))
        function = LambdaFunction(
            owner,
            "worker",
            FunctionSpec(
                handler="app.handler",
                description="test",
                async_invoke=AsyncInvoke(on_failure_arn=failures.arn),
            ),
            package=packaging.Package(path=Path(__file__), sha256="0" * 64),
            statements=[],
            service="test",
        )
        topic.subscribe_function("worker", function)

    plan = build(program)
    topic_arn = plan.one("aws:sns/topic:Topic").outputs["arn"]
    permission = plan.one("aws:lambda/permission:Permission").inputs
    assert permission["principal"] == "sns.amazonaws.com"
    assert permission["sourceArn"] == topic_arn
    subscription = plan.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert subscription["protocol"] == "lambda"
    assert "filterPolicy" not in subscription
    assert (
        json.loads(subscription["redrivePolicy"])["deadLetterTargetArn"]
        == (plan.one("aws:sqs/queue:Queue", "worker-redrive").outputs["arn"])
    )


@pytest.mark.parametrize(
    ("policy_value", "message"),
    [
        ({}, "must be a non-empty mapping"),
        ({"status": "created"}, "status must be a non-empty list"),
        ({"status": []}, "status must be a non-empty list"),
        ({"status": [None]}, "holds None"),
        ({f"k{i}": ["v"] for i in range(6)}, "at most 5 attributes"),
        ({"order": {"status": "x"}}, "order.status must be a non-empty list"),
    ],
)
def test_filter_policies_are_checked(policy_value, message):
    with pytest.raises(ValueError, match=message):
        check_filter_policy(policy_value, "routes['a']")


def test_bus_with_archive_and_a_route_to_a_queue(build):
    def program():
        owner = scope()
        bus, archive = event_bus(owner, "etl", archive_retention_days=7)
        assert archive is not None
        route = EventRoute(
            owner,
            "extracted",
            bus_name=bus.name,
            pattern={"detail-type": ["RecordExtracted"]},
            description="Rows to transform",
        )
        queue = DurableQueue(
            owner,
            "transform",
            QueueSpec(consumer_timeout_s=30),
            service_senders=[("events.amazonaws.com", route.rule.arn)],
        )
        route.target(queue.arn)

    plan = build(program)
    bus = plan.one("aws:cloudwatch/eventBus:EventBus")
    archive = plan.one("aws:cloudwatch/eventArchive:EventArchive").inputs
    assert archive["eventSourceArn"] == bus.outputs["arn"]
    assert archive["retentionDays"] == 7
    rule = plan.one("aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["eventBusName"] == bus.outputs["name"]
    assert json.loads(rule.inputs["eventPattern"]) == {"detail-type": ["RecordExtracted"]}
    target = plan.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    assert target["arn"] == plan.one("aws:sqs/queue:Queue", "owner-transform").outputs["arn"]
    assert target["retryPolicy"] == {
        "maximumRetryAttempts": defaults.EVENT_TARGET_RETRY_ATTEMPTS,
        "maximumEventAgeInSeconds": defaults.EVENT_TARGET_MAX_EVENT_AGE_S,
    }
    dlq = plan.one("aws:sqs/queue:Queue", "extracted-target-dlq")
    assert target["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    for name in ("owner-transform-policy", "owner-extracted-target-dlq-policy"):
        allow = policy(plan.one("aws:sqs/queuePolicy:QueuePolicy", name))["Statement"][1]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": rule.outputs["arn"]}


@pytest.mark.parametrize(
    ("attempts", "age", "message"),
    [
        (-1, 3600, "retry_attempts must be between 0 and 185"),
        (186, 3600, "retry_attempts must be between 0 and 185"),
        (2, 59, "max_event_age_s must be between 60 and 86400"),
        (2, 86401, "max_event_age_s must be between 60 and 86400"),
    ],
)
def test_route_retry_bounds(attempts, age, message):
    with pytest.raises(ValueError, match=f"load.{message}"):
        check_retry(attempts, age, "load")


def test_archive_retention_must_not_be_negative(build):
    with pytest.raises(ValueError, match="archive_retention_days must be 0"):
        build(lambda: event_bus(scope(), "etl", archive_retention_days=-1))
