"""CircuitBreakerService under mocks: the circuits table, the caller's limits and least
privilege, the chained timeouts, REST and HTTP APIs, the demo downstream, events only when
asked, the transition alarm, slots, arguments and the prod gate."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.circuit_breaker import (
    TABLE_BUDGET_MS,
    CircuitBreakerService,
    CircuitBreakerServiceArgs,
)
from components.core import defaults
from components.core.settings import Settings
from preview import gate
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
METHOD = "aws:apigateway/method:Method"
BUS = "aws:cloudwatch/eventBus:EventBus"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROUTE = "aws:apigatewayv2/route:Route"
URL = "https://quotes.example.com/latest"
WAF = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/quotes/0a1b2c3d-4e5f"
PROD = Settings(
    environment="prod",
    log_retention_days=365,
    alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",),
)


def service(**kwargs):
    kwargs.setdefault("downstream_url", None if kwargs.get("demo_downstream") else URL)
    return lambda: CircuitBreakerService("breaker", CircuitBreakerServiceArgs(**kwargs))


def exported(build, **kwargs):
    """(plan, the component's resolved outputs)."""
    outputs = {}

    def program():
        component = service(**kwargs)()
        for key, value in component.exports.items():
            value.apply(lambda v, k=key: outputs.setdefault(k, v))

    return build(program), outputs


def grants(plan, role):
    return {tuple(s["Action"]): s for s in statements_of_role(plan, role)}


def test_the_circuits_table_is_keyed_by_circuit_id_on_demand_with_backups(build):
    table = build(service()).one(TABLE).inputs
    assert table["hashKey"] == "circuitId"
    assert table["attributes"] == [{"name": "circuitId", "type": "S"}]
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}


def test_the_caller_has_explicit_limits_and_the_breaker_settings(build):
    plan = build(
        service(failure_threshold=5, success_threshold=3, open_ms=30_000, fail_mode="closed")
    )
    caller = plan.one(FN, "caller").inputs
    assert (caller["memorySize"], caller["timeout"]) == (256, 10)
    assert caller["tracingConfig"] == {"mode": "Active"}
    assert caller["architectures"] == ["arm64"]
    assert caller["loggingConfig"]["logFormat"] == "JSON"
    assert "reservedConcurrentExecutions" not in caller
    variables = caller["environment"]["variables"]
    assert variables["TABLE_NAME"] == plan.one(TABLE).inputs["name"]
    assert variables["DOWNSTREAM_URL"] == URL
    assert variables["CIRCUIT_ID"] == "quotes.example.com"  # one circuit per dependency
    assert (variables["FAILURE_THRESHOLD"], variables["SUCCESS_THRESHOLD"]) == ("5", "3")
    assert (variables["OPEN_MS"], variables["FAIL_MODE"]) == ("30000", "closed")
    assert (variables["CALL_TIMEOUT_MS"], variables["STATE_CACHE_MS"]) == ("2000", "1000")
    assert json.loads(variables["FALLBACK_BODY"]) == {"message": "Fallback"}
    assert "EVENT_BUS_NAME" not in variables and "DOWNSTREAM_AUTH" not in variables


def test_timeouts_are_chained_under_the_integration_limit(build):
    caller = build(service()).one(FN, "caller").inputs
    call_ms = int(caller["environment"]["variables"]["CALL_TIMEOUT_MS"])
    assert call_ms + TABLE_BUDGET_MS <= caller["timeout"] * 1000 < 29_000
    with pytest.raises(ValueError, match="call_timeout_ms must be between 100 and 7000"):
        CircuitBreakerServiceArgs(downstream_url=URL, call_timeout_ms=7001)
    with pytest.raises(ValueError, match="caller_timeout_s must be between 1 and 28"):
        CircuitBreakerServiceArgs(downstream_url=URL, caller_timeout_s=29)


def test_the_caller_may_only_read_and_update_its_table(build):
    plan = build(service())
    table = plan.one(TABLE).outputs["arn"]
    assert grants(plan, "caller-role")[("dynamodb:GetItem", "dynamodb:UpdateItem")] == {
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        "Resource": table,
    }
    actions = {a for s in statements_of_role(plan, "caller-role") for a in s["Action"]}
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert not plan.of_type(BUS)


def test_the_rest_api_routes_get_to_the_caller_traced_and_throttled(build):
    plan = build(service(throttle_rate=50, throttle_burst=80))
    methods = plan.of_type(METHOD)
    assert {(m.inputs["httpMethod"], m.inputs["authorization"]) for m in methods} == {
        ("GET", "AWS_IAM")
    }
    assert len(methods) == 2  # `/` and `/{proxy+}`
    resource = plan.one("aws:apigateway/resource:Resource").inputs
    assert resource["pathPart"] == "{proxy+}"
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"]
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (50, 80)
    assert settings["dataTraceEnabled"] is False
    permissions = [p.inputs for p in plan.of_type("aws:lambda/permission:Permission")]
    assert sorted(p["sourceArn"].rsplit("/*/", 1)[1] for p in permissions) == ["GET/", "GET/*"]
    assert {p["principal"] for p in permissions} == {"apigateway.amazonaws.com"}
    integrations = plan.of_type("aws:apigateway/integration:Integration")
    assert {i.inputs["type"] for i in integrations} == {"AWS_PROXY"}
    assert not plan.of_type("aws:apigatewayv2/api:Api")


def test_an_http_api_is_the_option_with_iam_routes_and_a_throttled_logged_stage(build):
    plan, outputs = exported(build, api_type="http")
    assert plan.one("aws:apigatewayv2/api:Api").inputs["protocolType"] == "HTTP"
    assert outputs["url"].endswith(".execute-api.eu-west-1.amazonaws.com/v1")
    routes = {r.inputs["routeKey"]: r.inputs for r in plan.of_type(ROUTE)}
    assert set(routes) == {"GET /", "GET /{proxy+}"}
    assert {r["authorizationType"] for r in routes.values()} == {"AWS_IAM"}
    stage = plan.one("aws:apigatewayv2/stage:Stage").inputs
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == defaults.API_THROTTLE_RATE
    assert json.loads(stage["accessLogSettings"]["format"])["requestId"]
    assert not plan.of_type("aws:apigateway/restApi:RestApi")


def test_events_and_the_put_permission_exist_only_with_publish_events(build):
    plan = build(service(publish_events=True, event_source="shop.quotes"))
    bus = plan.one(BUS)
    variables = plan.one(FN, "caller").inputs["environment"]["variables"]
    assert variables["EVENT_BUS_NAME"] == bus.inputs["name"]
    assert variables["EVENT_SOURCE"] == "shop.quotes"
    put = grants(plan, "caller-role")[("events:PutEvents",)]
    assert put["Resource"] == bus.outputs["arn"]
    assert put["Condition"] == {"StringEquals": {"events:source": ["shop.quotes"]}}
    _, outputs = exported(build, publish_events=True)
    assert outputs["bus_name"] == bus.inputs["name"]

    quiet, outputs = exported(build)
    assert not quiet.of_type(BUS)
    assert not any("events:PutEvents" in a for a in grants(quiet, "caller-role"))
    assert "bus_name" not in outputs


def test_the_alarm_watches_the_transition_metric(build):
    plan = build(service(circuit_id="quotes"))
    alarm = plan.one(ALARM, "circuit-opened").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("ServerlessPatterns", "CircuitOpened")
    assert (alarm["statistic"], alarm["threshold"]) == ("Sum", 0)
    assert alarm["dimensions"] == {
        "service": "circuit-breaker",
        "circuit": "quotes",
        "table": plan.one(TABLE).inputs["name"],
    }


@pytest.mark.parametrize("api_type", ["rest", "http"])
def test_the_demo_downstream_is_an_iam_route_the_caller_signs_for(build, api_type):
    plan = build(service(demo_downstream=True, demo_failure_rate=0.4, api_type=api_type))
    flaky = plan.one(FN, "flaky").inputs
    assert flaky["environment"]["variables"]["FAILURE_RATE"] == "0.4"
    caller = plan.one(FN, "caller").inputs["environment"]["variables"]
    assert caller["DOWNSTREAM_AUTH"] == "iam"
    assert caller["DOWNSTREAM_URL"].startswith("https://")
    assert caller["DOWNSTREAM_URL"].endswith(".execute-api.eu-west-1.amazonaws.com/v1/flaky")
    assert caller["CIRCUIT_ID"] == "demo-downstream"
    invoke = grants(plan, "caller-role")[("execute-api:Invoke",)]
    assert invoke["Resource"].endswith("/v1/GET/flaky")
    assert "FAILURE_RATE" not in caller  # failure injection stays out of the caller
    if api_type == "rest":
        methods = {m.name: m.inputs for m in plan.of_type(METHOD)}
        assert methods["breaker-get-flaky"]["authorization"] == "AWS_IAM"
    else:
        routes = {r.inputs["routeKey"]: r.inputs for r in plan.of_type(ROUTE)}
        assert routes["GET /flaky"]["authorizationType"] == "AWS_IAM"


def test_reserved_concurrency_is_optional_and_marks_a_throttled_consumer(build):
    caller = build(service(caller_concurrency=5)).one(FN, "caller").inputs
    assert caller["reservedConcurrentExecutions"] == 5
    assert caller["tags"][defaults.TAG_THROTTLED_CONSUMER] == "5"


def test_an_existing_table_and_bus_are_used_instead_of_new_ones(build):
    def program():
        table = aws.dynamodb.Table(
            "mine",
            hash_key="circuitId",
            attributes=[aws.dynamodb.TableAttributeArgs(name="circuitId", type="S")],
        )
        bus = aws.cloudwatch.EventBus("ops")
        CircuitBreakerService(
            "breaker",
            CircuitBreakerServiceArgs(
                downstream_url=URL, table=table, publish_events=True, event_bus=bus
            ),
        )

    plan = build(program)
    (table,) = plan.of_type(TABLE)
    (bus,) = plan.of_type(BUS)
    assert (table.name, bus.name) == ("mine", "ops")
    variables = plan.one(FN, "caller").inputs["environment"]["variables"]
    assert variables["TABLE_NAME"] == table.outputs["name"]
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.partition(" is an existing resource")[0] for w in warnings] == ["table"]


def test_waf_is_associated_when_an_acl_is_given(build):
    plan = build(service(waf_acl_arn=WAF))
    association = plan.one("aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    assert association["webAclArn"] == WAF
    assert not build(service()).of_type("aws:wafv2/webAclAssociation:WebAclAssociation")


def test_outputs_and_every_child_owned_by_the_component(build):
    plan, outputs = exported(build, demo_downstream=True, publish_events=True)
    component = plan.one("serverless-patterns:patterns:CircuitBreakerService")
    assert set(outputs) == {"url", "table_name", "bus_name"}
    assert outputs["url"].endswith(".execute-api.eu-west-1.amazonaws.com/v1")
    assert outputs["table_name"] == plan.one(TABLE).inputs["name"]
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)


@pytest.mark.parametrize("api_type", ["rest", "http"])
def test_the_prod_gate_has_no_mandatory_finding(build, api_type):
    plan = build(
        service(
            api_type=api_type,
            demo_downstream=True,
            publish_events=True,
            settings=PROD,
            waf_acl_arn=WAF if api_type == "rest" else None,
        )
    )
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    advised = {f.id for f in report.findings}
    assert advised.isdisjoint({"IAM-008", "IAM-010", "LAMBDA-008", "APIGW-010"}), advised


def test_a_downstream_is_required_by_the_component():
    with pytest.raises(ValueError, match="downstream_url is required"):
        CircuitBreakerService("breaker", CircuitBreakerServiceArgs())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"demo_downstream": True}, "set downstream_url or demo_downstream=True, not both"),
        ({"downstream_url": "http://quotes.example.com"}, "downstream_url must be an https://"),
        ({"downstream_url": "https://"}, "downstream_url must be an https://"),
        ({"downstream_url": "https://u:p@quotes.example.com"}, "downstream_url must be an"),
        ({"downstream_url": "https://quotes .example.com"}, "downstream_url must be an"),
        ({"failure_threshold": 0}, "failure_threshold must be between 1 and 1000"),
        ({"success_threshold": 0}, "success_threshold must be between 1 and 100"),
        ({"open_ms": 999}, "open_ms must be between 1000 and 3600000"),
        ({"state_cache_ms": 10_000}, r"state_cache_ms must be between 0 and open_ms - 1 \(9999\)"),
        ({"state_cache_ms": -1}, "state_cache_ms must be between 0"),
        ({"call_timeout_ms": 50}, "call_timeout_ms must be between 100 and 7000"),
        ({"caller_timeout_s": 4}, "call_timeout_ms must be between 100 and 1000"),
        ({"fail_mode": "half"}, "fail_mode must be one of open, closed"),
        ({"api_type": "websocket"}, "api_type must be one of rest, http"),
        ({"demo_failure_rate": 1.5}, "demo_failure_rate must be between 0 and 1"),
        ({"circuit_id": "a b"}, "circuit_id must be 1-128"),
        ({"event_source": "aws.quotes"}, "event_source must be"),
        ({"fallback_body": "[1]"}, "fallback_body must be a JSON object"),
        ({"fallback_body": "{"}, "fallback_body must be a JSON object"),
        ({"fallback_body": json.dumps({"x": "y" * 2000})}, "at most 1024 bytes"),
        ({"caller_concurrency": 0}, "caller_concurrency must be between 1 and 1000"),
        ({"caller_memory_size": 64}, "memory_size must be between 128"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn must be a regional WAFv2"),
        ({"waf_acl_arn": WAF, "api_type": "http"}, "waf_acl_arn needs api_type='rest'"),
        ({"stage_name": "v 1"}, "stage_name must be"),
        ({"throttle_rate": 0}, "throttle_rate must be positive"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    kwargs.setdefault("downstream_url", URL)
    with pytest.raises(ValueError, match=message):
        CircuitBreakerServiceArgs(**kwargs)


def test_an_event_bus_without_publish_events_is_refused(build):
    def program():
        CircuitBreakerServiceArgs(downstream_url=URL, event_bus=aws.cloudwatch.EventBus("ops"))

    with pytest.raises(Exception, match="event_bus is used only with publish_events=True"):
        build(program)
