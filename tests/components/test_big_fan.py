"""BigFan under mocks: one subscription per route with its filter policy and raw delivery,
subscription redrive and queue DLQs, consumers with batch item failures, the direct SNS
integration with the status attribute, least privilege, the prod gate and argument checks."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from components.big_fan import DEFAULT_ROUTES, BigFan, BigFanArgs, filter_combinations
from components.core.settings import Settings
from preview import gate
from tests.helpers import children_of, statements_of_role

FN = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
ALARMS = ("arn:aws:sns:eu-west-1:123456789012:alarms",)
PROD = Settings(environment="prod", log_retention_days=365, alarm_actions=ALARMS)


def fan(**kwargs):
    return lambda: BigFan("fan", BigFanArgs(**kwargs))


def test_each_route_subscribes_its_queue_with_its_filter_policy_and_raw_delivery(build):
    plan = build(fan())
    topic = plan.one(TOPIC).outputs["arn"]
    subscriptions = {s.name.removeprefix("fan-"): s.inputs for s in plan.of_type(SUBSCRIPTION)}
    assert set(subscriptions) == {"created-subscription", "other-subscription"}
    for route in ("created", "other"):
        subscription = subscriptions[f"{route}-subscription"]
        assert subscription["topic"] == topic
        assert subscription["protocol"] == "sqs"
        assert subscription["endpoint"] == plan.one(QUEUE, f"{route}-queue").outputs["arn"]
        assert subscription["rawMessageDelivery"] is True
        assert subscription["filterPolicyScope"] == "MessageAttributes"
        assert json.loads(subscription["filterPolicy"]) == DEFAULT_ROUTES[route]
        redrive = plan.one(QUEUE, f"{route}-redrive").outputs["arn"]
        assert json.loads(subscription["redrivePolicy"]) == {"deadLetterTargetArn": redrive}
    assert json.loads(subscriptions["created-subscription"]["filterPolicy"]) == {
        "status": ["created"]
    }
    assert json.loads(subscriptions["other-subscription"]["filterPolicy"]) == {
        "status": [{"anything-but": ["created"]}]
    }


def test_each_queue_has_a_dlq_and_lets_only_this_topic_send(build):
    plan = build(fan(consumer_timeout_s=20, max_receive_count=4))
    topic = plan.one(TOPIC).outputs["arn"]
    for route in ("created", "other"):
        queue = plan.one(QUEUE, f"{route}-queue")
        dlq = plan.one(QUEUE, f"{route}-queue-dlq").outputs["arn"]
        assert json.loads(queue.inputs["redrivePolicy"]) == {
            "deadLetterTargetArn": dlq,
            "maxReceiveCount": 4,
        }
        assert queue.inputs["visibilityTimeoutSeconds"] == 120  # 6 x 20 s
        assert queue.inputs["sqsManagedSseEnabled"] is True
        policy = json.loads(
            plan.one("aws:sqs/queuePolicy:QueuePolicy", f"{route}-queue-policy").inputs["policy"]
        )
        (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
        assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": topic}


def test_each_consumer_reads_its_own_queue_with_batch_item_failures(build):
    plan = build(fan(consumer_concurrency=3, batch_size=5))
    mappings = {m.name.removeprefix("fan-"): m for m in plan.of_type(ESM)}
    assert set(mappings) == {"created-consumer-mapping", "other-consumer-mapping"}
    for route in ("created", "other"):
        mapping = mappings[f"{route}-consumer-mapping"]
        queue = plan.one(QUEUE, f"{route}-queue").outputs["arn"]
        consumer = plan.one(FN, f"{route}-consumer")
        assert mapping.inputs["eventSourceArn"] == queue
        assert mapping.property_dependencies["functionName"] == [consumer.urn]
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping.inputs["batchSize"] == 5
        assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 3}
        assert consumer.inputs["reservedConcurrentExecutions"] == 3
        assert consumer.inputs["environment"]["variables"]["ROUTE"] == route
        grants = statements_of_role(plan, f"{route}-consumer-role")
        consume = [s for s in grants if "sqs:ReceiveMessage" in s["Action"]]
        assert consume == [
            {
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                "Resource": queue,
            }
        ]


def test_the_api_publishes_the_body_with_its_status_attribute_to_this_topic_only(build):
    plan = build(fan())
    topic = plan.one(TOPIC)
    assert topic.inputs["tracingConfig"] == "Active"
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    method = plan.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["authorization"]) == ("POST", "AWS_IAM")
    assert method["requestValidatorId"]
    model = json.loads(plan.one("aws:apigateway/model:Model").inputs["schema"])
    assert model["required"] == ["status"]
    integration = plan.one("aws:apigateway/integration:Integration").inputs
    assert integration["type"] == "AWS"
    assert integration["uri"] == "arn:aws:apigateway:eu-west-1:sns:path//"
    form = parse_qs(integration["requestTemplates"]["application/json"])
    assert form["TopicArn"] == [topic.outputs["arn"]]
    assert form["Message"] == ["$util.urlEncode($input.body)"]
    assert form["MessageAttributes.entry.1.Name"] == ["status"]
    assert form["MessageAttributes.entry.1.Value.DataType"] == ["String"]
    assert form["MessageAttributes.entry.1.Value.StringValue"] == [
        "$util.urlEncode($input.path('$.status'))"
    ]
    assert statements_of_role(plan, "send-api-role") == [
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic.outputs["arn"]}
    ]
    assert plan.one("aws:apigateway/stage:Stage").inputs["xrayTracingEnabled"] is True


def test_custom_routes_and_body_scope(build):
    routes = {
        "big": {"total": [{"numeric": [">=", 100]}]},
        "eu": {"address": {"country": ["FR", "DE"]}},
        "vip": {"$or": [{"tier": ["gold"]}, {"status": [{"prefix": "vip-"}]}]},
    }
    plan = build(fan(routes=routes, filter_scope="MessageBody"))
    subscriptions = {s.name.removeprefix("fan-"): s.inputs for s in plan.of_type(SUBSCRIPTION)}
    assert {k: json.loads(v["filterPolicy"]) for k, v in subscriptions.items()} == {
        f"{name}-subscription": policy for name, policy in routes.items()
    }
    assert {v["filterPolicyScope"] for v in subscriptions.values()} == {"MessageBody"}
    assert len(plan.of_type(ESM)) == 3


def test_every_child_is_parented_to_the_component(build):
    plan = build(fan())
    component = plan.one("serverless-patterns:patterns:BigFan")
    children = children_of(plan, component)
    assert children and all(r.parent == component.urn for r in children)


def test_the_prod_gate_passes_with_the_defaults(build):
    plan = build(lambda: BigFan("fan", BigFanArgs(settings=PROD)))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    assert {f.id for f in report.findings} <= {"LOGS-002", "APIGW-010"}


def test_filter_combinations_follow_the_sns_count():
    assert filter_combinations({"a": [1, 2, 3], "b": ["x", "y"]}) == 6
    assert filter_combinations({"a": {"b": [1, 2], "c": [3]}}) == 2
    assert filter_combinations({"$or": [{"a": [1, 2]}, {"b": [3]}], "c": [4, 5]}) == 6


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({}, r"routes must hold between 1 and 20 routes \(got 0\)"),
        ({f"r{i}": {"status": ["x"]} for i in range(21)}, "routes must hold between 1 and 20"),
        ({"Created": {"status": ["created"]}}, "routes keys must be 1-32 lower-case"),
        ({"order-created": {"status": ["created"]}}, "routes keys must be 1-32 lower-case"),
        ({"a" * 33: {"status": ["created"]}}, "routes keys must be 1-32 lower-case"),
        ({"created": ["created"]}, r"routes: routes\['created'\] must be a filter policy map"),
        ({"created": {}}, "must be a non-empty mapping"),
        ({"created": {"status": "created"}}, "must be a non-empty list"),
        ({"created": {"status": []}}, "must be a non-empty list"),
        ({"created": {"status": [None]}}, "a string, number, boolean or operator object"),
        ({"created": {"status": [{"anything-but": {1, 2}}]}}, "not JSON-serialisable"),
        ({"created": {f"k{i}": ["v"] for i in range(6)}}, "at most 5 attributes"),
        ({"created": {"a": {"b": ["c"]}}}, "message attributes are flat"),
        (
            {"created": {"a": list(range(13)), "b": list(range(12))}},
            "has 156 combinations; SNS allows at most 150",
        ),
    ],
)
def test_invalid_routes_name_the_argument(routes, message):
    with pytest.raises(ValueError, match=message):
        BigFanArgs(routes=routes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filter_scope": "Body"}, "filter_scope must be one of MessageAttributes, MessageBody"),
        ({"consumer_concurrency": 0}, "consumer_concurrency must be between 1 and 1000"),
        ({"consumer_timeout_s": 901}, "consumer_timeout_s must be between 1 and 900"),
        ({"consumer_memory_size": 64}, "consumer_memory_size must be between 128 and 10240"),
        ({"batch_size": 11}, "batch_size must be between 1 and 10 with batching_window_s=0"),
        ({"batching_window_s": 301}, "batching_window_s must be between 0 and 300"),
        ({"max_receive_count": 0}, "max_receive_count must be between 1 and 1000"),
        ({"stage_name": "v/1"}, "stage_name must be 1-128"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn must be a regional WAFv2"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BigFanArgs(**kwargs)
