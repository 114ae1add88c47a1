"""XRayTracer under mocks: every hop traces, every async edge has its failure path, one
X-Ray group and one fault-rate alarm per flow, the Region comes from the provider, and the
policy pack's tracing rules find nothing."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.core.settings import Settings
from components.xray_tracer import FLOWS, XRayTracer, XRayTracerArgs, group_filter
from preview import gate
from tests.helpers import children_of, statements_of_role

FN = "aws:lambda/function:Function"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
GROUP = "aws:xray/group:Group"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
INTEGRATION = "aws:apigateway/integration:Integration"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
ALARM_TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"
SNS_INVOKED = ("dynamo-flow", "sqs-flow", "http-flow", "sns-flow", "sns-consumer")
# Tracing rules: every one must stay silent on this pattern, with no exemption.
TRACING_RULES = {"LAMBDA-001", "APIGW-001", "SNS-002", "STACK-012", "STACK-013"}


def tracer(**kwargs):
    return lambda: XRayTracer("tracer", XRayTracerArgs(**kwargs))


def fault_rate_alarms(plan):
    return [a for a in plan.of_type(ALARM) if a.name.endswith("-fault-rate")]


def test_every_hop_traces(build):
    plan = build(tracer())
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["dataTraceEnabled"] is False
    assert json.loads(stage["accessLogSettings"]["format"])["xrayTraceId"] == "$context.xrayTraceId"
    functions = plan.of_type(FN)
    assert len(functions) == 6
    for function in functions:
        assert function.inputs["tracingConfig"] == {"mode": "Active"}
        assert function.inputs["loggingConfig"]["logFormat"] == "JSON"
        assert (function.inputs["memorySize"], function.inputs["timeout"]) == (256, 10)
    topics = plan.of_type(TOPIC)
    assert sorted(t.name for t in topics) == ["tracer-fanout", "tracer-second"]
    for topic in topics:
        assert topic.inputs["tracingConfig"] == "Active"
        assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    # One X-Ray resource policy lets SNS trace every topic of the account (five per account).
    (policy,) = plan.of_type("aws:xray/resourcePolicy:ResourcePolicy")
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    pattern = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    assert all(t.outputs["arn"].startswith(pattern.rstrip("*")) for t in topics)


def test_the_api_publishes_the_request_path_to_the_fanout_topic(build):
    plan = build(tracer())
    resource = plan.one("aws:apigateway/resource:Resource", "proxy-resource").inputs
    assert resource["pathPart"] == "{proxy+}"
    method = plan.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["authorization"]) == ("GET", "AWS_IAM")
    assert method["requestParameters"] == {"method.request.path.proxy": True}
    integration = plan.one(INTEGRATION).inputs
    assert integration["type"] == "AWS"
    assert integration["uri"] == "arn:aws:apigateway:eu-west-1:sns:path//"
    fanout = plan.one(TOPIC, "fanout").outputs["arn"]
    template = integration["requestTemplates"]["application/json"]
    assert "Action=Publish" in template
    assert f"TopicArn={fanout.replace(':', '%3A')}" in template
    assert "Message=%2F$util.urlEncode($input.params('proxy'))" in template
    role = plan.one("aws:iam/role:Role", "fanout-api-role")
    assert integration["credentials"] == role.outputs["arn"]
    grants = statements_of_role(plan, "fanout-api-role")
    assert [(s["Action"], s["Resource"]) for s in grants] == [(["sns:Publish"], fanout)]


def test_the_integration_uri_follows_the_providers_region(build):
    plan = build(tracer(), config={"aws:region": "ap-southeast-2"})
    uri = plan.one(INTEGRATION).inputs["uri"]
    assert uri == "arn:aws:apigateway:ap-southeast-2:sns:path//"
    assert "eu-west-1" not in uri


def test_every_subscription_redrives_to_a_dlq_only_its_topic_may_write(build):
    plan = build(tracer())
    subscriptions = plan.of_type(SUBSCRIPTION)
    assert len(subscriptions) == 5
    queues = {q.outputs["arn"]: q for q in plan.of_type(QUEUE)}
    topics = {t.outputs["arn"] for t in plan.of_type(TOPIC)}
    for subscription in subscriptions:
        assert subscription.inputs["protocol"] == "lambda"
        assert subscription.inputs["topic"] in topics
        dlq = queues[json.loads(subscription.inputs["redrivePolicy"])["deadLetterTargetArn"]]
        assert dlq.name.endswith("-redrive")
    fanout = plan.one(TOPIC, "fanout").outputs["arn"]
    endpoints = {s.inputs["endpoint"] for s in subscriptions if s.inputs["topic"] == fanout}
    assert endpoints == {plan.one(FN, f"{flow}-flow").outputs["arn"] for flow in FLOWS}
    second = plan.one(SUBSCRIPTION, "sns-consumer-subscription").inputs
    assert second["topic"] == plan.one(TOPIC, "second").outputs["arn"]
    assert second["endpoint"] == plan.one(FN, "sns-consumer").outputs["arn"]


def test_sns_invoked_functions_have_an_on_failure_destination(build):
    plan = build(tracer())
    failures = plan.one(QUEUE, "failed-invocations").outputs["arn"]
    configs = {c.inputs["functionName"]: c.inputs for c in plan.of_type(INVOKE_CONFIG)}
    for suffix in SNS_INVOKED:
        config = configs[plan.one(FN, suffix).outputs["name"]]
        assert config["destinationConfig"]["onFailure"]["destination"] == failures
        assert config["maximumRetryAttempts"] == 2
        assert (("sqs:SendMessage",), failures) in {
            (tuple(s["Action"]), s["Resource"]) for s in statements_of_role(plan, f"{suffix}-role")
        }
    assert len(configs) == len(SNS_INVOKED)  # the SQS consumer is not invoked asynchronously


def test_the_sqs_consumer_reports_batch_item_failures_within_its_reservation(build):
    plan = build(tracer(consumer_concurrency=3))
    consumer = plan.one(FN, "sqs-consumer")
    mapping = plan.one(ESM).inputs
    assert mapping["eventSourceArn"] == plan.one(QUEUE, "hops").outputs["arn"]
    assert plan.one(ESM).property_dependencies["functionName"] == [consumer.urn]
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["scalingConfig"] == {"maximumConcurrency": 3}
    assert consumer.inputs["reservedConcurrentExecutions"] == 3
    hops = plan.one(QUEUE, "hops").inputs
    assert hops["visibilityTimeoutSeconds"] >= 6 * consumer.inputs["timeout"]
    assert json.loads(hops["redrivePolicy"])["maxReceiveCount"] == 5


def test_roles_are_least_privilege(build):
    plan = build(tracer())
    failures = plan.one(QUEUE, "failed-invocations").outputs["arn"]

    def grants(role: str) -> set[tuple[str, str]]:
        return {
            (action, s["Resource"])
            for s in statements_of_role(plan, f"{role}-role")
            for action in s["Action"]
            if not action.startswith("logs:")
        }

    table = plan.one("aws:dynamodb/table:Table").outputs["arn"]
    hops = plan.one(QUEUE, "hops").outputs["arn"]
    second = plan.one(TOPIC, "second").outputs["arn"]
    send_failures = ("sqs:SendMessage", failures)
    assert grants("dynamo-flow") == {("dynamodb:UpdateItem", table), send_failures}
    assert grants("sqs-flow") == {("sqs:SendMessage", hops), send_failures}
    assert grants("http-flow") == {send_failures}
    assert grants("sns-flow") == {("sns:Publish", second), send_failures}
    assert grants("sns-consumer") == {send_failures}
    assert grants("sqs-consumer") == {
        ("sqs:ReceiveMessage", hops),
        ("sqs:DeleteMessage", hops),
        ("sqs:GetQueueAttributes", hops),
    }


def test_the_hit_counter_is_ephemeral_keyed_by_path(build):
    plan = build(tracer(counter_ttl_days=7))
    table = plan.one("aws:dynamodb/table:Table").inputs
    assert table["hashKey"] == "path"
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table["billingMode"] == "PAY_PER_REQUEST"
    variables = plan.one(FN, "dynamo-flow").inputs["environment"]["variables"]
    assert variables["TABLE_NAME"] == table["name"]
    assert variables["COUNTER_TTL_S"] == str(7 * 86_400)


def test_the_http_flow_gets_explicit_timeouts_and_the_failure_rate(build):
    plan = build(
        tracer(
            http_target_url="https://example.com/health",
            http_connect_timeout_s=0.5,
            http_read_timeout_s=2,
            http_retries=2,
            failure_rate=0.25,
        )
    )
    variables = plan.one(FN, "http-flow").inputs["environment"]["variables"]
    assert {k: v for k, v in variables.items() if k.startswith(("HTTP_", "FAILURE"))} == {
        "HTTP_TARGET_URL": "https://example.com/health",
        "HTTP_CONNECT_TIMEOUT_S": "0.5",
        "HTTP_READ_TIMEOUT_S": "2",
        "HTTP_RETRIES": "2",
        "FAILURE_RATE": "0.25",
    }
    default = build(tracer()).one(FN, "http-flow").inputs["environment"]["variables"]
    assert default["FAILURE_RATE"] == "0"  # no injected faults unless asked for


def test_one_group_and_one_fault_rate_alarm_per_flow(build):
    plan = build(tracer())
    groups = plan.of_type(GROUP)
    assert len(groups) == len(FLOWS)
    for flow in FLOWS:
        group = plan.one(GROUP, f"{flow}-group").inputs
        entry = plan.one(FN, f"{flow}-flow").inputs["name"]
        assert group["filterExpression"] == group_filter(flow, entry)
        assert f'annotation.flow = "{flow}"' in group["filterExpression"]
        assert group["insightsConfiguration"]["insightsEnabled"] is True
        assert len(group["groupName"]) <= 32
    alarms = {a.name: a.inputs for a in fault_rate_alarms(plan)}
    assert len(alarms) == len(FLOWS)
    sqs = alarms["tracer-sqs-fault-rate"]
    assert sqs["threshold"] == 0.05
    metrics = {q["id"]: q for q in sqs["metricQueries"]}
    errors = {
        q["metric"]["dimensions"]["FunctionName"]
        for q in metrics.values()
        if q.get("metric", {}).get("metricName") == "Errors"
    }
    assert errors == {plan.one(FN, n).outputs["name"] for n in ("sqs-flow", "sqs-consumer")}
    assert metrics["total"]["metric"]["metricName"] == "Invocations"
    assert (
        metrics["total"]["metric"]["dimensions"]["FunctionName"]
        == (plan.one(FN, "sqs-flow").outputs["name"])
    )
    (returned,) = [q for q in metrics.values() if q.get("returnData")]
    assert "total" in returned["expression"] and "e1" in returned["expression"]


def test_groups_follow_the_enabled_flows(build):
    plan = build(tracer(flows=("dynamo", "http"), group_alarm_threshold=0.2))
    assert sorted(g.name for g in plan.of_type(GROUP)) == [
        "tracer-dynamo-group",
        "tracer-http-group",
    ]
    assert {a.inputs["threshold"] for a in fault_rate_alarms(plan)} == {0.2}
    assert len(fault_rate_alarms(plan)) == 2
    assert [t.name for t in plan.of_type(TOPIC)] == ["tracer-fanout"]
    assert not plan.of_type(ESM)
    assert len(plan.of_type(SUBSCRIPTION)) == 2
    bare = build(tracer(xray_groups=False))
    assert not bare.of_type(GROUP) and not fault_rate_alarms(bare)


def test_outputs(build):
    outputs: dict = {}

    def program():
        component = XRayTracer("tracer", XRayTracerArgs())
        for key, value in component.exports.items():
            pulumi.Output.from_input(value).apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    stage = plan.one("aws:apigateway/stage:Stage")
    assert outputs["url"] == stage.outputs["invokeUrl"]
    assert outputs["topic_arn"] == plan.one(TOPIC, "fanout").outputs["arn"]
    assert outputs["table_name"] == plan.one("aws:dynamodb/table:Table").outputs["name"]
    assert outputs["queue_url"] == plan.one(QUEUE, "hops").outputs["url"]
    assert sorted(outputs["group_names"]) == sorted(
        g.inputs["groupName"] for g in plan.of_type(GROUP)
    )
    assert outputs["failures_queue_url"] == plan.one(QUEUE, "failed-invocations").outputs["url"]


def test_an_existing_table_is_used_instead(build):
    def program():
        table = aws.dynamodb.Table(
            "mine",
            hash_key="path",
            attributes=[aws.dynamodb.TableAttributeArgs(name="path", type="S")],
            billing_mode="PAY_PER_REQUEST",
        )
        XRayTracer("tracer", XRayTracerArgs(table=table, flows=("dynamo",)))

    plan = build(program)
    (table,) = plan.of_type("aws:dynamodb/table:Table")
    assert table.name == "mine"
    variables = plan.one(FN, "dynamo-flow").inputs["environment"]["variables"]
    assert variables["TABLE_NAME"] == table.outputs["name"]


def test_every_child_is_parented_to_the_component(build):
    plan = build(tracer())
    component = plan.one("serverless-patterns:patterns:XRayTracer")
    children = [
        r
        for r in children_of(plan, component)
        if r.custom and not r.type.startswith("pulumi:providers:")
    ]
    assert len(children) > 50
    assert {r.parent for r in children} == {component.urn}


def test_prod_gate_passes_and_the_tracing_rules_find_nothing(build):
    settings = Settings(environment="prod", alarm_actions=(ALARM_TOPIC,))
    plan = build(lambda: XRayTracer("tracer", XRayTracerArgs(settings=settings)), stack="prod")
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    assert [f for f in report.findings if f.id in TRACING_RULES] == []
    assert report.exempted == []
    assert report.crashed == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flows": ()}, "flows must be distinct"),
        ({"flows": ("dynamo", "dynamo")}, "flows must be distinct"),
        ({"flows": ("kinesis",)}, "flows must be distinct"),
        ({"stage_name": "bad stage"}, "stage_name"),
        ({"http_target_url": "ftp://example.com"}, "http_target_url"),
        ({"http_connect_timeout_s": 0}, "http_connect_timeout_s must be between"),
        ({"http_read_timeout_s": 11}, "http_read_timeout_s must be between"),
        ({"http_retries": 4}, "http_retries must be between"),
        ({"http_read_timeout_s": 5, "http_retries": 1}, "must fit in the function's 10 s"),
        ({"failure_rate": 1.5}, "failure_rate must be between 0 and 1"),
        ({"failure_rate": -0.1}, "failure_rate must be between 0 and 1"),
        ({"group_alarm_threshold": 0}, "group_alarm_threshold"),
        ({"counter_ttl_days": 0}, "counter_ttl_days"),
        ({"consumer_concurrency": 1}, "consumer_concurrency must be between 2"),
        ({"log_retention_days": 2}, "log_retention_days must be one of"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn"),
        ({"throttle_rate": 0}, "throttle_rate"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        XRayTracerArgs(**kwargs)


def test_log_retention_overrides_the_stacks(build):
    plan = build(tracer(log_retention_days=7))
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert groups and {g.inputs["retentionInDays"] for g in groups} == {7}
