"""The schedule and private-bucket blocks: expression checks, retry + DLQ, bucket defaults."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.core import iam
from components.core.bucket import PrivateBucket
from components.core.schedule import ScheduleSpec, TargetSchedule, validate_expression
from components.core.scope import Scope
from components.core.settings import Settings
from tests.helpers import statements_of_role

TARGET = "arn:aws:states:eu-west-1:123456789012:stateMachine:flow"


class Owner(pulumi.ComponentResource):
    def __init__(self) -> None:
        super().__init__("serverless-patterns:test:Owner", "owner", None, None)


def scope(environment: str = "dev") -> Scope:
    return Scope(Owner(), "owner", Settings(environment=environment))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 day)",
        "cron(15 19 * * ? *)",
        "cron(0 2 ? * MON-FRI *)",
        "cron(0/15 8-17 ? * 2#1 2030)",
        "cron(0 8 LW * ? *)",
        "at(2030-01-01T00:00:00)",
    ],
)
def test_valid_expressions_pass(expression):
    validate_expression(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(5 minute)", "singular unit for 1 and a plural one otherwise"),
        ("rate(1 minutes)", "singular unit for 1 and a plural one otherwise"),
        ("rate(0 minutes)", "must be rate"),
        ("cron(0 2 * * *)", "cron.. needs six fields"),
        ("cron(0 2 * * MON *)", "'\\?' in exactly one of day-of-month and day-of-week"),
        ("cron(0 2 ? * ? *)", "'\\?' in exactly one of day-of-month and day-of-week"),
        ("cron(0 25 * * ? *)", "hours field '25' is not valid"),
        ("cron(0 2 * FOO ? *)", "month field 'FOO' is not valid"),
        ("at(2030-01-01)", "must be rate"),
        ("at(2030-02-30T00:00:00)", "at.. names no real date and time"),
        (" rate(5 minutes)", "must be rate"),
        ("rate(05 minutes)", "must be rate"),
        ("every day", "must be rate"),
    ],
)
def test_invalid_expressions_name_the_argument(expression, message):
    with pytest.raises(ValueError, match=f"^nightly.*{message}"):
        validate_expression(expression, "nightly")


def test_schedule_has_retry_dlq_and_a_scoped_role(build):
    def program():
        TargetSchedule(
            scope(),
            "nightly",
            ScheduleSpec(expression="cron(0 2 * * ? *)", timezone="Europe/Lisbon"),
            target_arn=TARGET,
            target_statement=iam.Statement(["states:StartExecution"], [TARGET]),
            input={
                "runId": "<aws.scheduler.scheduled-time>",
                "queue": pulumi.Output.from_input("q"),
            },
            description="nightly run",
        )

    plan = build(program)
    schedule = plan.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpressionTimezone"] == "Europe/Lisbon"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert json.loads(target["input"]) == {"runId": "<aws.scheduler.scheduled-time>", "queue": "q"}
    assert target["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 3600}
    dlq = plan.one("aws:sqs/queue:Queue", "nightly-schedule-dlq")
    assert target["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    statements = statements_of_role(plan, "nightly-schedule-role")
    assert {(tuple(s["Action"]), s["Resource"]) for s in statements} == {
        (("states:StartExecution",), TARGET),
        (("sqs:SendMessage",), dlq.outputs["arn"]),
    }
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert alarm["dimensions"] == {"QueueName": dlq.inputs["name"]}


def test_a_one_off_schedule_deletes_itself(build):
    def program():
        TargetSchedule(
            scope(),
            "once",
            ScheduleSpec(expression="at(2030-01-01T00:00:00)"),
            target_arn=TARGET,
            target_statement=iam.Statement(["states:StartExecution"], [TARGET]),
            input={},
            description="once",
        )

    schedule = build(program).one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["actionAfterCompletion"] == "DELETE"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry_attempts": 186}, "retry_attempts must be between 0 and 185"),
        ({"retry_attempts": -1}, "retry_attempts must be between 0 and 185"),
        ({"max_event_age_s": 59}, "max_event_age_s must be between 60 and 86400"),
        ({"max_event_age_s": 86_401}, "max_event_age_s must be between 60 and 86400"),
        ({"flexible_window_min": 1441}, "flexible_window_min must be between 0 and 1440"),
        ({"timezone": "Europe/Atlantis"}, "timezone must be an IANA time zone"),
        ({"timezone": "../etc/passwd"}, "timezone must be an IANA time zone"),
        ({"timezone": ""}, "timezone must be an IANA time zone"),
    ],
)
def test_schedule_spec_ranges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScheduleSpec(expression="rate(1 hour)", **kwargs)


def test_an_existing_dlq_a_group_a_state_a_key_and_a_window(build):
    dlq = "arn:aws:sqs:eu-west-1:123456789012:failures"
    key = "arn:aws:kms:eu-west-1:123456789012:key/abc"

    def program():
        TargetSchedule(
            scope(),
            "sweep",
            ScheduleSpec(expression="rate(5 minutes)", flexible_window_min=10),
            target_arn=TARGET,
            target_statement=iam.Statement(["states:StartExecution"], [TARGET]),
            input={},
            description="sweep",
            dlq_arn=dlq,
            group="ops",
            state="DISABLED",
            kms_key_arn=key,
        )

    plan = build(program)
    assert plan.of_type("aws:sqs/queue:Queue") == []  # the given queue, none of its own
    schedule = plan.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["target"]["deadLetterConfig"] == {"arn": dlq}
    assert schedule["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 10}
    assert (schedule["groupName"], schedule["state"], schedule["kmsKeyArn"]) == (
        "ops",
        "DISABLED",
        key,
    )
    assert "actionAfterCompletion" not in schedule
    statements = statements_of_role(plan, "sweep-schedule-role")
    assert {(tuple(s["Action"]), s["Resource"]) for s in statements} == {
        (("states:StartExecution",), TARGET),
        (("sqs:SendMessage",), dlq),
        (("kms:Decrypt",), key),
    }


def test_an_enabled_schedule_leaves_state_to_the_provider_default(build):
    def program():
        TargetSchedule(
            scope(),
            "sweep",
            ScheduleSpec(expression="rate(5 minutes)"),
            target_arn=TARGET,
            target_statement=iam.Statement(["states:StartExecution"], [TARGET]),
            input={},
            description="sweep",
        )

    schedule = build(program).one("aws:scheduler/schedule:Schedule").inputs
    assert "state" not in schedule and "groupName" not in schedule
    assert schedule["scheduleExpressionTimezone"] == "UTC"


@pytest.mark.parametrize(("environment", "force_destroy"), [("dev", True), ("prod", False)])
def test_private_bucket_defaults(build, environment, force_destroy):
    plan = build(lambda: PrivateBucket(scope(environment), "results"))
    bucket = plan.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["forceDestroy"] is force_destroy
    block = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    versioning = plan.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    (rule,) = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs[
        "rules"
    ]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    policy = plan.one("aws:s3/bucketPolicy:BucketPolicy")
    (deny,) = json.loads(policy.inputs["policy"])["Statement"]
    arn = bucket.outputs["arn"]
    assert deny["Effect"] == "Deny" and deny["Resource"] == [arn, f"{arn}/*"]
    block_urn = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").urn
    assert block_urn in policy.dependencies


def test_private_bucket_with_a_kms_key(build):
    key = "arn:aws:kms:eu-west-1:123456789012:key/abc"
    plan = build(lambda: PrivateBucket(scope(), "results", kms_key_arn=key))
    sse = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key,
    }
    assert sse["bucketKeyEnabled"] is True
