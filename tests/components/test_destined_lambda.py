"""DestinedLambda under mocks: the invoke config routes both outcomes to the bus, the two
rules and their targets, least privilege for the function and the API, the direct SNS
integration, an existing bus, the prod gate and argument checks."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import pulumi_aws as aws
import pytest

from components.core.settings import Settings
from components.destined_lambda import (
    PAYLOAD_SOURCE,
    DestinedLambda,
    DestinedLambdaArgs,
    failure_pattern,
    send_template,
    success_pattern,
)
from preview import gate
from tests.helpers import children_of, statements_of_role

FN = "aws:lambda/function:Function"
BUS = "aws:cloudwatch/eventBus:EventBus"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
ALARMS = ("arn:aws:sns:eu-west-1:123456789012:alarms",)
PROD = Settings(environment="prod", log_retention_days=365, alarm_actions=ALARMS)


def destined(**kwargs):
    return lambda: DestinedLambda("destined", DestinedLambdaArgs(**kwargs))


def _config_of(plan, function_suffix):
    function = plan.one(FN, function_suffix)
    (config,) = [
        c
        for c in plan.of_type(INVOKE_CONFIG)
        if c.property_dependencies.get("functionName") == [function.urn]
    ]
    return config.inputs


def test_the_invoke_config_sends_both_outcomes_to_the_bus(build):
    plan = build(destined(retry_attempts=1, max_event_age_s=900))
    bus = plan.one(BUS).outputs["arn"]
    config = _config_of(plan, "destined")
    assert config["destinationConfig"] == {
        "onSuccess": {"destination": bus},
        "onFailure": {"destination": bus},
    }
    assert (config["maximumRetryAttempts"], config["maximumEventAgeInSeconds"]) == (1, 900)
    variables = plan.one(FN, "destined").inputs["environment"]["variables"]
    assert variables["PAYLOAD_SOURCE"] == PAYLOAD_SOURCE


def test_the_function_may_put_events_on_this_bus_only(build):
    plan = build(destined())
    bus = plan.one(BUS).outputs["arn"]
    statements = statements_of_role(plan, "destined-role")
    put = [s for s in statements if "events:PutEvents" in s["Action"]]
    assert put == [
        {
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": bus,
            "Condition": {"StringEquals": {"events:source": ["lambda"]}},
        }
    ]
    # Nothing else but its own log writes: the routing is not in its code.
    others = {a for s in statements if s not in put for a in s["Action"]}
    assert others == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_two_rules_match_this_functions_records_on_the_bus(build):
    plan = build(destined())
    bus = plan.one(BUS)
    function_arn = plan.one(FN, "destined").outputs["arn"]
    rules = {r.name.removeprefix("destined-"): r.inputs for r in plan.of_type(RULE)}
    assert set(rules) == {"success-rule", "failure-rule"}
    assert json.loads(rules["success-rule"]["eventPattern"]) == success_pattern(function_arn)
    assert json.loads(rules["failure-rule"]["eventPattern"]) == failure_pattern(function_arn)
    assert {r["eventBusName"] for r in rules.values()} == {bus.outputs["name"]}
    success = json.loads(rules["success-rule"]["eventPattern"])["detail"]
    assert success["requestContext"]["condition"] == ["Success"]
    assert success["responsePayload"] == {"source": [PAYLOAD_SOURCE]}
    failure = json.loads(rules["failure-rule"]["eventPattern"])["detail"]
    assert {"responsePayload": {"errorType": [{"exists": True}]}} in failure["$or"]


@pytest.mark.parametrize("kind", ["success", "failure"])
def test_each_rule_targets_its_handler_with_retries_and_a_dlq(build, kind):
    plan = build(destined(target_retry_attempts=4, target_max_event_age_s=600))
    rule = plan.one(RULE, f"{kind}-rule")
    handler = plan.one(FN, f"on-{kind}")
    target = plan.one(TARGET, f"{kind}-target").inputs
    dlq = plan.one(QUEUE, f"{kind}-target-dlq").outputs["arn"]
    assert target["arn"] == handler.outputs["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 4, "maximumEventAgeInSeconds": 600}
    assert target["deadLetterConfig"] == {"arn": dlq}
    permission = plan.one("aws:lambda/permission:Permission", f"{kind}-invoke").inputs
    assert (permission["principal"], permission["sourceArn"]) == (
        "events.amazonaws.com",
        rule.outputs["arn"],
    )
    # EventBridge invokes the handler asynchronously: its own failures have a DLQ too.
    handler_dlq = plan.one(QUEUE, f"on-{kind}-dlq").outputs["arn"]
    assert _config_of(plan, f"on-{kind}")["destinationConfig"] == {
        "onFailure": {"destination": handler_dlq}
    }
    grants = statements_of_role(plan, f"on-{kind}-role")
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": handler_dlq} in grants


def test_sns_invokes_destined_with_a_redrive_dlq(build):
    plan = build(destined())
    topic = plan.one(TOPIC)
    assert topic.inputs["tracingConfig"] == "Active"
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    subscription = plan.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == (
        "lambda",
        plan.one(FN, "destined").outputs["arn"],
    )
    dlq = plan.one(QUEUE, "destined-redrive").outputs["arn"]
    assert json.loads(subscription["redrivePolicy"]) == {"deadLetterTargetArn": dlq}


def test_the_api_publishes_to_this_topic_only_with_a_role_of_its_own(build):
    plan = build(destined())
    topic = plan.one(TOPIC).outputs["arn"]
    method = plan.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["authorization"]) == ("GET", "AWS_IAM")
    assert method["requestParameters"] == {"method.request.querystring.mode": True}
    validator = plan.one("aws:apigateway/requestValidator:RequestValidator").inputs
    assert validator["validateRequestParameters"] is True
    integration = plan.one("aws:apigateway/integration:Integration")
    assert integration.inputs["type"] == "AWS"
    assert integration.inputs["uri"] == "arn:aws:apigateway:eu-west-1:sns:path//"
    role = plan.one("aws:iam/role:Role", "send-api-role")
    assert integration.inputs["credentials"] == role.outputs["arn"]
    assert "apigateway.amazonaws.com" in role.inputs["assumeRolePolicy"]
    assert statements_of_role(plan, "send-api-role") == [
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic}
    ]
    template = integration.inputs["requestTemplates"]["application/json"]
    assert template == send_template(topic)
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["dataTraceEnabled"] is False
    responses = {
        r.inputs["statusCode"]: r.inputs.get("selectionPattern")
        for r in plan.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
    }
    assert responses == {"200": None, "400": r"4\d{2}", "502": r"5\d{2}"}


def test_the_template_publishes_only_known_modes():
    topic = "arn:aws:sns:eu-west-1:123456789012:requests"
    template = send_template(topic)
    assert "\n" not in template
    branches = dict(re.findall(r'\$mode == "(\w+)"\)([^#]*)', template))
    assert set(branches) == {"succeed", "fail"}
    for mode, form in branches.items():
        fields = dict(part.split("=", 1) for part in form.split("&"))
        assert unquote(fields["TopicArn"]) == topic
        assert json.loads(unquote(fields["Message"])) == {
            "mode": mode,
            "requestId": "$context.requestId",
        }
    refused = template.split("#{else}")[1].removesuffix("#end")
    assert "Message=" not in refused  # SNS refuses it, the caller gets 400


def test_an_existing_bus_is_used_and_warned_about(build):
    def program():
        bus = aws.cloudwatch.EventBus("shared", name="shared")
        DestinedLambda("destined", DestinedLambdaArgs(bus=bus))

    plan = build(program)
    (bus,) = plan.of_type(BUS)
    assert bus.name == "shared"
    assert _config_of(plan, "destined")["destinationConfig"]["onSuccess"] == {
        "destination": bus.outputs["arn"]
    }
    assert {r.inputs["eventBusName"] for r in plan.of_type(RULE)} == {"shared"}
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("bus is an existing resource")


def test_an_archive_keeps_the_records_for_replay(build):
    plan = build(destined(archive_retention_days=14))
    archive = plan.one("aws:cloudwatch/eventArchive:EventArchive").inputs
    assert archive["retentionDays"] == 14
    assert archive["eventSourceArn"] == plan.one(BUS).outputs["arn"]
    assert not build(destined()).of_type("aws:cloudwatch/eventArchive:EventArchive")


def test_every_child_is_parented_to_the_component(build):
    plan = build(destined())
    component = plan.one("serverless-patterns:patterns:DestinedLambda")
    children = children_of(plan, component)
    assert children and all(r.parent == component.urn for r in children)


def test_the_prod_gate_passes_with_the_defaults(build):
    plan = build(lambda: DestinedLambda("destined", DestinedLambdaArgs(settings=PROD)))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    assert {f.id for f in report.findings} <= {"LOGS-002", "APIGW-010"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry_attempts": 3}, r"retry_attempts must be between 0 and 2 \(got 3\)"),
        ({"max_event_age_s": 59}, "max_event_age_s must be between 60 and 21600"),
        ({"max_event_age_s": 21601}, "max_event_age_s must be between 60 and 21600"),
        ({"target_retry_attempts": 186}, "target_retry_attempts must be between 0 and 185"),
        ({"target_max_event_age_s": 30}, "target_max_event_age_s must be between 60 and 86400"),
        ({"handler_timeout_s": 30}, "handler_timeout_s must be between 1 and 29"),
        ({"archive_retention_days": -1}, "archive_retention_days must be between 0"),
        ({"stage_name": "v 1"}, "stage_name must be 1-128"),
        ({"throttle_rate": 0}, "throttle_rate must be positive"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn must be a regional WAFv2"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DestinedLambdaArgs(**kwargs)


def test_an_archive_cannot_be_asked_of_an_existing_bus(build):
    def program():
        bus = aws.cloudwatch.EventBus("shared", name="shared")
        DestinedLambdaArgs(bus=bus, archive_retention_days=7)

    with pytest.raises(Exception, match="archive_retention_days applies to a new bus only"):
        build(program)
