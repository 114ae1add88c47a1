"""ScheduledJob under mocks: the schedule (target, role, retry policy, DLQ, time zone,
window, one-offs), the invoke config, the idempotency table, secrets, least privilege,
existing resources, argument checks and the prod gate."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.config import ConfigError, parse
from components.core import defaults
from components.core.settings import Settings
from components.scheduled_job import ScheduledJob, ScheduledJobArgs
from preview import gate
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
ROLE = "aws:iam/role:Role"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
ACCOUNT = "123456789012"
SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:story-api-key-AbCdEf"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NIGHTLY = {
    "schedule_expression": "cron(15 19 * * ? *)",
    "timezone": "Europe/Lisbon",
    "reserved_concurrency": 1,
}


def job(**kwargs):
    return lambda: ScheduledJob("nightly", ScheduledJobArgs(**kwargs))


def test_the_schedule_invokes_the_job_with_retries_a_dlq_and_its_own_role(build):
    plan = build(job(**NIGHTLY))
    schedule = plan.one(SCHEDULE).inputs
    function = plan.one(FN, "nightly-job")
    dlq = plan.one(QUEUE, "nightly-dlq")
    role = plan.one(ROLE, "nightly-job-schedule-role")
    assert schedule["scheduleExpression"] == "cron(15 19 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "Europe/Lisbon"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert "actionAfterCompletion" not in schedule
    target = schedule["target"]
    assert target["arn"] == function.outputs["arn"]
    assert target["roleArn"] == role.outputs["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 3600}
    assert target["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    assert dlq.inputs["messageRetentionSeconds"] == defaults.DLQ_RETENTION_S
    assert dlq.inputs["sqsManagedSseEnabled"] is True


def test_the_input_carries_the_slot_context_and_the_user_input(build):
    plan = build(job(input={"collection": "stories"}))
    schedule = plan.one(SCHEDULE).inputs
    assert json.loads(schedule["target"]["input"]) == {
        "schedule": schedule["name"],
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "executionId": "<aws.scheduler.execution-id>",
        "attemptNumber": "<aws.scheduler.attempt-number>",
        "input": {"collection": "stories"},
    }


def test_only_scheduler_of_this_account_may_assume_the_role_and_only_run_this_job(build):
    plan = build(job())
    role = plan.one(ROLE, "nightly-job-schedule-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    function = plan.one(FN, "nightly-job").outputs["arn"]
    dlq = plan.one(QUEUE, "nightly-dlq").outputs["arn"]
    assert statements_of_role(plan, "nightly-job-schedule-role") == [
        {"Action": ["lambda:InvokeFunction"], "Effect": "Allow", "Resource": function},
        {"Action": ["sqs:SendMessage"], "Effect": "Allow", "Resource": dlq},
    ]


def test_a_run_that_keeps_failing_goes_to_the_same_dlq(build):
    plan = build(job(async_retries=1))
    config = plan.one(INVOKE_CONFIG).inputs
    dlq = plan.one(QUEUE, "nightly-dlq").outputs["arn"]
    assert config["functionName"] == plan.one(FN, "nightly-job").outputs["name"]
    assert config["maximumRetryAttempts"] == 1
    assert config["maximumEventAgeInSeconds"] == defaults.ASYNC_MAX_EVENT_AGE_S
    assert config["destinationConfig"] == {"onFailure": {"destination": dlq}}
    grants = statements_of_role(plan, "nightly-job-role")
    assert {"Action": ["sqs:SendMessage"], "Effect": "Allow", "Resource": dlq} in grants
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "nightly-dlq-depth").inputs
    assert alarm["dimensions"] == {"QueueName": plan.one(QUEUE, "nightly-dlq").inputs["name"]}
    assert plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "nightly-job-errors")


def test_the_idempotency_table_has_powertools_layout_and_only_the_job_uses_it(build):
    plan = build(job(max_event_age_s=7200))
    table = plan.one(TABLE, "nightly-idempotency")
    assert table.inputs["hashKey"] == "id"
    assert table.inputs["attributes"] == [{"name": "id", "type": "S"}]
    assert table.inputs["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    variables = plan.one(FN, "nightly-job").inputs["environment"]["variables"]
    assert variables["IDEMPOTENCY_TABLE"] == table.inputs["name"]
    # Beyond every retry of a slot: a day, or both retry windows and a margin if longer.
    assert variables["IDEMPOTENCY_EXPIRY_S"] == "86400"
    grants = statements_of_role(plan, "nightly-job-role")
    crud = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    on_table = [s for s in grants if s["Resource"] == table.outputs["arn"]]
    assert [set(s["Action"]) for s in on_table] == [crud]


def test_records_outlive_long_retry_windows(build):
    plan = build(job(max_event_age_s=86_400))
    variables = plan.one(FN, "nightly-job").inputs["environment"]["variables"]
    assert int(variables["IDEMPOTENCY_EXPIRY_S"]) == 86_400 + 3600 + 3600


def test_without_idempotency_there_is_no_table_and_no_grant(build):
    plan = build(job(idempotency=False))
    assert plan.of_type(TABLE) == []
    variables = plan.one(FN, "nightly-job").inputs["environment"]["variables"]
    assert "IDEMPOTENCY_TABLE" not in variables
    actions = {a for s in statements_of_role(plan, "nightly-job-role") for a in s["Action"]}
    assert not any(a.startswith("dynamodb:") for a in actions)


def test_the_key_is_read_from_secrets_manager_by_arn(build):
    plan = build(job(secret_arn=SECRET, environment={"STORY_API_URL": "https://api.example"}))
    variables = plan.one(FN, "nightly-job").inputs["environment"]["variables"]
    assert variables["SECRET_ARN"] == SECRET
    assert variables["STORY_API_URL"] == "https://api.example"
    grants = statements_of_role(plan, "nightly-job-role")
    assert {
        "Action": ["secretsmanager:GetSecretValue"],
        "Effect": "Allow",
        "Resource": SECRET,
    } in grants


def test_a_rate_limited_job_gets_reserved_concurrency_and_the_throttled_tag(build):
    plan = build(job(**NIGHTLY, timeout_s=300, memory_size=512))
    function = plan.one(FN, "nightly-job").inputs
    assert function["reservedConcurrentExecutions"] == 1
    assert function["tags"][defaults.TAG_THROTTLED_CONSUMER] == "1"
    assert (function["timeout"], function["memorySize"]) == (300, 512)
    assert function["tracingConfig"] == {"mode": "Active"}
    assert function["handler"] == "job.handler"
    assert "TASK_MODULE" not in function["environment"]["variables"]


def test_the_session_cleanup_runs_every_five_minutes_uncapped(build):
    plan = build(job(schedule_expression="rate(5 minutes)"))
    schedule = plan.one(SCHEDULE).inputs
    assert schedule["scheduleExpression"] == "rate(5 minutes)"
    function = plan.one(FN, "nightly-job").inputs
    assert "reservedConcurrentExecutions" not in function
    assert defaults.TAG_THROTTLED_CONSUMER not in function["tags"]


def test_a_one_off_deletes_itself_and_a_window_spreads_the_start(build):
    plan = build(job(schedule_expression="at(2030-01-01T00:00:00)", flexible_window_min=15))
    schedule = plan.one(SCHEDULE).inputs
    assert schedule["actionAfterCompletion"] == "DELETE"
    assert schedule["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 15}


def test_group_state_and_key_reach_the_schedule_and_the_role_may_decrypt(build):
    plan = build(job(group="reports", state="DISABLED", kms_key_arn=KEY))
    schedule = plan.one(SCHEDULE).inputs
    assert (schedule["groupName"], schedule["state"], schedule["kmsKeyArn"]) == (
        "reports",
        "DISABLED",
        KEY,
    )
    grants = statements_of_role(plan, "nightly-job-schedule-role")
    assert {"Action": ["kms:Decrypt"], "Effect": "Allow", "Resource": KEY} in grants


def test_no_scheduled_eventbridge_rule_anywhere(build):
    plan = build(job(**NIGHTLY))
    assert [r for r in plan.of_type(EVENT_RULE) if r.inputs.get("scheduleExpression")] == []
    assert plan.of_type("aws:sfn/stateMachine:StateMachine") == []


def test_an_existing_function_is_scheduled_but_not_rebuilt(build):
    def program():
        existing = aws.lambda_.Function(
            "existing-generator",
            role=f"arn:aws:iam::{ACCOUNT}:role/generator",
            runtime="python3.13",
            handler="generator.handler",
            code=pulumi.AssetArchive({}),
        )
        ScheduledJob("nightly", ScheduledJobArgs(function=existing))

    plan = build(program)
    (function,) = plan.of_type(FN)
    assert function.name == "existing-generator"
    assert plan.one(SCHEDULE).inputs["target"]["arn"] == function.outputs["arn"]
    assert plan.of_type(TABLE) == [] and plan.of_type(INVOKE_CONFIG) == []
    grants = statements_of_role(plan, "nightly-job-schedule-role")
    assert grants[0]["Resource"] == function.outputs["arn"]


def test_an_existing_dlq_and_table_are_used_and_the_queue_still_alarms(build):
    def program():
        queue = aws.sqs.Queue("existing-dlq")
        table = aws.dynamodb.Table(
            "existing-idempotency",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        )
        ScheduledJob("nightly", ScheduledJobArgs(dlq=queue, idempotency_table=table))

    plan = build(program)
    (queue,) = plan.of_type(QUEUE)
    (table,) = plan.of_type(TABLE)
    assert plan.one(SCHEDULE).inputs["target"]["deadLetterConfig"] == {"arn": queue.outputs["arn"]}
    config = plan.one(INVOKE_CONFIG).inputs
    assert config["destinationConfig"]["onFailure"]["destination"] == queue.outputs["arn"]
    variables = plan.one(FN, "nightly-job").inputs["environment"]["variables"]
    assert variables["IDEMPOTENCY_TABLE"] == table.outputs["name"]
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "nightly-dlq-depth").inputs
    assert alarm["dimensions"] == {"QueueName": queue.outputs["name"]}


def test_outputs_and_every_child_owned_by_the_component(build):
    outputs = {}

    def program():
        component = ScheduledJob("nightly", ScheduledJobArgs())
        for key, value in component.exports.items():
            value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    component = plan.one("serverless-patterns:patterns:ScheduledJob")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert outputs == {
        "schedule_arn": plan.one(SCHEDULE).outputs["arn"],
        "function_name": plan.one(FN, "nightly-job").outputs["name"],
        "dlq_url": plan.one(QUEUE, "nightly-dlq").outputs["url"],
        "idempotency_table": plan.one(TABLE).outputs["name"],
    }


def test_the_prod_gate_has_no_mandatory_finding(build):
    settings = Settings(
        environment="prod",
        log_retention_days=365,
        alarm_actions=(f"arn:aws:sns:eu-west-1:{ACCOUNT}:alarms",),
    )
    plan = build(job(**NIGHTLY, secret_arn=SECRET, settings=settings))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    advised = {f.id for f in report.findings}
    assert advised.isdisjoint({"IAM-008", "EVENTS-004", "EVENTS-005", "EVENTS-006"}), advised


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule_expression": "rate(5 minute)"}, "^schedule_expression: rate.. takes a"),
        ({"schedule_expression": "rate(1 minutes)"}, "^schedule_expression: rate.. takes a"),
        ({"schedule_expression": "cron(15 19 * * *)"}, "^schedule_expression: cron.. needs six"),
        ({"schedule_expression": "cron(15 19 * * * *)"}, "'\\?' in exactly one"),
        ({"schedule_expression": "cron(15 19 ? * ? *)"}, "'\\?' in exactly one"),
        ({"schedule_expression": "cron(61 19 * * ? *)"}, "minutes field '61'"),
        ({"schedule_expression": "at(2030-02-30T00:00:00)"}, "at.. names no real date"),
        ({"schedule_expression": "at(2030-01-01 00:00:00)"}, "^schedule_expression must be"),
        ({"timezone": "Mars/Olympus_Mons"}, "^timezone must be an IANA time zone"),
        ({"flexible_window_min": 1441}, "^flexible_window_min must be between 0 and 1440"),
        ({"flexible_window_min": -1}, "^flexible_window_min must be between 0 and 1440"),
        ({"retry_attempts": 186}, "^retry_attempts must be between 0 and 185"),
        ({"max_event_age_s": 59}, "^max_event_age_s must be between 60 and 86400"),
        ({"max_event_age_s": 86_401}, "^max_event_age_s must be between 60 and 86400"),
        ({"async_retries": 3}, "^async_retries must be between 0 and 2"),
        ({"reserved_concurrency": 0}, "^reserved_concurrency must be at least 1"),
        ({"timeout_s": 901}, "^timeout_s must be between 1 and 900"),
        ({"memory_size": 64}, "^memory_size must be between"),
        ({"input": {"at": object()}}, "^input must be JSON-serialisable"),
        ({"input": {"blob": "x" * 8000}}, "^input must be at most 7168 characters"),
        ({"group": "bad group"}, "^group must be a schedule group name"),
        ({"state": "PAUSED"}, "^state must be one of ENABLED, DISABLED"),
        ({"kms_key_arn": "alias/aws/scheduler"}, "^kms_key_arn must be a KMS key ARN"),
        ({"secret_arn": "story-api-key"}, "^secret_arn must be a Secrets Manager"),
        ({"task": "../task"}, "^task must name a module of functions/scheduled_job/"),
        ({"task": "missing"}, "^task must name a module of functions/scheduled_job/"),
        ({"environment": {"SECRET_ARN": "x"}}, "^environment must not set 'SECRET_ARN'"),
        ({"environment": {"POWERTOOLS_LOG_LEVEL": "x"}}, "^environment must not set"),
    ],
)
def test_bad_arguments_name_themselves_before_any_resource(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScheduledJobArgs(**kwargs)


def test_a_bad_expression_in_stack_config_is_a_config_error_naming_the_key():
    args = {"schedule_expression": "rate(5 minute)", "timezone": "Europe/Nowhere"}
    raw = {"serverless-patterns:patterns": json.dumps({"scheduled-job": args})}
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    text = str(caught.value)
    assert "schedule_expression: rate() takes a singular unit" in text
    assert "timezone must be an IANA time zone" in text
