"""Queue, table, REST stage and IAM blocks: their defaults and their argument checks."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.core import defaults, iam
from components.core.api import ApiGatewayAccount, RestStage, StageSpec
from components.core.naming import physical_name
from components.core.queue import DurableQueue, QueueSpec
from components.core.scope import Scope
from components.core.settings import Settings
from components.core.table import TableSpec, create_table
from tests.helpers import policy

ALARM = "arn:aws:sns:eu-west-1:123456789012:alarms"


class Owner(pulumi.ComponentResource):
    def __init__(self, name: str = "owner") -> None:
        super().__init__("serverless-patterns:test:Owner", name, None, None)


def scope(settings: Settings | None = None) -> Scope:
    return Scope(Owner(), "owner", settings or Settings(alarm_actions=(ALARM,)))


# Queue -------------------------------------------------------------------------------------


def test_queue_has_dlq_encryption_visibility_and_alarms(build):
    spec = QueueSpec(consumer_timeout_s=30, batching_window_s=5, max_receive_count=4)
    plan = build(lambda: DurableQueue(scope(), "jobs", spec))
    queue = plan.one("aws:sqs/queue:Queue", "owner-jobs").inputs
    dlq = plan.one("aws:sqs/queue:Queue", "jobs-dlq").inputs
    assert queue["sqsManagedSseEnabled"] and dlq["sqsManagedSseEnabled"]
    assert queue["visibilityTimeoutSeconds"] == 6 * 30 + 5
    redrive = json.loads(queue["redrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": plan.one("aws:sqs/queue:Queue", "jobs-dlq").outputs["arn"],
        "maxReceiveCount": 4,
    }
    assert dlq["messageRetentionSeconds"] == 14 * 24 * 3600
    assert dlq["messageRetentionSeconds"] > queue["messageRetentionSeconds"]

    allow = json.loads(
        plan.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs["redriveAllowPolicy"]
    )
    assert allow["sourceQueueArns"] == [
        plan.one("aws:sqs/queue:Queue", "owner-jobs").outputs["arn"]
    ]

    for queue_policy in plan.of_type("aws:sqs/queuePolicy:QueuePolicy"):
        (deny,) = policy(queue_policy)["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert alarms["ApproximateNumberOfMessagesVisible"]["dimensions"] == {"QueueName": dlq["name"]}
    assert alarms["ApproximateAgeOfOldestMessage"]["dimensions"] == {"QueueName": queue["name"]}
    assert all(a["alarmActions"] == [ALARM] for a in alarms.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_receive_count": 0}, "max_receive_count must be between 1 and 1000"),
        ({"retention_s": 14 * 24 * 3600}, "retention_s must be between 60"),
        ({"consumer_timeout_s": 901}, "consumer_timeout_s must be between 1 and 900"),
        ({"batching_window_s": 301}, "batching_window_s must be between 0 and 300"),
    ],
)
def test_queue_spec_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QueueSpec(**{"consumer_timeout_s": 30, **kwargs})


# Table -------------------------------------------------------------------------------------


def test_table_defaults_on_demand_pitr_encrypted(build):
    plan = build(lambda: create_table(scope(), "items", TableSpec(hash_key=("id", "S"))))
    table = plan.one("aws:dynamodb/table:Table").inputs
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["attributes"] == [{"name": "id", "type": "S"}]
    assert table["deletionProtectionEnabled"] is False
    assert "ttl" not in table


def test_prod_table_has_deletion_protection_and_ephemeral_has_ttl(build):
    prod = Settings(environment="prod")
    plan = build(lambda: create_table(scope(prod), "items", TableSpec(hash_key=("id", "S"))))
    assert plan.one("aws:dynamodb/table:Table").inputs["deletionProtectionEnabled"] is True

    spec = TableSpec(hash_key=("connectionId", "S"), ephemeral=True)
    table = build(lambda: create_table(scope(prod), "c", spec)).one("aws:dynamodb/table:Table")
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": False}
    assert table.inputs["tags"][defaults.TAG_DATA] == "ephemeral"
    assert table.inputs["deletionProtectionEnabled"] is False


def test_table_spec_rejects_bad_key_and_view():
    with pytest.raises(ValueError, match="type must be one of S, N, B"):
        TableSpec(hash_key=("id", "X"))
    with pytest.raises(ValueError, match="stream_view_type must be one of"):
        TableSpec(hash_key=("id", "S"), stream_view_type="NEW_IMAGES")


# REST stage --------------------------------------------------------------------------------


def _api_with_stage(spec: StageSpec) -> None:
    owner_scope = scope()
    api = aws.apigateway.RestApi("owner-api", opts=owner_scope.opts())
    RestStage(owner_scope, api, spec, routes=[], fingerprint="v1")


def test_rest_stage_traces_logs_json_and_throttles(build):
    plan = build(lambda: _api_with_stage(StageSpec(throttle_rate=20, throttle_burst=40)))
    stage = plan.one("aws:apigateway/stage:Stage")
    assert stage.inputs["xrayTracingEnabled"] is True
    access = stage.inputs["accessLogSettings"]
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "access-logs")
    assert access["destinationArn"] == group.outputs["arn"]
    assert json.loads(access["format"])["requestId"] == "$context.requestId"
    assert group.inputs["retentionInDays"] == 30
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs
    assert settings["methodPath"] == "*/*"
    assert settings["settings"]["throttlingRateLimit"] == 20
    assert settings["settings"]["throttlingBurstLimit"] == 40
    assert settings["settings"]["dataTraceEnabled"] is False
    assert settings["settings"]["loggingLevel"] == "ERROR"
    api_id = plan.one("aws:apigateway/restApi:RestApi").id
    execution = plan.one("aws:cloudwatch/logGroup:LogGroup", "execution-logs").inputs
    assert execution["name"] == f"API-Gateway-Execution-Logs_{api_id}/v1"
    assert execution["retentionInDays"] == 30
    deployment = plan.one("aws:apigateway/deployment:Deployment").inputs
    assert deployment["triggers"]["redeployment"]


def test_stage_spec_rejects():
    with pytest.raises(ValueError, match="throttle_rate must be positive"):
        StageSpec(throttle_rate=0)
    with pytest.raises(ValueError, match="stage_name must be alphanumeric"):
        StageSpec(stage_name="v 1")


def test_api_gateway_account_role(build):
    plan = build(lambda: ApiGatewayAccount("apigw"))
    account = plan.one("aws:apigateway/account:Account")
    role = plan.one("aws:iam/role:Role")
    assert account.property_dependencies["cloudwatchRoleArn"] == [role.urn]
    assert "apigateway.amazonaws.com" in role.inputs["assumeRolePolicy"]
    # Its own write-only policy, not AmazonAPIGatewayPushToCloudWatchLogs, which also reads
    # every log group in the account (logs:GetLogEvents, logs:FilterLogEvents on "*").
    assert plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    groups = "arn:aws:logs:eu-west-1:123456789012:log-group:*"
    statements = {
        tuple(s["Action"]): s["Resource"]
        for s in policy(plan.one("aws:iam/rolePolicy:RolePolicy"))["Statement"]
    }
    assert statements == {
        ("logs:CreateLogGroup", "logs:DescribeLogStreams"): groups,
        ("logs:CreateLogStream", "logs:PutLogEvents"): f"{groups}:log-stream:*",
        ("logs:DescribeLogGroups",): "*",
    }
    assert plan.one("aws:iam/rolePolicy:RolePolicy").urn in account.dependencies


def test_alarm_topic_lets_cloudwatch_publish_with_a_customer_key(build):
    from components.core.alarms import AlarmTopic

    plan = build(lambda: AlarmTopic("alarms"))
    key = plan.one("aws:kms/key:Key")
    topic = plan.one("aws:sns/topic:Topic")
    assert key.inputs["enableKeyRotation"] is True
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["CloudWatchPublishes"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    topic_policy = policy(plan.one("aws:sns/topicPolicy:TopicPolicy"))
    sids = {s["Sid"]: s for s in topic_policy["Statement"]}
    assert sids["CloudWatchAlarms"]["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "123456789012"
    }
    assert sids["DenyInsecureTransport"]["Effect"] == "Deny"


# IAM ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["*", "sqs:*", "sqs:Send*", "SendMessage"])
def test_statement_rejects_wildcard_or_bare_actions(action):
    with pytest.raises(ValueError, match="must be an exact 'service:Action'"):
        iam.Statement([action], ["arn:aws:sqs:eu-west-1:123456789012:q"])


@pytest.mark.parametrize("resource", ["*", "my-queue"])
def test_statement_rejects_unscoped_resources(resource):
    with pytest.raises(ValueError, match="must be an ARN"):
        iam.Statement(["sqs:SendMessage"], [resource])


def test_only_actions_that_accept_nothing_else_are_granted_on_star():
    iam.Statement(["dynamodb:ListStreams"], ["*"])
    with pytest.raises(ValueError, match="must be an ARN"):
        iam.Statement(["dynamodb:ListStreams", "dynamodb:GetRecords"], ["*"])


def test_star_only_actions_are_the_ones_aws_lists_without_a_resource_type():
    from serverless_wa.rules._actions import accepts

    for action in sorted(iam.STAR_ONLY_ACTIONS):
        accepted = accepts(action)
        assert accepted is not None and accepted.only_star, action


def test_stream_reads_grant_list_streams_on_star_alone():
    stream = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/x"
    reads, listing = iam.dynamodb_stream_read(stream)
    assert (list(reads.actions), list(reads.resources)) == (
        ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
        [stream],
    )
    assert (list(listing.actions), list(listing.resources)) == (["dynamodb:ListStreams"], ["*"])


@pytest.mark.parametrize(
    ("service", "pinned"),
    [
        ("events.amazonaws.com", True),
        ("pipes.amazonaws.com", True),
        ("scheduler.amazonaws.com", True),
        ("states.amazonaws.com", True),
        ("firehose.amazonaws.com", True),
        ("lambda.amazonaws.com", False),
        ("apigateway.amazonaws.com", False),
    ],
)
def test_service_roles_of_confused_deputy_services_are_pinned_to_the_account(
    build, service, pinned
):
    def program():
        iam.service_role(scope(), "svc", service, [])

    plan = build(program)
    (statement,) = json.loads(plan.one("aws:iam/role:Role").inputs["assumeRolePolicy"])["Statement"]
    # Firehose passes the account as the external id, the others as aws:SourceAccount
    key = "sts:ExternalId" if service == "firehose.amazonaws.com" else "aws:SourceAccount"
    expected = {"StringEquals": {key: "123456789012"}} if pinned else None
    assert statement.get("Condition") == expected


def test_a_trust_policy_can_also_pin_the_source_arn(build):
    rule = "arn:aws:events:eu-west-1:123456789012:rule/r"

    def program():
        iam.service_role(scope(), "svc", "events.amazonaws.com", [], source_arn=rule)

    plan = build(program)
    (statement,) = json.loads(plan.one("aws:iam/role:Role").inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnEquals": {"aws:SourceArn": rule},
    }


def test_events_put_pins_the_callers_sources(build):
    bus = "arn:aws:events:eu-west-1:123456789012:event-bus/default"
    rendered = {}

    def program():
        source = pulumi.Output.from_input("orders.saga")
        document = iam.policy_document([iam.events_put(bus, [source, "orders.saga", "b.x"])])
        document.apply(lambda text: rendered.setdefault("doc", json.loads(text)))

    build(program)
    (statement,) = rendered["doc"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"events:source": ["b.x", "orders.saga"]}}
    with pytest.raises(ValueError, match="needs the event sources"):
        iam.events_put(bus, [])


def test_policy_document_renders_resolved_arns(build):
    rendered = {}

    def program():
        queue = aws.sqs.Queue("q", name="q")
        document = iam.policy_document([iam.sqs_send(queue.arn), iam.dynamodb_put("arn:aws:x")])
        document.apply(lambda text: rendered.setdefault("doc", json.loads(text)))

    build(program)
    send, put = rendered["doc"]["Statement"]
    assert send == {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": "arn:aws:sqs:eu-west-1:123456789012:q",
    }
    assert put["Action"] == ["dynamodb:PutItem"]


# Naming ------------------------------------------------------------------------------------


def test_physical_names_fit_and_stay_unique(build):
    names = {}

    def program():
        names["short"] = physical_name("hook", "consumer")
        names["long1"] = physical_name("a" * 60, "consumer")
        names["long2"] = physical_name("a" * 60, "publisher")

    build(program)
    assert names["short"] == "test-hook-consumer"
    assert len(names["long1"]) == 64 and len(names["long2"]) == 64
    assert names["long1"] != names["long2"]
