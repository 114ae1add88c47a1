"""The Lambda function block: Well-Architected defaults, concurrency, async failure handling."""

from __future__ import annotations

import pulumi
import pytest

from components.core import defaults
from components.core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from components.core.packaging import build as build_package
from components.core.scope import Scope
from components.core.settings import Settings
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"


class Owner(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("serverless-patterns:test:Owner", name, None, None)


def make(spec: FunctionSpec, settings: Settings | None = None) -> None:
    owner = Owner("owner")
    scope = Scope(owner, "owner", settings or Settings(log_retention_days=14))
    LambdaFunction(scope, "worker", spec, package=build_package("scalable_webhook"), service="t")


def test_defaults_are_well_architected(build):
    plan = build(lambda: make(FunctionSpec(handler="consumer.handler")))
    fn = plan.one(FN).inputs
    assert fn["tracingConfig"] == {"mode": "Active"}
    assert fn["loggingConfig"]["logFormat"] == "JSON"
    assert fn["loggingConfig"]["logGroup"] == f"/aws/lambda/{fn['name']}"
    assert fn["runtime"] == "python3.13"
    assert fn["architectures"] == ["arm64"]
    assert fn["memorySize"] == 256 and fn["timeout"] == 30
    assert "reservedConcurrentExecutions" not in fn
    assert fn["layers"] == [defaults.POWERTOOLS_LAYER_ARN.replace("{region}", "eu-west-1")]
    variables = fn["environment"]["variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "t"
    assert fn["name"] == "test-owner-worker"
    assert fn["sourceCodeHash"]

    group = plan.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert group["name"] == fn["loggingConfig"]["logGroup"]
    assert group["retentionInDays"] == 14


def test_role_is_its_own_and_scoped(build):
    plan = build(lambda: make(FunctionSpec(handler="consumer.handler")))
    fn = plan.one(FN)
    role = plan.one("aws:iam/role:Role")
    assert fn.property_dependencies["role"] == [role.urn]
    trust = role.inputs["assumeRolePolicy"]
    assert "lambda.amazonaws.com" in trust
    (logs,) = statements_of_role(plan, "worker-role")
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/test-owner-worker:log-stream:*"
    )
    xray = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert xray.inputs["policyArn"].endswith("AWSXRayDaemonWriteAccess")


def test_throttled_consumer_has_reserved_concurrency_and_tag(build):
    spec = FunctionSpec(handler="consumer.handler", reserved_concurrency=3, throttled=3)
    fn = build(lambda: make(spec)).one(FN).inputs
    assert fn["reservedConcurrentExecutions"] == 3
    assert fn["tags"][defaults.TAG_THROTTLED_CONSUMER] == "3"

    spec = FunctionSpec(handler="consumer.handler", reserved_concurrency=1, throttled=True)
    assert build(lambda: make(spec)).one(FN).inputs["tags"][defaults.TAG_THROTTLED_CONSUMER] == (
        "true"
    )


def test_async_invoke_config_has_bounded_retries_and_on_failure(build):
    dlq = "arn:aws:sqs:eu-west-1:123456789012:failures"
    spec = FunctionSpec(handler="consumer.handler", async_invoke=AsyncInvoke(on_failure_arn=dlq))
    plan = build(lambda: make(spec))
    config = plan.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert config["maximumRetryAttempts"] == 2
    assert config["maximumEventAgeInSeconds"] == 3600
    assert config["destinationConfig"]["onFailure"]["destination"] == dlq
    assert config["functionName"] == plan.one(FN).inputs["name"]


def test_alarms_on_errors_and_throttles_notify(build):
    settings = Settings(alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",))
    plan = build(lambda: make(FunctionSpec(handler="consumer.handler"), settings))
    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {"Errors", "Throttles"}
    for alarm in alarms.values():
        assert alarm["dimensions"] == {"FunctionName": "test-owner-worker"}
        assert alarm["alarmActions"] == list(settings.alarm_actions)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_size": 64}, "memory_size must be between 128"),
        ({"timeout_s": 901}, "timeout_s must be between 1 and 900"),
        ({"reserved_concurrency": 0}, "reserved_concurrency must be at least 1"),
        ({"throttled": True}, "a throttled consumer needs reserved_concurrency"),
    ],
)
def test_invalid_specs_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FunctionSpec(handler="consumer.handler", **kwargs)
