"""EventBridgeEtl under mocks: the landing notification and its queue policy, the bus and its
rules with queue targets (retry policy, DLQ), the alerts topic, reserved concurrency on all
four consumers, least privilege (PutEvents on the bus only, with our source), existing
resources, argument checks and the prod gate."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.core import defaults
from components.core.settings import Settings
from components.eventbridge_etl import EventBridgeEtl, EventBridgeEtlArgs
from preview import gate
from tests.helpers import children_of, policy, statements_of_role

FN = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
BUS = "aws:cloudwatch/eventBus:EventBus"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
TABLE = "aws:dynamodb/table:Table"
TOPIC = "aws:sns/topic:Topic"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STAGES = ("extract", "transform", "load", "observe")


def etl(**kwargs):
    return lambda: EventBridgeEtl("etl", EventBridgeEtlArgs(**kwargs))


def test_the_landing_bucket_notifies_the_extract_queue_on_csv_under_the_prefix(build):
    plan = build(etl(landing_prefix="uploads/"))
    (config,) = plan.one("aws:s3/bucketNotification:BucketNotification").inputs["queues"]
    assert config["queueArn"] == plan.one(QUEUE, "etl-extract-queue").outputs["arn"]
    assert config["events"] == ["s3:ObjectCreated:*"]
    assert (config["filterPrefix"], config["filterSuffix"]) == ("uploads/", ".csv")
    bucket = plan.one("aws:s3/bucket:Bucket").outputs["arn"]
    statements = policy(plan.one(QUEUE_POLICY, "etl-extract-queue-policy"))["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": bucket}
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"].isdigit()
    assert any(s["Effect"] == "Deny" for s in statements)  # TLS only


def test_rules_route_each_event_type_to_its_queue_with_retries_and_a_dlq(build):
    plan = build(etl())
    source = "etl.etl"
    bus = plan.one(BUS)
    expected = {
        "transform": {"source": [source], "detail-type": ["RecordExtracted"]},
        "load": {"source": [source], "detail-type": ["RecordTransformed"]},
        "observe": {"source": [source]},
        "alerts": {"source": [source], "detail-type": ["RecordFailed"]},
    }
    for route, pattern in expected.items():
        rule = plan.one(RULE, f"etl-{route}-rule")
        assert json.loads(rule.inputs["eventPattern"]) == pattern
        assert rule.inputs["eventBusName"] == bus.outputs["name"]
        target = plan.one(TARGET, f"etl-{route}-target").inputs
        assert target["retryPolicy"] == {
            "maximumRetryAttempts": defaults.EVENT_TARGET_RETRY_ATTEMPTS,
            "maximumEventAgeInSeconds": defaults.EVENT_TARGET_MAX_EVENT_AGE_S,
        }
        dlq = plan.one(QUEUE, f"etl-{route}-target-dlq")
        assert target["deadLetterConfig"]["arn"] == dlq.outputs["arn"]
        dlq_policy = policy(plan.one(QUEUE_POLICY, f"etl-{route}-target-dlq-policy"))
        (sender,) = [s for s in dlq_policy["Statement"] if s["Effect"] == "Allow"]
        assert sender["Condition"]["ArnEquals"] == {"aws:SourceArn": rule.outputs["arn"]}
        if route == "alerts":
            assert target["arn"] == plan.one(TOPIC).outputs["arn"]
            continue
        queue = plan.one(QUEUE, f"etl-{route}-queue")
        assert target["arn"] == queue.outputs["arn"]
        queue_policy = policy(plan.one(QUEUE_POLICY, f"etl-{route}-queue-policy"))
        (allow,) = [s for s in queue_policy["Statement"] if s["Effect"] == "Allow"]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": rule.outputs["arn"]}


def test_every_queue_has_its_own_dlq_and_outlasts_its_consumer(build):
    plan = build(etl())
    for stage in STAGES:
        queue = plan.one(QUEUE, f"etl-{stage}-queue").inputs
        dlq = plan.one(QUEUE, f"etl-{stage}-queue-dlq")
        redrive = json.loads(queue["redrivePolicy"])
        assert redrive == {
            "deadLetterTargetArn": dlq.outputs["arn"],
            "maxReceiveCount": defaults.DLQ_MAX_RECEIVE_COUNT,
        }
        assert queue["sqsManagedSseEnabled"] is True
        timeout = plan.one(FN, f"etl-{stage}").inputs["timeout"]
        assert queue["visibilityTimeoutSeconds"] >= 6 * timeout
    unsent = plan.one(QUEUE, "etl-unsent").inputs
    assert unsent["tags"][defaults.TAG_DLQ] == "true"
    assert unsent["messageRetentionSeconds"] == defaults.DLQ_RETENTION_S


def test_all_four_consumers_have_reserved_concurrency_and_partial_batch_failures(build):
    plan = build(etl(consumer_concurrency=3))
    sizes = {
        "extract": (1024, 300),
        "transform": (256, 30),
        "load": (256, 30),
        "observe": (128, 10),
    }
    for stage in STAGES:
        function = plan.one(FN, f"etl-{stage}")
        inputs = function.inputs
        assert inputs["reservedConcurrentExecutions"] == 3
        assert inputs["tags"][defaults.TAG_THROTTLED_CONSUMER] == "3"
        assert (inputs["memorySize"], inputs["timeout"]) == sizes[stage]
        assert inputs["tracingConfig"] == {"mode": "Active"}
        mapping = next(
            m
            for m in plan.of_type(ESM)
            if m.property_dependencies["functionName"] == [function.urn]
        ).inputs
        assert mapping["eventSourceArn"] == plan.one(QUEUE, f"etl-{stage}-queue").outputs["arn"]
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["scalingConfig"] == {"maximumConcurrency": 3}
        assert mapping["batchSize"] == (1 if stage == "extract" else 10)
    single = build(etl(consumer_concurrency=1))
    assert {f.inputs["reservedConcurrentExecutions"] for f in single.of_type(FN)} == {1}
    assert all("scalingConfig" not in m.inputs for m in single.of_type(ESM))  # SQS's floor is 2


def test_put_events_is_allowed_on_the_bus_only_with_the_pipeline_source(build):
    plan = build(etl(event_source="acme.etl"))
    bus = plan.one(BUS).outputs["arn"]
    for stage in ("extract", "transform", "load"):
        (put,) = [
            s
            for s in statements_of_role(plan, f"etl-{stage}-role")
            if "events:PutEvents" in s["Action"]
        ]
        assert put["Action"] == ["events:PutEvents"]
        assert put["Resource"] == bus
        assert put["Condition"] == {"StringEquals": {"events:source": ["acme.etl"]}}
    observe = statements_of_role(plan, "etl-observe-role")
    assert not any("events:PutEvents" in s["Action"] for s in observe)
    for stage in STAGES:
        for statement in statements_of_role(plan, f"etl-{stage}-role"):
            assert all("*" not in action for action in statement["Action"])
            resources = statement["Resource"]
            assert "*" not in ([resources] if isinstance(resources, str) else resources)


def test_each_stage_gets_exactly_its_own_grants(build):
    plan = build(etl())
    bucket = plan.one("aws:s3/bucket:Bucket").outputs["arn"]
    table = plan.one(TABLE).outputs["arn"]
    unsent = plan.one(QUEUE, "etl-unsent").outputs["arn"]

    def grants(stage):
        return {
            tuple(s["Action"]): s["Resource"]
            for s in statements_of_role(plan, f"etl-{stage}-role")
            if not s["Action"][0].startswith("logs:")
        }

    extract = grants("extract")
    assert extract[("s3:GetObject", "s3:GetObjectVersion")] == f"{bucket}/incoming/*"
    assert extract[("sqs:SendMessage",)] == unsent
    assert grants("load")[("dynamodb:PutItem",)] == table
    assert set(grants("observe")) == {
        ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
    }
    variables = plan.one(FN, "etl-extract").inputs["environment"]["variables"]
    assert variables["MAX_FILE_MB"] == "50" and variables["MAX_ROWS"] == "100000"
    assert variables["LANDING_PREFIX"] == "incoming/"
    assert variables["UNSENT_QUEUE_URL"] == plan.one(QUEUE, "etl-unsent").outputs["url"]
    load = plan.one(FN, "etl-load").inputs["environment"]["variables"]
    assert load["TABLE_NAME"] == plan.one(TABLE).inputs["name"]


def test_the_bus_is_archived_and_the_alerts_topic_has_a_key_eventbridge_may_use(build):
    plan = build(etl(archive_retention_days=14))
    archive = plan.one("aws:cloudwatch/eventArchive:EventArchive").inputs
    assert archive["eventSourceArn"] == plan.one(BUS).outputs["arn"]
    assert archive["retentionDays"] == 14
    topic = plan.one(TOPIC).inputs
    key = plan.one("aws:kms/key:Key")
    assert topic["kmsMasterKeyId"] == key.outputs["arn"]
    assert topic["tracingConfig"] == "Active"
    assert key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    (service,) = [s for s in statements if "Service" in s["Principal"]]
    assert service["Principal"] == {"Service": "events.amazonaws.com"}
    assert service["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    topic_policy = json.loads(plan.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    (publisher,) = [s for s in topic_policy["Statement"] if s["Effect"] == "Allow"]
    assert publisher["Condition"]["ArnLike"] == {
        "aws:SourceArn": plan.one(RULE, "etl-alerts-rule").outputs["arn"]
    }
    assert not build(etl(archive_retention_days=None)).of_type(
        "aws:cloudwatch/eventArchive:EventArchive"
    )


def test_a_cmk_encrypts_the_bus_bucket_and_topic_and_the_extractor_may_decrypt(build):
    plan = build(etl(kms_key_arn=KEY_ARN))
    assert plan.one(BUS).inputs["kmsKeyIdentifier"] == KEY_ARN
    assert plan.one(TOPIC).inputs["kmsMasterKeyId"] == KEY_ARN
    assert not plan.of_type("aws:kms/key:Key")
    encryption = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert encryption == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}
    decrypt = [
        s for s in statements_of_role(plan, "etl-extract-role") if s["Action"] == ["kms:Decrypt"]
    ]
    assert decrypt == [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": KEY_ARN}]


def test_failed_rows_are_alarmed_on_volume(build):
    plan = build(etl(failed_alarm_threshold=25))
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "failed-rows").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Events", "MatchedEvents")
    assert alarm["dimensions"] == {
        "EventBusName": plan.one(BUS).inputs["name"],
        "RuleName": plan.one(RULE, "etl-alerts-rule").inputs["name"],
    }
    assert (alarm["threshold"], alarm["period"], alarm["statistic"]) == (25, 300, "Sum")


def test_existing_bus_and_table_are_used_instead_of_new_ones(build):
    def program():
        bus = aws.cloudwatch.EventBus("shared-bus", name="shared")
        table = aws.dynamodb.Table(
            "rows",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        )
        EventBridgeEtl("etl", EventBridgeEtlArgs(bus=bus, sink_table=table))

    plan = build(program)
    (bus,) = plan.of_type(BUS)
    (table,) = plan.of_type(TABLE)
    assert (bus.name, table.name) == ("shared-bus", "rows")
    assert not plan.of_type("aws:cloudwatch/eventArchive:EventArchive")
    assert all(r.inputs["eventBusName"] == "shared" for r in plan.of_type(RULE))
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.partition(" is an existing resource")[0] for w in warnings] == ["bus", "sink_table"]


def test_outputs_name_the_bucket_bus_table_topic_and_queues(build):
    outputs = {}

    def program():
        component = EventBridgeEtl("etl", EventBridgeEtlArgs())
        for key, value in component.exports.items():
            pulumi.Output.from_input(value).apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    assert outputs["bus_name"] == plan.one(BUS).outputs["name"]
    assert outputs["table_name"] == plan.one(TABLE).outputs["name"]
    assert outputs["alerts_topic_arn"] == plan.one(TOPIC).outputs["arn"]
    assert outputs["bucket_name"] == plan.one("aws:s3/bucket:Bucket").outputs["bucket"]
    assert outputs["queue_urls"] == {
        **{stage: plan.one(QUEUE, f"etl-{stage}-queue").outputs["url"] for stage in STAGES},
        "unsent": plan.one(QUEUE, "etl-unsent").outputs["url"],
    }


def test_every_child_is_parented_to_the_component(build):
    plan = build(etl())
    component = plan.one("serverless-patterns:patterns:EventBridgeEtl")
    children = children_of(plan, component)
    assert children and all(r.parent == component.urn for r in children)


def test_the_prod_gate_has_no_mandatory_finding(build):
    settings = Settings(
        environment="prod",
        log_retention_days=365,
        alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",),
    )
    plan = build(etl(settings=settings, kms_key_arn=KEY_ARN))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    advised = {f.id for f in report.findings}
    assert advised.isdisjoint({"SQS-001", "EVENTS-004", "EVENTS-005", "IAM-010"}), advised


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"extract_mode": "fargate"}, "extract_mode='fargate' is not implemented yet"),
        ({"extract_mode": "ecs"}, "extract_mode must be one of lambda, fargate"),
        ({"consumer_concurrency": 0}, "consumer_concurrency must be between 1 and 1000"),
        ({"max_file_mb": 0}, "max_file_mb must be between 1 and 1024"),
        ({"max_rows": 2_000_000}, "max_rows must be between 1 and 1000000"),
        ({"landing_prefix": "/incoming"}, "landing_prefix must be at most 1024"),
        ({"id_column": ""}, "id_column must be 1-255 characters"),
        ({"event_source": "aws.s3"}, "event_source must be 1-256 letters"),
        ({"archive_retention_days": -1}, "archive_retention_days must be 0"),
        ({"kms_key_arn": "alias/etl"}, "kms_key_arn must be a KMS key ARN"),
        ({"failed_alarm_threshold": -1}, "failed_alarm_threshold must be between 0"),
    ],
)
def test_invalid_arguments_are_refused_before_any_resource(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EventBridgeEtlArgs(**kwargs)
