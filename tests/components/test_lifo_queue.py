"""LifoQueue under mocks: the queue index, the throttled processor, the async failure path,
least privilege, the reclaim wake-up, the optional API and argument checks."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.core import defaults
from components.core.settings import Settings
from components.lifo_queue import DownstreamSpec, LifoQueue, LifoQueueArgs
from tests.helpers import children_of, statements_of_role

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"


def lifo(**kwargs):
    return lambda: LifoQueue("tasks", LifoQueueArgs(**kwargs))


def test_the_table_is_the_queue_newest_first_with_ttl_and_a_stream(build):
    table = build(lifo()).one(TABLE).inputs
    (index,) = table["globalSecondaryIndexes"]
    assert index["name"] == "byStatus"
    assert [(k["attributeName"], k["keyType"]) for k in index["keySchemas"]] == [
        ("taskStatus", "HASH"),
        ("createdAt", "RANGE"),
    ]
    types = {a["name"]: a["type"] for a in table["attributes"]}
    assert types == {"taskId": "S", "taskStatus": "S", "createdAt": "N"}
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table["streamEnabled"] is True and table["streamViewType"] == "NEW_IMAGE"
    assert table["tags"][defaults.TAG_DATA] == "ephemeral"
    assert table["billingMode"] == "PAY_PER_REQUEST"


def test_the_processor_is_the_throttled_consumer_and_outlasts_its_loop(build):
    plan = build(lifo(max_loop_s=45, processor_timeout_s=70, claim_timeout_s=100))
    processor = plan.one(FN, "processor").inputs
    assert processor["reservedConcurrentExecutions"] == 1
    assert processor["tags"][defaults.TAG_THROTTLED_CONSUMER] == "1"
    assert processor["timeout"] == 70 > 45
    assert processor["tracingConfig"] == {"mode": "Active"}
    variables = processor["environment"]["variables"]
    assert (variables["MAX_LOOP_S"], variables["CLAIM_TIMEOUT_S"]) == ("45", "100")
    assert variables["DOWNSTREAM_MODULE"] == "downstream"
    assert variables["PROCESSOR_CONCURRENCY"] == "1"  # one processor: strict newest first
    assert variables["TABLE_NAME"] == plan.one(TABLE).inputs["name"]


def test_new_tasks_only_reach_the_trigger(build):
    plan = build(lifo())
    mapping = plan.one(ESM).inputs
    assert [json.loads(f["pattern"]) for f in mapping["filterCriteria"]["filters"]] == [
        {"eventName": ["INSERT"]}
    ]
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["maximumRetryAttempts"] == 3
    assert (
        mapping["destinationConfig"]["onFailure"]["destinationArn"]
        == (plan.one(QUEUE, "trigger-dlq").outputs["arn"])
    )
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert plan.one(ESM).property_dependencies["functionName"] == [plan.one(FN, "trigger").urn]


def test_the_process_topic_is_traced_encrypted_and_fails_over_to_the_dlq(build):
    plan = build(lifo())
    topic = plan.one(TOPIC)
    assert topic.inputs["tracingConfig"] == "Active"
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    dlq = plan.one(QUEUE, "process-dlq")
    subscription = plan.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert subscription["protocol"] == "lambda"
    assert subscription["endpoint"] == plan.one(FN, "processor").outputs["arn"]
    assert json.loads(subscription["redrivePolicy"]) == {"deadLetterTargetArn": dlq.outputs["arn"]}
    invoke = plan.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert invoke["maximumRetryAttempts"] == 2 and invoke["maximumEventAgeInSeconds"] == 600
    assert invoke["destinationConfig"]["onFailure"]["destination"] == dlq.outputs["arn"]
    dlq_policy = json.loads(
        plan.one("aws:sqs/queuePolicy:QueuePolicy", "process-dlq-policy").inputs["policy"]
    )
    (sender,) = [s for s in dlq_policy["Statement"] if s["Effect"] == "Allow"]
    assert sender["Principal"] == {"Service": "sns.amazonaws.com"}
    assert sender["Condition"] == {"ArnEquals": {"aws:SourceArn": topic.outputs["arn"]}}
    permission = plan.one("aws:lambda/permission:Permission").inputs
    assert (permission["principal"], permission["sourceArn"]) == (
        "sns.amazonaws.com",
        topic.outputs["arn"],
    )
    xray = json.loads(plan.one("aws:xray/resourcePolicy:ResourcePolicy").inputs["policyDocument"])
    (statement,) = xray["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": topic.outputs["arn"].rsplit(":", 1)[0] + ":*"
    }


def test_roles_are_least_privilege(build):
    plan = build(lifo())
    table = plan.one(TABLE).outputs["arn"]
    topic = plan.one(TOPIC).outputs["arn"]
    dlq = plan.one(QUEUE, "process-dlq").outputs["arn"]
    grants = {tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "processor-role")}
    assert grants[("dynamodb:Query",)] == f"{table}/index/byStatus"
    assert grants[("dynamodb:UpdateItem",)] == table
    assert grants[("sns:Publish",)] == topic
    assert grants[("sqs:SendMessage",)] == dlq
    trigger = {tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "trigger-role")}
    assert trigger[("sns:Publish",)] == topic
    assert not any("dynamodb:PutItem" in a or "dynamodb:UpdateItem" in a for a in trigger)
    for role in ("processor-role", "trigger-role"):
        for statement in statements_of_role(plan, role):
            assert all("*" not in action for action in statement["Action"])


def test_an_idle_queue_is_woken_to_reclaim_expired_claims(build):
    plan = build(lifo(reclaim_schedule="rate(10 minutes)"))
    schedule = plan.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == "rate(10 minutes)"
    assert schedule["target"]["arn"] == plan.one(TOPIC).outputs["arn"]
    assert json.loads(schedule["target"]["input"]) == {"reason": "reclaim"}
    assert schedule["target"]["deadLetterConfig"]["arn"]
    assert not build(lifo(reclaim_schedule=None)).of_type("aws:scheduler/schedule:Schedule")


def test_the_backlog_alarm_watches_the_oldest_pending_task(build):
    plan = build(lifo(pending_age_alarm_s=600))
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "oldest-pending").inputs
    assert (alarm["namespace"], alarm["metricName"]) == (
        "ServerlessPatterns",
        "OldestPendingTaskAge",
    )
    assert alarm["threshold"] == 600
    assert alarm["dimensions"] == {"service": "lifo-queue", "queue": plan.one(TABLE).inputs["name"]}


def test_the_create_api_is_iam_authorised_and_validates_the_body(build):
    plan = build(lifo(create_api=True))
    method = plan.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["authorization"]) == ("POST", "AWS_IAM")
    assert method["requestValidatorId"]
    model = json.loads(plan.one("aws:apigateway/model:Model").inputs["schema"])
    assert model["required"] == ["payload"]
    create = plan.one(FN, "create")
    assert statements_of_role(plan, "create-role")[1] == {
        "Effect": "Allow",
        "Action": ["dynamodb:PutItem"],
        "Resource": plan.one(TABLE).outputs["arn"],
    }
    permission = next(
        p.inputs
        for p in plan.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "apigateway.amazonaws.com"
    )
    assert permission["sourceArn"].endswith("/*/POST/tasks")
    assert create.inputs["timeout"] == 5
    assert plan.one("aws:apigateway/stage:Stage").inputs["xrayTracingEnabled"] is True
    assert not build(lifo()).of_type("aws:apigateway/restApi:RestApi")


def test_existing_table_and_topic_are_used_instead_of_new_ones(build):
    def program():
        table = aws.dynamodb.Table(
            "mine",
            hash_key="taskId",
            attributes=[aws.dynamodb.TableAttributeArgs(name="taskId", type="S")],
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
        )
        topic = aws.sns.Topic("signal", tracing_config="Active")
        LifoQueue("tasks", LifoQueueArgs(table=table, topic=topic))

    plan = build(program)
    (table,) = plan.of_type(TABLE)
    (topic,) = plan.of_type(TOPIC)
    assert (table.name, topic.name) == ("mine", "signal")
    assert plan.one(ESM).property_dependencies["eventSourceArn"] == [table.urn]
    assert not plan.of_type("aws:xray/resourcePolicy:ResourcePolicy")
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.partition(" is an existing resource")[0] for w in warnings] == ["table", "topic"]


def test_every_child_is_parented_to_the_component(build):
    plan = build(lifo(create_api=True))
    component = plan.one("serverless-patterns:patterns:LifoQueue")
    children = children_of(plan, component)
    assert children and all(r.parent == component.urn for r in children)


def test_prod_settings_reach_the_children(build):
    settings = Settings(environment="prod", log_retention_days=365, tags={"team": "ops"})
    plan = build(lambda: LifoQueue("tasks", LifoQueueArgs(settings=settings)))
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {365}
    assert plan.one(FN, "processor").inputs["tags"]["team"] == "ops"
    # An ephemeral queue: TTL instead of backups, so no deletion protection either.
    assert plan.one(TABLE).inputs["deletionProtectionEnabled"] is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"processor_concurrency": 0}, "processor_concurrency must be between 1 and 100"),
        ({"batch_limit": 0}, "batch_limit must be between 1 and 100"),
        ({"max_loop_s": 60, "processor_timeout_s": 70}, r"processor_timeout_s must be between 75"),
        ({"claim_timeout_s": 60}, r"claim_timeout_s must be between processor_timeout_s \(90\)"),
        ({"task_ttl_s": 30}, "task_ttl_s must be between 60"),
        ({"pending_age_alarm_s": 3600}, r"pending_age_alarm_s must be at least 60 and under"),
        ({"reclaim_schedule": "rate(5 minute)"}, "reclaim_schedule: rate"),
        ({"max_attempts": 0}, "max_attempts must be between 1 and 10"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn must be a regional WAFv2"),
        (
            {"downstream": DownstreamSpec(call_timeout_s=26)},
            "processor_timeout_s must be between 91",
        ),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LifoQueueArgs(**kwargs)


def test_downstream_spec_checks():
    with pytest.raises(ValueError, match=r"downstream\.module must be a module name"):
        DownstreamSpec(module="legacy-validator")
    with pytest.raises(ValueError, match=r"downstream\.call_timeout_s must be between 1 and 300"):
        DownstreamSpec(call_timeout_s=0)
