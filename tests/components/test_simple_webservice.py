"""SimpleWebservice under mocks: the catch-all route in both API types, stage logs and
throttling, the one-action role, the prod gate, argument checks."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.core.http_api import HTTP_ACCESS_LOG_FORMAT
from components.core.settings import Settings
from components.simple_webservice import SimpleWebservice, SimpleWebserviceArgs
from preview import gate
from serverless_wa.pack import rules
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
V2_API = "aws:apigatewayv2/api:Api"
V2_STAGE = "aws:apigatewayv2/stage:Stage"
V2_ROUTE = "aws:apigatewayv2/route:Route"
V2_INTEGRATION = "aws:apigatewayv2/integration:Integration"
REST_STAGE = "aws:apigateway/stage:Stage"
METHOD = "aws:apigateway/method:Method"
PERMISSION = "aws:lambda/permission:Permission"
ALARMS = ("arn:aws:sns:eu-west-1:123456789012:alarms",)
PROD = Settings(environment="prod", log_retention_days=365, alarm_actions=ALARMS)
WAF = (
    "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/edge/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
)


def webservice(**kwargs):
    return lambda: SimpleWebservice("web", SimpleWebserviceArgs(**kwargs))


def test_http_api_default_route_reaches_hits_with_iam(build):
    plan = build(webservice())
    api = plan.one(V2_API).inputs
    assert api["protocolType"] == "HTTP"
    route = plan.one(V2_ROUTE)
    assert route.inputs["routeKey"] == "$default"
    assert route.inputs["authorizationType"] == "AWS_IAM"
    integration = plan.one(V2_INTEGRATION)
    assert route.inputs["target"] == f"integrations/{integration.id}"
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    hits = plan.one(FN, "hits")
    assert integration.inputs["integrationUri"] == hits.outputs["invokeArn"]
    # The function finishes before the integration gives up (29 s, REST's limit too).
    assert hits.inputs["timeout"] == 10 < integration.inputs["timeoutMilliseconds"] / 1000 == 29
    permission = plan.one(PERMISSION).inputs
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"] == f"{plan.one(V2_API).outputs['executionArn']}/*/*"
    assert not plan.of_type("aws:apigateway/restApi:RestApi")


def test_http_stage_has_json_access_logs_and_throttling(build):
    plan = build(webservice(throttle_rate=80, throttle_burst=40))
    stage = plan.one(V2_STAGE).inputs
    assert stage["autoDeploy"] is True
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 80
    assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == 40
    assert stage["defaultRouteSettings"]["detailedMetricsEnabled"] is True
    logs = plan.one("aws:cloudwatch/logGroup:LogGroup", "access-logs")
    assert stage["accessLogSettings"]["destinationArn"] == logs.outputs["arn"]
    assert json.loads(stage["accessLogSettings"]["format"]) == HTTP_ACCESS_LOG_FORMAT
    assert logs.inputs["retentionInDays"] == 30
    # Catalog defaults: 100 requests/s, burst 50.
    defaults = build(webservice()).one(V2_STAGE).inputs["defaultRouteSettings"]
    assert (defaults["throttlingRateLimit"], defaults["throttlingBurstLimit"]) == (100, 50)


def test_the_role_may_only_update_items_of_its_table(build):
    plan = build(webservice())
    table = plan.one(TABLE)
    assert table.inputs["hashKey"] == "path"
    assert table.inputs["attributes"] == [{"name": "path", "type": "S"}]
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    grants = statements_of_role(plan, "hits-role")
    data = [s for s in grants if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert data == [
        {"Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": table.outputs["arn"]}
    ]
    assert {a for s in grants for a in s["Action"]} == {
        "dynamodb:UpdateItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    hits = plan.one(FN, "hits").inputs
    assert hits["environment"]["variables"]["TABLE_NAME"] == table.inputs["name"]
    assert hits["tracingConfig"] == {"mode": "Active"}


def test_rest_mode_traces_from_the_api_with_catch_all_methods(build):
    plan = build(webservice(api_type="rest", waf_acl_arn=WAF))
    assert not plan.of_type(V2_API)
    methods = plan.of_type(METHOD)
    assert sorted(m.inputs["httpMethod"] for m in methods) == ["ANY", "ANY"]
    assert {m.inputs["authorization"] for m in methods} == {"AWS_IAM"}
    proxy = plan.one("aws:apigateway/resource:Resource", "proxy-resource").inputs
    assert proxy["pathPart"] == "{proxy+}"
    integrations = plan.of_type("aws:apigateway/integration:Integration")
    hits = plan.one(FN, "hits").outputs["invokeArn"]
    assert {(i.inputs["type"], i.inputs["uri"]) for i in integrations} == {("AWS_PROXY", hits)}
    stage = plan.one(REST_STAGE).inputs
    assert stage["xrayTracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"]
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (100, 50)
    assert settings["dataTraceEnabled"] is False
    sources = sorted(p.inputs["sourceArn"].rsplit("/", 3)[-3:] for p in plan.of_type(PERMISSION))
    assert sources == [["*", "*", ""], ["*", "*", "*"]]  # root and proxy of this API only
    association = plan.one("aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    assert association["webAclArn"] == WAF


def test_jwt_routes_use_an_authorizer_for_the_issuer(build):
    issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
    plan = build(webservice(authorization="JWT", jwt_issuer=issuer, jwt_audiences=["app-client"]))
    authorizer = plan.one("aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": issuer, "audiences": ["app-client"]}
    route = plan.one(V2_ROUTE).inputs
    assert (route["authorizationType"], route["authorizerId"]) == ("JWT", authorizer.id)


@pytest.mark.parametrize("api_type", ["http", "rest"])
def test_the_prod_gate_has_no_mandatory_finding(build, api_type):
    """HTTP mode passes prod: the pack has no X-Ray rule for HTTP APIs (APIGW-001 matches
    REST stages only); access logs (APIGW2-001), throttling (APIGW2-003) and route
    authorization (APIGW2-005) are the mandatory ones, and the defaults meet them."""
    plan = build(webservice(api_type=api_type, settings=PROD))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    # The advisories left are the stack's to decide: CMK-encrypted log groups, and WAF.
    assert {f.id for f in report.findings} <= {"LOGS-002", "APIGW-010"}
    by_id = {rule.id: rule for rule in rules()}
    if api_type == "http":
        assert V2_STAGE not in by_id["APIGW-001"].types
        assert {"APIGW2-001", "APIGW2-003", "APIGW2-005"} <= {
            r.id for r in by_id.values() if V2_STAGE in r.types or V2_ROUTE in r.types
        }


def test_a_public_route_is_reported_until_exempted(build):
    plan = build(webservice(authorization="NONE", settings=PROD))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert [f.id for f in report.mandatory] == ["APIGW2-005"]
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("authorization='NONE'")


def test_an_existing_table_is_used_and_warned_about(build):
    def program():
        table = aws.dynamodb.Table(
            "counters",
            hash_key="path",
            attributes=[aws.dynamodb.TableAttributeArgs(name="path", type="S")],
        )
        SimpleWebservice("web", SimpleWebserviceArgs(table=table))

    plan = build(program)
    (table,) = plan.of_type(TABLE)
    assert table.name == "counters"
    (grant,) = [
        s for s in statements_of_role(plan, "hits-role") if s["Action"] == ["dynamodb:UpdateItem"]
    ]
    assert grant["Resource"] == table.outputs["arn"]
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.partition(",")[0] for w in warnings] == ["table is an existing resource"]


@pytest.mark.parametrize("api_type", ["http", "rest"])
def test_every_child_is_parented_and_outputs_are_registered(build, api_type):
    outputs = {}

    def program():
        component = SimpleWebservice("web", SimpleWebserviceArgs(api_type=api_type))
        for key, value in component.exports.items():
            value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    component = plan.one("serverless-patterns:patterns:SimpleWebservice")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert set(outputs) == {"url", "table_name", "function_name"}
    assert outputs["url"].startswith("https://")
    assert outputs["url"].endswith(".execute-api.eu-west-1.amazonaws.com/v1")
    assert outputs["table_name"] == plan.one(TABLE).inputs["name"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_type": "websocket"}, "api_type must be one of http, rest"),
        ({"authorization": "COGNITO"}, "authorization must be one of AWS_IAM, JWT, NONE"),
        ({"timeout_s": 29}, "timeout_s must be between 1 and 28, under the 29 s"),
        ({"timeout_s": 0}, "timeout_s must be between 1 and 28"),
        ({"throttle_rate": 0}, "throttle_rate must be positive"),
        ({"throttle_burst": 0}, "throttle_burst must be at least 1"),
        ({"memory_size": 64}, "memory_size must be between 128"),
        ({"stage_name": "v 1"}, "stage_name must be 1-128 letters"),
        ({"authorization": "JWT"}, "jwt_issuer is required with authorization JWT"),
        (
            {"authorization": "JWT", "jwt_issuer": "http://issuer", "jwt_audiences": ["a"]},
            "jwt_issuer must be an https:// URL",
        ),
        (
            {"authorization": "JWT", "jwt_issuer": "https://issuer.example.com"},
            "jwt_audiences must name at least one audience",
        ),
        (
            {"api_type": "rest", "authorization": "JWT", "jwt_issuer": "https://i.example"},
            "authorization JWT needs api_type http",
        ),
        ({"jwt_issuer": "https://i.example"}, "apply only with authorization JWT"),
        ({"waf_acl_arn": WAF}, "waf_acl_arn needs api_type rest"),
        ({"api_type": "rest", "waf_acl_arn": "arn:aws:s3:::b"}, "waf_acl_arn must be a regional"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimpleWebserviceArgs(**kwargs)
