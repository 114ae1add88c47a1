"""API Gateway REST (APIGW), v2 (APIGW2) and AppSync rules beyond their registered examples:
the section 4 regression cases, REST stage identity at preview, the shared JSON-template
test, and odd props that must never crash a rule."""

from __future__ import annotations

from typing import Any

import pytest

from preview import gate
from serverless_wa.registry import REGISTRY, Case, Resource, Rule, rules
from serverless_wa.rules._common import REST_STAGE, V2_STAGE, case, stack_case
from serverless_wa.rules.apigw import (
    CLF_FORMAT,
    JSON_FORMAT,
    METHOD_SETTINGS,
    REST_API,
    STAGE_ARN,
    THROTTLED,
    USAGE_PLAN,
    WAF_ASSOCIATION,
    json_template_problem,
)
from serverless_wa.rules.apigw2 import ROUTE, V2_API
from serverless_wa.rules.appsync import GRAPHQL_API
from tests.policies.harness import crashes, findings_of, plan_of, run_case, subject_urn

OURS = [r for r in rules() if r.id.startswith(("APIGW", "APPSYNC"))]
UNKNOWN = gate.UNKNOWN


def rule(rule_id: str) -> Rule:
    return REGISTRY[rule_id]


def run_ours(stub: Any, case_: Case) -> gate.Report:
    """`case_` with every APIGW, APIGW2 and APPSYNC rule mandatory, all others disabled."""
    profile: dict[str, Any] = {r.name: {"enforcementLevel": "disabled"} for r in REGISTRY.values()}
    profile.update({r.name: {"enforcementLevel": "mandatory"} for r in OURS})
    report = gate.run(plan_of(case_), profile=profile, stub=stub)
    assert crashes(report) == []
    return report


def rest_stage(**props: Any) -> Resource:
    return Resource(
        REST_STAGE, "stage", {"stageName": "v1", **props}, depends={"restApi": ("api",)}
    )


def method_settings(settings: dict[str, Any], **props: Any) -> Resource:
    values = {"restApi": UNKNOWN, "stageName": "v1", "methodPath": "*/*", "settings": settings}
    return Resource(
        METHOD_SETTINGS,
        "settings",
        {**values, **props},
        depends={"restApi": ("api",), "stageName": ("stage",)},
    )


# Section 4 regression cases ------------------------------------------------------------------


def test_an_http_api_stage_without_xray_passes(pack):
    compliant = stack_case(
        Resource(V2_API, "api", {"protocolType": "HTTP"}),
        Resource(
            V2_STAGE,
            "stage",
            {
                "apiId": UNKNOWN,
                "accessLogSettings": {"destinationArn": UNKNOWN, "format": JSON_FORMAT},
                "defaultRouteSettings": {"throttlingBurstLimit": 50, "throttlingRateLimit": 100},
            },
            depends={"apiId": ("api",)},
        ),
        subject="stage",
    )
    report = run_ours(pack, compliant)
    assert report.findings == []
    assert findings_of(run_case(pack, rule("APIGW-001"), compliant), rule("APIGW-001")) == []


@pytest.mark.parametrize("shape", ["preview", "fallback"])
def test_apigw_004_passes_a_rest_stage_throttled_by_a_separate_method_settings(pack, shape):
    if shape == "preview":  # ids unknown, linked through property dependencies
        resources = (
            Resource(REST_API, "api", {}),
            rest_stage(restApi=UNKNOWN),
            method_settings(THROTTLED),
        )
    else:  # ids known, no dependencies
        resources = (
            Resource(REST_STAGE, "stage", {"restApi": "abc123", "stageName": "v1"}),
            Resource(
                METHOD_SETTINGS,
                "settings",
                {
                    "restApi": "abc123",
                    "stageName": "v1",
                    "methodPath": "*/*",
                    "settings": THROTTLED,
                },
            ),
        )
    report = run_case(pack, rule("APIGW-004"), stack_case(*resources, subject="stage"))
    assert findings_of(report, rule("APIGW-004")) == []


def test_usage_plans_do_not_count_as_stage_throttling(pack):
    case_ = stack_case(
        Resource(REST_API, "api", {}),
        rest_stage(restApi=UNKNOWN),
        Resource(
            USAGE_PLAN,
            "plan",
            {
                "apiStages": [{"apiId": UNKNOWN, "stage": "v1"}],
                "throttleSettings": {"rateLimit": 10, "burstLimit": 20},
                "quotaSettings": {"limit": 1000, "period": "DAY"},
            },
            depends={"apiStages": ("api", "stage")},
        ),
        subject="stage",
    )
    (finding,) = findings_of(run_case(pack, rule("APIGW-004"), case_), rule("APIGW-004"))
    assert finding.urn == subject_urn(case_)
    assert "usage plans limit only API-key callers" in finding.message


# REST stage identity ------------------------------------------------------------------------


def test_a_stage_without_any_method_settings_is_reported_even_with_unknown_ids(pack):
    """No MethodSettings at all is a fact, not an unknown: both stage rules report it."""
    case_ = stack_case(Resource(REST_API, "api", {}), rest_stage(restApi=UNKNOWN), subject="stage")
    for rule_id in ("APIGW-004", "APIGW-005"):
        found = findings_of(run_case(pack, rule(rule_id), case_), rule(rule_id))
        assert [f.urn for f in found] == [subject_urn(case_)]
        assert "no */* MethodSettings" in found[0].message


def test_method_settings_of_another_stage_do_not_throttle_this_one(pack):
    case_ = stack_case(
        Resource(REST_API, "api", {}),
        rest_stage(restApi=UNKNOWN),
        Resource(REST_STAGE, "other", {"stageName": "v2"}, depends={"restApi": ("api",)}),
        Resource(
            METHOD_SETTINGS,
            "settings",
            {"restApi": UNKNOWN, "stageName": "v2", "methodPath": "*/*", "settings": THROTTLED},
            depends={"restApi": ("api",), "stageName": ("other",)},
        ),
        subject="stage",
    )
    found = findings_of(run_case(pack, rule("APIGW-004"), case_), rule("APIGW-004"))
    assert [f.urn for f in found] == [subject_urn(case_)]


def test_method_settings_that_cannot_be_placed_never_produce_a_finding(pack):
    """An unknown restApi without a dependency may name this stage's API: no finding."""
    case_ = stack_case(
        Resource(REST_STAGE, "stage", {"restApi": "abc123", "stageName": "v1"}),
        Resource(
            METHOD_SETTINGS,
            "settings",
            {"restApi": UNKNOWN, "stageName": "v1", "methodPath": "*/*", "settings": {}},
        ),
        subject="stage",
    )
    for rule_id in ("APIGW-004", "APIGW-005"):
        assert findings_of(run_case(pack, rule(rule_id), case_), rule(rule_id)) == []


def test_waf_association_by_a_stage_arn_built_from_the_api_id(pack):
    stage_arn = STAGE_ARN.format(api="abc123", stage="v1")
    resources = (
        Resource(REST_API, "api", {"id": "abc123", "endpointConfiguration": {"types": "REGIONAL"}}),
        Resource(REST_STAGE, "stage", {"restApi": "abc123", "stageName": "v1"}),
    )
    matched = stack_case(
        *resources, Resource(WAF_ASSOCIATION, "waf", {"resourceArn": stage_arn}), subject="stage"
    )
    assert findings_of(run_case(pack, rule("APIGW-010"), matched), rule("APIGW-010")) == []
    pending = stack_case(
        *resources,
        Resource(
            WAF_ASSOCIATION, "waf", {"resourceArn": UNKNOWN}, depends={"resourceArn": ("api",)}
        ),
        subject="stage",
    )
    assert findings_of(run_case(pack, rule("APIGW-010"), pending), rule("APIGW-010")) == []


def test_websocket_routes_other_than_connect_and_unresolved_apis_are_not_checked(pack):
    route = rule("APIGW2-005")
    websocket = stack_case(
        Resource(V2_API, "api", {"protocolType": "WEBSOCKET"}),
        Resource(ROUTE, "route", {"routeKey": "$default"}, depends={"apiId": ("api",)}),
        subject="route",
    )
    assert findings_of(run_case(pack, route, websocket), route) == []
    orphan = stack_case(Resource(ROUTE, "route", {"apiId": "elsewhere"}), subject="route")
    assert findings_of(run_case(pack, route, orphan), route) == []


# The JSON-template test shared by APIGW-003 and APIGW2-002 -----------------------------------


@pytest.mark.parametrize(
    "template",
    [
        JSON_FORMAT,
        '{"requestId": "$context.requestId", "latency": $context.integration.latency}',
        '{"ip": "$context.identity.sourceIp", "who": {"sub": "$context.authorizer.claims.sub"}}',
        '  {"requestId":"$context.requestId - $context.extendedRequestId"}  ',
    ],
)
def test_json_object_templates_pass(template):
    assert json_template_problem(template) is None


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (CLF_FORMAT, "not JSON"),
        ("$context.requestId,$context.status", "not JSON"),
        ('<request id="$context.requestId"/>', "not JSON"),
        ('{"requestId": $context.requestId', "not JSON"),
        ('["$context.requestId", $context.status]', "a JSON list"),
        ('"$context.requestId"', "a JSON str"),
    ],
)
def test_other_templates_fail(template, problem):
    assert problem in (json_template_problem(template) or "")


# Odd props never crash a rule (run_ours asserts nothing "could not evaluate") -------------


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (REST_STAGE, {"accessLogSettings": [], "xrayTracingEnabled": "yes"}),
        (REST_STAGE, {"accessLogSettings": {"format": 42, "destinationArn": None}}),
        (V2_STAGE, {"accessLogSettings": "on", "defaultRouteSettings": [1, 2]}),
        (METHOD_SETTINGS, {"settings": ["*/*"], "methodPath": None}),
        (REST_API, {"endpointConfiguration": {"types": [None, {"a": 1}]}}),
        (V2_API, {"corsConfiguration": {"allowOrigins": "*"}, "protocolType": 3}),
        (GRAPHQL_API, {"logConfig": [{"fieldLogLevel": "ALL"}], "xrayEnabled": None}),
        (USAGE_PLAN, {"throttleSettings": "fast", "quotaSettings": {"limit": "lots"}}),
        (ROUTE, {"routeKey": ["$connect"], "authorizationType": {}}),
    ],
)
def test_odd_props_never_crash(pack, type_, props):
    run_ours(pack, case(type_, props))
    run_ours(
        pack,
        stack_case(
            Resource(REST_API, "api", props if type_ == REST_API else {}),
            Resource(V2_API, "v2", props if type_ == V2_API else {}),
            Resource(type_, "odd", props, depends={"restApi": ("api",), "apiId": ("v2",)}),
            subject="odd",
        ),
    )


# APIs declared by an OpenAPI body, and quick-create HTTP APIs ---------------------------------


def openapi_messages(pack: Any, rule_id: str, case_: Case) -> list[str]:
    """The problems found, without the subject before them and the fix after them."""
    found = findings_of(run_case(pack, rule(rule_id), case_), rule(rule_id))
    return [f.message.split('": ', 1)[1].rsplit(". Fix: ", 1)[0] for f in found]


SWAGGER_YAML = """
swagger: "2.0"
info: {title: orders, version: "1"}
securityDefinitions:
  api_key: {type: apiKey, name: x-api-key, in: header}
x-amazon-apigateway-request-validators:
  params: {validateRequestBody: false, validateRequestParameters: true}
  nothing: {validateRequestBody: false, validateRequestParameters: false}
paths:
  /orders:
    get:
      security: [{api_key: []}]
    post:
      security: [{api_key: []}, {}]
      x-amazon-apigateway-request-validator: params
    put:
      x-amazon-apigateway-request-validator: nothing
    options: {}
  /orders/{id}:
    x-amazon-apigateway-any-method: {}
    parameters: [{name: id, in: path}]
"""


def test_a_swagger_yaml_body_is_read_operation_by_operation(pack):
    api = case(REST_API, {"body": SWAGGER_YAML})
    assert sorted(openapi_messages(pack, "APIGW-008", api)) == [
        "OpenAPI body: ANY /orders/{id} requires no authorizer and no API key",
        # An empty alternative lets anonymous callers in.
        "OpenAPI body: POST /orders requires no authorizer and no API key",
        "OpenAPI body: PUT /orders requires no authorizer and no API key",
    ]
    # A validator that validates nothing is no validator; ANY is not judged.
    assert openapi_messages(pack, "APIGW-009", api) == [
        "OpenAPI body: PUT /orders has no request validator"
    ]


@pytest.mark.parametrize(
    "body",
    [
        "not: [valid yaml",
        "just text",
        '{"openapi": "3.0.1"}',
        '{"paths": ["/orders"]}',
        '{"paths": {"/orders": "get"}}',
        '{"paths": {"/orders": {"get": "x", "1": {}}}}',
        '{"paths": {"/o": {"post": {"security": "api_key"}}}}',
        UNKNOWN,
        None,
        42,
        {"paths": {"/o": {"get": {"security": [{"k": []}]}}}},
    ],
    ids=repr,
)
def test_odd_bodies_never_crash_and_unreadable_ones_are_not_judged(pack, body):
    api = case(REST_API, {"body": body})
    for rule_id in ("APIGW-008", "APIGW-009"):
        found = openapi_messages(pack, rule_id, api)
        if rule_id == "APIGW-008" and "api_key" in str(body):
            assert found == ["OpenAPI body: POST /o requires no authorizer and no API key"]
        elif rule_id == "APIGW-009" and "post" in str(body):
            assert found == ["OpenAPI body: POST /o has no request validator"]
        else:
            assert found == []


def test_a_quick_create_http_api_is_judged_on_its_automatic_stage_and_route(pack):
    api = Resource(V2_API, "api", {"protocolType": "HTTP", "target": UNKNOWN})
    # At preview the target is often unknown: nothing is claimed.
    for rule_id in ("APIGW2-001", "APIGW2-003"):
        assert openapi_messages(pack, rule_id, case(V2_API, dict(api.props))) == []
    assert openapi_messages(pack, "APIGW2-005", stack_case(api, subject="api")) == []
    known = Resource(V2_API, "api", {"protocolType": "HTTP", "target": "arn:aws:lambda:x"})
    [route] = openapi_messages(pack, "APIGW2-005", stack_case(known, subject="api"))
    assert "$default (quick create target)" in route
