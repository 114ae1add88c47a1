"""AuthorizedApi under mocks: every method behind the authorizer, the authorizer's cache and
identity source, the invoke permission's scope, the stage, the user pool, the seeded
group policies and argument checks."""

from __future__ import annotations

import json
import re

import pulumi_aws as aws
import pytest

from components.authorized_api import (
    BEARER_JWT,
    AuthorizedApi,
    AuthorizedApiArgs,
    GroupGrant,
    RouteSpec,
    TokenAuthorizerSpec,
    UserPoolSpec,
    route_arn_part,
)
from components.core.settings import Settings
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
METHOD = "aws:apigateway/method:Method"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
POOL = "aws:cognito/userPool:UserPool"
ISSUER = "https://login.example.com/realms/api"


def api(**kwargs):
    return lambda: AuthorizedApi("shop", AuthorizedApiArgs(**kwargs))


def test_every_non_public_method_is_behind_this_authorizer(build):
    routes = {"GET /me": RouteSpec(), "GET /reports": RouteSpec(), "GET /health": RouteSpec()}
    plan = build(
        api(routes=routes, public_routes=["GET /health"], claim_routes={"scope:x": ["GET /me"]})
    )
    authorizer = plan.one(AUTHORIZER)
    methods = {m.name.removeprefix("shop-"): m for m in plan.of_type(METHOD)}
    assert set(methods) == {"get-me", "get-reports", "get-health"}
    for name in ("get-me", "get-reports"):
        assert methods[name].inputs["authorization"] == "CUSTOM"
        assert methods[name].inputs["authorizerId"] == authorizer.id
    assert methods["get-health"].inputs["authorization"] == "NONE"
    assert "authorizerId" not in methods["get-health"].inputs


def test_the_authorizer_caches_per_token_and_rejects_non_bearers_itself(build):
    plan = build(api(result_ttl_s=600))
    authorizer = plan.one(AUTHORIZER).inputs
    assert authorizer["type"] == "TOKEN"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    assert authorizer["authorizerResultTtlInSeconds"] == 600
    assert authorizer["identityValidationExpression"] == BEARER_JWT
    function = plan.one(FN, "authorizer")
    assert authorizer["authorizerUri"] == function.outputs["invokeArn"]
    expression = re.compile(BEARER_JWT)
    assert expression.match("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
    assert not expression.match("Basic YWRtaW46aHVudGVyMg==")
    assert not expression.match("Bearer not-a-jwt")


def test_a_request_authorizer_has_no_validation_expression(build):
    authorizer = build(api(authorizer_type="REQUEST")).one(AUTHORIZER).inputs
    assert authorizer["type"] == "REQUEST"
    assert "identityValidationExpression" not in authorizer


def test_only_this_apis_authorizer_may_invoke_the_function(build):
    plan = build(api())
    authorizer = plan.one(AUTHORIZER)
    api_arn = plan.one("aws:apigateway/restApi:RestApi").outputs["executionArn"]
    permission = next(
        p
        for p in plan.of_type("aws:lambda/permission:Permission")
        if p.name.endswith("authorizer-invoke")
    ).inputs
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"] == f"{api_arn}/authorizers/{authorizer.id}"
    routes = [
        p.inputs
        for p in plan.of_type("aws:lambda/permission:Permission")
        if "fn" not in p.name and p is not permission
    ]
    assert {
        p["sourceArn"].removeprefix(f"{api_arn}/*/")
        for p in routes
        if "authorizers" not in p["sourceArn"]
    } == {
        "GET/me",
        "GET/reports",
    }


def test_the_stage_traces_logs_and_throttles(build):
    plan = build(api(throttle_rate=20, throttle_burst=40))
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"]
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (20, 40)
    assert settings["dataTraceEnabled"] is False and settings["metricsEnabled"] is True
    response = plan.one("aws:apigateway/response:Response").inputs
    assert response["responseType"] == "UNAUTHORIZED"
    assert response["responseParameters"] == {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"}


def test_a_new_user_pool_is_hardened_and_is_the_issuer(build):
    plan = build(api(settings=Settings(environment="prod")))
    pool = plan.one(POOL)
    assert pool.inputs["mfaConfiguration"] == "ON"
    assert pool.inputs["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool.inputs["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"}
    assert pool.inputs["userPoolTier"] == "PLUS"
    assert pool.inputs["deletionProtection"] == "ACTIVE"
    assert pool.inputs["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert pool.inputs["passwordPolicy"]["minimumLength"] == 12
    client = plan.one("aws:cognito/userPoolClient:UserPoolClient")
    assert client.inputs["generateSecret"] is False
    assert client.inputs["preventUserExistenceErrors"] == "ENABLED"
    groups = {g.inputs["name"] for g in plan.of_type("aws:cognito/userGroup:UserGroup")}
    assert groups == {"admins", "users"}
    variables = plan.one(FN, "authorizer").inputs["environment"]["variables"]
    issuer = f"https://cognito-idp.eu-west-1.amazonaws.com/{pool.id}"
    assert variables["ISSUER"] == issuer
    assert variables["JWKS_URL"] == f"{issuer}/.well-known/jwks.json"
    assert variables["AUDIENCE"] == client.id
    assert variables["JWT_KIND"] == "access"
    assert json.loads(variables["CLAIM_ROUTES"]) == {
        "cognito:groups=admins": [["GET", "me"], ["GET", "reports"]],
        "cognito:groups=users": [["GET", "me"]],
    }


def test_dev_pools_can_be_deleted(build):
    pool = build(api(user_pool=UserPoolSpec(advanced_security="OFF"))).one(POOL).inputs
    assert pool["deletionProtection"] == "INACTIVE"
    assert pool["userPoolTier"] == "ESSENTIALS"


def test_another_issuer_needs_no_pool(build):
    plan = build(
        api(user_pool=None, groups=[], issuer=ISSUER, audience=["api://shop"], token_use=None)
    )
    assert not plan.of_type(POOL)
    variables = plan.one(FN, "authorizer").inputs["environment"]["variables"]
    assert variables["ISSUER"] == ISSUER
    assert variables["JWKS_URL"] == f"{ISSUER}/.well-known/jwks.json"
    assert variables["AUDIENCE"] == "api://shop"
    assert variables["JWT_KIND"] == ""


def test_group_policies_are_seeded_as_this_apis_execute_api_arns(build):
    plan = build(
        api(
            mode="cognito_groups",
            routes={"GET /me": RouteSpec(), "GET /reports/{id}": RouteSpec()},
            group_policies={
                "admins": GroupGrant(allow=["GET /me", "GET /reports/{id}"]),
                "users": GroupGrant(allow=["GET /me"], deny=["GET /reports/{id}"]),
            },
        )
    )
    api_arn = plan.one("aws:apigateway/restApi:RestApi").outputs["executionArn"]
    table = plan.one("aws:dynamodb/table:Table")
    items = {
        json.loads(i.inputs["item"])["group"]["S"]: json.loads(i.inputs["item"])
        for i in plan.of_type("aws:dynamodb/tableItem:TableItem")
    }
    assert set(items) == {"admins", "users"}
    statements = [
        (s["M"]["effect"]["S"], s["M"]["resource"]["S"]) for s in items["users"]["statements"]["L"]
    ]
    assert statements == [
        ("Allow", f"{api_arn}/v1/GET/me"),
        ("Deny", f"{api_arn}/v1/GET/reports/*"),
    ]
    assert all(
        i.inputs["tableName"] == table.inputs["name"]
        for i in plan.of_type("aws:dynamodb/tableItem:TableItem")
    )
    # The authorizer may only read the policy table.
    assert statements_of_role(plan, "authorizer-role")[1:] == [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": table.outputs["arn"]}
    ]
    variables = plan.one(FN, "authorizer").inputs["environment"]["variables"]
    assert variables["POLICY_TABLE"] == table.inputs["name"] and "CLAIM_ROUTES" not in variables
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}


def test_route_functions_have_roles_of_their_own_and_nothing_else(build):
    plan = build(api())
    for route in ("get-me-fn", "get-reports-fn"):
        function = plan.one(FN, route)
        assert function.inputs["handler"] == "routes.handler"
        assert [s["Action"] for s in statements_of_role(plan, f"{route}-role")] == [
            ["logs:CreateLogStream", "logs:PutLogEvents"]
        ]
    authorizer = plan.one(FN, "authorizer").inputs
    assert (authorizer["timeout"], authorizer["memorySize"]) == (5, 256)
    assert "reservedConcurrentExecutions" not in authorizer


def test_alarms_cover_authorizer_latency_and_server_errors(build):
    plan = build(api(authorizer=TokenAuthorizerSpec(timeout_s=4, jwks_timeout_s=2)))
    latency = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "authorizer-latency").inputs
    assert (latency["metricName"], latency["threshold"]) == ("Duration", 3200)
    errors = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "api-5xx").inputs
    assert errors["metricName"] == "5XXError" and errors["dimensions"]["Stage"] == "v1"


def test_existing_pool_client_table_and_functions_are_used(build):
    def program():
        pool = aws.cognito.UserPool("mine", mfa_configuration="ON")
        client = aws.cognito.UserPoolClient("mine-client", user_pool_id=pool.id)
        table = aws.dynamodb.Table(
            "policies",
            hash_key="group",
            attributes=[aws.dynamodb.TableAttributeArgs(name="group", type="S")],
        )
        checker = aws.lambda_.Function(
            "checker", role="arn:aws:iam::123456789012:role/x", runtime="python3.13", handler="a.b"
        )
        backend = aws.lambda_.Function(
            "backend", role="arn:aws:iam::123456789012:role/x", runtime="python3.13", handler="a.b"
        )
        AuthorizedApi(
            "shop",
            AuthorizedApiArgs(
                mode="cognito_groups",
                user_pool=pool,
                user_pool_client=client,
                groups=[],
                policy_table=table,
                authorizer=checker,
                routes={"GET /me": backend},
                group_policies={"admins": GroupGrant(allow=["GET /me"])},
            ),
        )

    plan = build(program)
    assert [p.name for p in plan.of_type(POOL)] == ["mine"]
    assert [t.name for t in plan.of_type("aws:dynamodb/table:Table")] == ["policies"]
    assert {f.name for f in plan.of_type(FN)} == {"checker", "backend"}
    authorizer = plan.one(AUTHORIZER)
    assert authorizer.property_dependencies["authorizerUri"] == [plan.one(FN, "checker").urn]
    integration = plan.one("aws:apigateway/integration:Integration")
    assert integration.property_dependencies["uri"] == [plan.one(FN, "backend").urn]
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.partition(" is an existing resource")[0] for w in warnings] == [
        "routes['GET /me']",
        "user_pool",
        "user_pool_client",
        "policy_table",
        "authorizer",
    ]
    item = plan.one("aws:dynamodb/tableItem:TableItem")
    assert item.property_dependencies["tableName"] == [plan.one("aws:dynamodb/table:Table").urn]


def test_every_child_is_parented_to_the_component(build):
    plan = build(api(mode="cognito_groups"))
    component = plan.one("serverless-patterns:patterns:AuthorizedApi")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)


def test_route_keys_render_to_method_arn_tails():
    assert route_arn_part("GET /reports/{id}") == "GET/reports/*"
    assert route_arn_part("ANY /{proxy+}") == "*/*"
    assert route_arn_part("POST /") == "POST/"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"routes": {"FETCH /x": RouteSpec()}}, "route 'FETCH /x' must be '<METHOD> /path'"),
        ({"routes": {"GET x": RouteSpec()}}, "route 'GET x' must be"),
        (
            {"public_routes": ["GET /nope"]},
            "public_routes names 'GET /nope', which is not in routes",
        ),
        ({"public_routes": ["GET /me", "GET /reports"]}, "public_routes must leave at least one"),
        ({"claim_routes": {}}, "claim_routes must map at least one scope or claim"),
        ({"claim_routes": {"admins": ["GET /me"]}}, "claim_routes key 'admins' must be"),
        (
            {"claim_routes": {"scope:x": ["GET /other"]}},
            r"claim_routes\['scope:x'\] names 'GET /other'",
        ),
        (
            {
                "mode": "cognito_groups",
                "group_policies": {"admins": GroupGrant(allow=["DELETE /me"])},
            },
            "group_policies.admins names 'DELETE /me'",
        ),
        ({"result_ttl_s": 3601}, "result_ttl_s must be between 0 and 3600"),
        ({"issuer": ISSUER}, "issuer and jwks_url come from the user pool"),
        ({"user_pool": None, "groups": []}, "issuer must be an https:// URL"),
        ({"user_pool": None, "groups": [], "issuer": ISSUER}, "audience must name at least one"),
        (
            {"user_pool": None, "issuer": ISSUER, "audience": ["a"]},
            "user_pool_client and groups need",
        ),
        ({"stage_name": "v 1"}, "stage_name must be 1-128"),
        ({"waf_acl_arn": "arn:aws:wafv2:eu-west-1:123456789012:global/webacl/x/1"}, "waf_acl_arn"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AuthorizedApiArgs(**kwargs)


@pytest.mark.parametrize(
    ("build_spec", "message"),
    [
        (lambda: UserPoolSpec(mfa="SMS"), r"user_pool\.mfa must be one of ON, OPTIONAL, OFF"),
        (lambda: UserPoolSpec(password_min_length=6), r"user_pool\.password_min_length"),
        (lambda: TokenAuthorizerSpec(jwks_timeout_s=5), r"authorizer\.jwks_timeout_s must be"),
        (lambda: TokenAuthorizerSpec(leeway_s=900), r"authorizer\.leeway_s must be between"),
    ],
)
def test_nested_specs_name_their_argument(build_spec, message):
    with pytest.raises(ValueError, match=message):
        build_spec()
