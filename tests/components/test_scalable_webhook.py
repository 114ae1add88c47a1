"""ScalableWebhook under mocks: wiring, concurrency coherence, IAM scope, defaults, args."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.core import defaults
from components.core.settings import Settings
from components.scalable_webhook import (
    ScalableWebhook,
    ScalableWebhookArgs,
    SignatureSpec,
    send_message_template,
)
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf"


def webhook(**kwargs):
    return lambda: ScalableWebhook("hook", ScalableWebhookArgs(**kwargs))


def test_consumer_concurrency_is_reserved_and_caps_the_mapping(build):
    plan = build(webhook(consumer_concurrency=4))
    consumer = plan.one(FN, "consumer")
    mapping = plan.one(ESM)
    assert consumer.inputs["reservedConcurrentExecutions"] == 4
    assert consumer.inputs["tags"][defaults.TAG_THROTTLED_CONSUMER] == "4"
    maximum = mapping.inputs["scalingConfig"]["maximumConcurrency"]
    assert 2 <= maximum <= consumer.inputs["reservedConcurrentExecutions"]
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["batchSize"] == 10
    assert mapping.inputs["maximumBatchingWindowInSeconds"] == 1
    assert mapping.property_dependencies["functionName"] == [consumer.urn]
    assert mapping.property_dependencies["eventSourceArn"] == [plan.one(QUEUE, "deliveries").urn]


def test_concurrency_one_relies_on_reserved_concurrency_alone(build):
    plan = build(webhook(consumer_concurrency=1))
    assert plan.one(FN, "consumer").inputs["reservedConcurrentExecutions"] == 1
    assert "scalingConfig" not in plan.one(ESM).inputs


def test_queue_visibility_and_redrive(build):
    plan = build(webhook(consumer_timeout_s=40, batching_window_s=2, max_receive_count=3))
    queue = plan.one(QUEUE, "deliveries").inputs
    dlq = plan.one(QUEUE, "deliveries-dlq")
    consumer = plan.one(FN, "consumer").inputs
    assert queue["visibilityTimeoutSeconds"] >= 6 * consumer["timeout"]
    assert json.loads(queue["redrivePolicy"]) == {
        "deadLetterTargetArn": dlq.outputs["arn"],
        "maxReceiveCount": 3,
    }
    assert queue["sqsManagedSseEnabled"] is True


def test_direct_integration_sends_to_sqs_with_a_scoped_role(build):
    plan = build(webhook(delivery_id_header="X-Delivery"))
    integration = plan.one("aws:apigateway/integration:Integration")
    queue = plan.one(QUEUE, "deliveries")
    assert integration.inputs["type"] == "AWS"
    assert integration.inputs["uri"] == (
        f"arn:aws:apigateway:eu-west-1:sqs:path/123456789012/{queue.inputs['name']}"
    )
    template = integration.inputs["requestTemplates"]["application/json"]
    assert template.startswith("Action=SendMessage&MessageBody=$util.urlEncode($input.body)")
    assert "'X-Delivery'" in template and "Name=deliveryId" in template
    assert "\n" not in template
    api_role = plan.one("aws:iam/role:Role", "api-role")
    assert integration.inputs["credentials"] == api_role.outputs["arn"]
    assert "apigateway.amazonaws.com" in api_role.inputs["assumeRolePolicy"]
    assert statements_of_role(plan, "api-role") == [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue.outputs["arn"]}
    ]
    method = plan.one("aws:apigateway/method:Method")
    assert method.inputs["httpMethod"] == "POST"
    assert (
        plan.one("aws:apigateway/resource:Resource", "source-resource").inputs["pathPart"]
        == "{source}"
    )
    assert plan.one("aws:apigateway/methodResponse:MethodResponse").inputs["statusCode"] == "202"
    assert [f.name for f in plan.of_type(FN)] == ["hook-consumer"]  # no publisher


def test_consumer_role_is_least_privilege(build):
    plan = build(webhook(signature=SignatureSpec(header="X-Hub-Signature-256", secret_arn=SECRET)))
    queue = plan.one(QUEUE, "deliveries").outputs["arn"]
    table = plan.one("aws:dynamodb/table:Table").outputs["arn"]
    by_action = {
        tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "consumer-role")
    }
    assert by_action[("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")] == (
        queue
    )
    assert by_action[("dynamodb:PutItem",)] == table
    assert by_action[("secretsmanager:GetSecretValue",)] == SECRET
    for statement in statements_of_role(plan, "consumer-role"):
        assert all("*" not in action for action in statement["Action"])
    variables = plan.one(FN, "consumer").inputs["environment"]["variables"]
    assert variables["SIGNATURE_SECRET_ARN"] == SECRET
    assert variables["SIGNATURE_ALGORITHM"] == "sha256"
    assert variables["TABLE_NAME"] == plan.one("aws:dynamodb/table:Table").inputs["name"]
    template = plan.one("aws:apigateway/integration:Integration").inputs["requestTemplates"]
    assert "Name=signature" in template["application/json"]


def test_stage_sink_table_and_outputs(build):
    outputs = {}

    def program():
        hook = ScalableWebhook("hook", ScalableWebhookArgs(throttle_rate=10, throttle_burst=20))
        for key, value in hook.exports.items():
            value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    throttling = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert (throttling["throttlingRateLimit"], throttling["throttlingBurstLimit"]) == (10, 20)
    table = plan.one("aws:dynamodb/table:Table").inputs
    assert table["hashKey"] == "id" and table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert outputs["url"].endswith("/v1/webhook")
    assert outputs["queue_url"].startswith("https://sqs.eu-west-1.amazonaws.com/")
    assert outputs["dlq_url"].endswith("-dlq")
    assert outputs["table_name"] == table["name"]


def test_api_key_by_default_in_a_usage_plan_with_quota(build):
    plan = build(webhook(throttle_rate=10, throttle_burst=20, daily_quota=500))
    assert plan.one("aws:apigateway/method:Method").inputs["apiKeyRequired"] is True
    usage = plan.one("aws:apigateway/usagePlan:UsagePlan").inputs
    assert usage["quotaSettings"] == {"limit": 500, "period": "DAY"}
    assert usage["throttleSettings"] == {"rateLimit": 10, "burstLimit": 20}
    api = plan.one("aws:apigateway/restApi:RestApi")
    assert usage["apiStages"][0]["apiId"] == api.id
    key = plan.one("aws:apigateway/usagePlanKey:UsagePlanKey")
    assert key.inputs["keyType"] == "API_KEY"
    assert key.property_dependencies["keyId"] == [plan.one("aws:apigateway/apiKey:ApiKey").urn]
    validator = plan.one("aws:apigateway/requestValidator:RequestValidator").inputs
    assert validator["validateRequestParameters"] is True


def test_public_webhook_has_no_key(build):
    plan = build(webhook(api_key_required=False))
    assert plan.one("aws:apigateway/method:Method").inputs["apiKeyRequired"] is False
    assert not plan.of_type("aws:apigateway/usagePlan:UsagePlan")
    assert not plan.of_type("aws:apigateway/apiKey:ApiKey")


def test_existing_sink_table_is_used_instead_of_a_new_one(build):
    def program():
        table = aws.dynamodb.Table(
            "mine",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            billing_mode="PAY_PER_REQUEST",
        )
        ScalableWebhook("hook", ScalableWebhookArgs(sink_table=table))

    plan = build(program)
    (table,) = plan.of_type("aws:dynamodb/table:Table")
    assert table.name == "mine"
    env = plan.one(FN, "consumer").property_dependencies["environment"]
    assert env == [table.urn]


def test_lambda_ingest_puts_a_publisher_in_front(build):
    plan = build(webhook(ingest="lambda", delivery_id_header="X-Delivery"))
    publisher = plan.one(FN, "publisher")
    integration = plan.one("aws:apigateway/integration:Integration")
    assert integration.inputs["type"] == "AWS_PROXY"
    assert integration.inputs["uri"] == publisher.outputs["invokeArn"]
    permission = plan.one("aws:lambda/permission:Permission").inputs
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"].endswith("/*/POST/webhook/*")
    assert publisher.inputs["timeout"] == 10
    assert "reservedConcurrentExecutions" not in publisher.inputs
    assert publisher.inputs["environment"]["variables"]["DELIVERY_ID_HEADER"] == "X-Delivery"
    queue = plan.one(QUEUE, "deliveries").outputs["arn"]
    assert statements_of_role(plan, "publisher-role")[1] == {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": queue,
    }
    assert all(not r.name.endswith("api-role") for r in plan.of_type("aws:iam/role:Role"))


def test_every_child_is_parented_to_the_component(build):
    plan = build(webhook())
    component = plan.one("serverless-patterns:patterns:ScalableWebhook")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert all(r.name.startswith("hook-") for r in children)


def test_prod_settings_reach_the_children(build):
    settings = Settings(environment="prod", log_retention_days=365, tags={"team": "x"})
    plan = build(lambda: ScalableWebhook("hook", ScalableWebhookArgs(settings=settings)))
    assert plan.one("aws:dynamodb/table:Table").inputs["deletionProtectionEnabled"] is True
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {365}
    assert plan.one(FN).inputs["tags"]["team"] == "x"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ingest": "kafka"}, "ingest must be one of direct, lambda"),
        ({"consumer_concurrency": 0}, "consumer_concurrency must be between 1 and 1000"),
        ({"batch_size": 11, "batching_window_s": 0}, "batch_size must be between 1 and 10"),
        ({"batch_size": 0}, "batch_size must be between 1 and 10000"),
        ({"consumer_timeout_s": 0}, "timeout_s must be between 1 and 900"),
        ({"max_receive_count": 0}, "max_receive_count must be between 1 and 1000"),
        ({"throttle_rate": -1}, "throttle_rate must be positive"),
        ({"delivery_id_header": "X Delivery"}, "delivery_id_header must be an HTTP header"),
        ({"daily_quota": 0}, "daily_quota must be at least 1"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScalableWebhookArgs(**kwargs)


def test_signature_spec_checks():
    with pytest.raises(ValueError, match=r"signature\.secret_arn must be a Secrets Manager ARN"):
        SignatureSpec(header="X-Sig", secret_arn="arn:aws:s3:::bucket")
    with pytest.raises(ValueError, match=r"signature\.algorithm must be one of"):
        SignatureSpec(header="X-Sig", secret_arn=SECRET, algorithm="md5")  # type: ignore[arg-type]


def test_template_adds_optional_attributes_only_when_present():
    template = send_message_template(
        ScalableWebhookArgs(
            delivery_id_header="X-Delivery",
            signature=SignatureSpec(header="X-Sig", secret_arn=SECRET),
        )
    )
    assert template.count("#if(") == 2
    assert template.count("#set($n = $n + 1)") == 2
