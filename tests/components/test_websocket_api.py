"""WebSocketApi under mocks: routes, stage logging and throttling, registry tables, the
ManageConnections grant on sender roles only, cleanup modes, the example, arguments."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pulumi_aws as aws
import pytest

from components.core import defaults
from components.core import websocket as core_websocket
from components.core.function import FunctionSpec
from components.core.settings import Settings
from components.core.websocket import ROUTE_MAX_TIMEOUT_S, AuthorizerSpec
from components.websocket_api import WebSocketApi, WebSocketApiArgs
from preview import gate
from serverless_wa.registry import rules
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
PERMISSION = "aws:lambda/permission:Permission"
STAGE_V2 = "aws:apigatewayv2/stage:Stage"
TABLE = "aws:dynamodb/table:Table"
ROLE = "aws:iam/role:Role"
AUTHORIZER_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:ws-authorizer"
MANAGE = "execute-api:ManageConnections"


def websocket(**kwargs):
    return lambda: WebSocketApi("ws", WebSocketApiArgs(**kwargs))


def actions_of(plan, role_suffix):
    return {a for s in statements_of_role(plan, role_suffix) for a in s["Action"]}


def test_every_route_has_a_lambda_integration_and_an_invoke_permission(build):
    echo = FunctionSpec(handler="default.handler", timeout_s=5)
    plan = build(websocket(routes={"echo": echo}))
    api = plan.one("aws:apigatewayv2/api:Api")
    assert api.inputs["protocolType"] == "WEBSOCKET"
    assert api.inputs["routeSelectionExpression"] == "$request.body.action"
    integrations = {i.urn: i for i in plan.of_type(INTEGRATION)}
    permissions = plan.of_type(PERMISSION)
    routes = {r.inputs["routeKey"]: r for r in plan.of_type(ROUTE)}
    assert set(routes) == {"$connect", "$disconnect", "$default", "echo"}
    for key, route in routes.items():
        (integration_urn,) = route.property_dependencies["target"]
        integration = integrations[integration_urn]
        assert route.inputs["target"] == f"integrations/{integration.id}"
        assert integration.inputs["integrationType"] == "AWS_PROXY"
        (function_urn,) = integration.property_dependencies["integrationUri"]
        function = plan.by_urn(function_urn)
        assert integration.inputs["integrationUri"] == function.outputs["invokeArn"]
        assert function.inputs["timeout"] <= ROUTE_MAX_TIMEOUT_S
        (permission,) = [
            p for p in permissions if p.property_dependencies["function"] == [function_urn]
        ]
        assert permission.inputs["principal"] == "apigateway.amazonaws.com"
        assert permission.inputs["sourceArn"] == f"{api.outputs['executionArn']}/*/{key}"
    # Two-way routes answer on the same connection; $connect/$disconnect cannot.
    responses = plan.of_type("aws:apigatewayv2/routeResponse:RouteResponse")
    assert {
        plan.by_urn(r.property_dependencies["routeId"][0]).inputs["routeKey"] for r in responses
    } == {
        "$default",
        "echo",
    }


def test_stage_has_access_logs_execution_logs_and_route_throttling(build):
    plan = build(websocket(throttle_rate=20, throttle_burst=10, stage_name="v1"))
    stage = plan.one(STAGE_V2)
    api = plan.one("aws:apigatewayv2/api:Api")
    assert stage.inputs["autoDeploy"] is True and stage.inputs["name"] == "v1"
    settings = stage.inputs["defaultRouteSettings"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (20, 10)
    assert settings["loggingLevel"] == "ERROR" and settings["detailedMetricsEnabled"] is True
    assert settings["dataTraceEnabled"] is False
    access = stage.inputs["accessLogSettings"]
    access_group = plan.one("aws:cloudwatch/logGroup:LogGroup", "access-logs")
    assert access["destinationArn"] == access_group.outputs["arn"]
    assert stage.property_dependencies["accessLogSettings"] == [access_group.urn]
    fields = json.loads(access["format"])
    assert {
        "requestId",
        "routeKey",
        "connectionId",
        "integrationLatency",
        "integrationError",
    } <= set(fields)
    # API Gateway writes execution logs to this group; made here, it has a retention.
    execution = plan.one("aws:cloudwatch/logGroup:LogGroup", "execution-logs")
    assert execution.inputs["name"] == f"/aws/apigateway/{api.id}/v1"
    assert execution.inputs["retentionInDays"] == 30
    assert execution.urn in stage.dependencies


def test_v2_stage_is_exempt_from_the_rest_xray_rule_by_type_not_by_tag(build):
    """APIGW-001 matches only `aws:apigateway/stage:Stage`; API
    Gateway cannot trace WebSocket APIs, so the rule never applies to a v2 stage. An
    exemption tag would claim it applies and is waived, so there is none: the stage is a
    v2 stage, access-logged (APIGW2-001, the substitute), and every function behind it
    traces (STACK-012)."""
    settings = Settings(alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",))
    plan = build(websocket(cleanup="ttl+sweeper", feature_toggles=True, settings=settings))
    assert plan.of_type("aws:apigateway/stage:Stage") == []
    stage = plan.one(STAGE_V2)
    assert not any(k.startswith(defaults.TAG_EXEMPT_PREFIX) for k in stage.inputs["tags"])
    assert "xrayTracingEnabled" not in stage.inputs
    assert stage.inputs["accessLogSettings"]["destinationArn"]
    functions = plan.of_type(FN)
    assert len(functions) == 6
    assert {f.inputs["tracingConfig"]["mode"] for f in functions} == {"Active"}
    by_id = {rule.id: rule for rule in rules()}
    assert STAGE_V2 not in by_id["APIGW-001"].types
    assert STAGE_V2 in by_id["APIGW2-001"].types  # the mandatory substitute
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    on_stage = [f for f in report.findings if f.urn == stage.urn]
    assert on_stage == []
    assert all(policy != by_id["APIGW-001"].name for policy, _, _ in report.not_applicable)


def test_tables_are_ephemeral_with_ttl_and_the_by_user_index(build):
    plan = build(websocket())
    connections = plan.one(TABLE, "connections").inputs
    sessions = plan.one(TABLE, "sessions").inputs
    for table in (connections, sessions):
        assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
        assert table["pointInTimeRecovery"] == {"enabled": False}
        assert table["tags"][defaults.TAG_DATA] == "ephemeral"
        assert table["billingMode"] == "PAY_PER_REQUEST"
    assert connections["hashKey"] == "connectionId" and sessions["hashKey"] == "userId"
    (index,) = connections["globalSecondaryIndexes"]
    assert index["name"] == "byUser" and index["projectionType"] == "ALL"
    assert index["keySchemas"] == [{"attributeName": "userId", "keyType": "HASH"}]
    assert {"name": "userId", "type": "S"} in connections["attributes"]
    assert "streamEnabled" not in connections or connections["streamEnabled"] is False


def test_only_sender_roles_hold_manage_connections_scoped_to_connections(build):
    echo = FunctionSpec(handler="default.handler", timeout_s=5)
    plan = build(websocket(routes={"echo": echo}, cleanup="ttl+sweeper", feature_toggles=True))
    api = plan.one("aws:apigatewayv2/api:Api").outputs["executionArn"]
    holders = {}
    for role in plan.of_type(ROLE):
        suffix = role.name.removeprefix("ws-").removesuffix("-role")
        for statement in statements_of_role(plan, role.name):
            if MANAGE in statement["Action"]:
                assert statement["Action"] == [MANAGE]
                holders.setdefault(suffix, []).append(statement["Resource"])
    assert holders == {
        "route-echo": [f"{api}/live/POST/@connections/*"],
        "broadcast": [f"{api}/live/POST/@connections/*"],
        "snapshot": [f"{api}/live/POST/@connections/*"],
        "sweeper": [f"{api}/live/GET/@connections/*"],  # probes; never posts
    }
    for role in ("connect", "disconnect", "default"):
        assert MANAGE not in actions_of(plan, f"ws-{role}-role")
    connections = plan.one(TABLE, "connections").outputs["arn"]
    assert statements_of_role(plan, "ws-connect-role")[1:] == [
        {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": connections},
        {
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": plan.one(TABLE, "sessions").outputs["arn"],
        },
    ]
    assert {
        "Effect": "Allow",
        "Action": ["dynamodb:Query"],
        "Resource": f"{connections}/index/byUser",
    } in (statements_of_role(plan, "ws-disconnect-role"))
    for role in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(role.inputs["policy"])["Statement"]:
            assert all("*" not in action for action in statement["Action"])


def test_send_policy_output_and_environment(build):
    outputs = {}

    def program():
        ws = WebSocketApi(
            "ws",
            WebSocketApiArgs(routes={"echo": FunctionSpec(handler="default.handler", timeout_s=5)}),
        )
        for key, value in ws.exports.items():
            value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    api = plan.one("aws:apigatewayv2/api:Api")
    assert outputs["ws_url"] == f"wss://{api.id}.execute-api.eu-west-1.amazonaws.com/live"
    assert outputs["callback_url"] == f"https://{api.id}.execute-api.eu-west-1.amazonaws.com/live"
    assert outputs["api_id"] == api.id
    assert outputs["connections_table"] == plan.one(TABLE, "connections").inputs["name"]
    assert outputs["sessions_table"] == plan.one(TABLE, "sessions").inputs["name"]
    assert json.loads(outputs["send_policy"])["Statement"] == [
        {
            "Effect": "Allow",
            "Action": [MANAGE],
            "Resource": f"{api.outputs['executionArn']}/live/POST/@connections/*",
        }
    ]
    echo = plan.one(FN, "route-echo").inputs["environment"]["variables"]
    assert echo["CALLBACK_URL"] == outputs["callback_url"]
    connect = plan.one(FN, "ws-connect").inputs["environment"]["variables"]
    assert connect["USER_ID_SOURCE"] == "protocol_header"
    assert connect["RESUME_WINDOW_S"] == "300" and "CALLBACK_URL" not in connect
    assert connect["CONNECTIONS_TABLE"] == outputs["connections_table"]
    assert plan.one(FN, "ws-default").inputs["environment"]["variables"]["KNOWN_ACTIONS"] == "echo"


def test_connect_authorization_iam_by_default_custom_or_public(build):
    def connect_route(plan):
        return next(r for r in plan.of_type(ROUTE) if r.inputs["routeKey"] == "$connect").inputs

    assert connect_route(build(websocket()))["authorizationType"] == "AWS_IAM"
    assert connect_route(build(websocket(public=True)))["authorizationType"] == "NONE"
    plan = build(
        websocket(
            authorizer=AuthorizerSpec(function_arn=AUTHORIZER_ARN), user_id_source="authorizer"
        )
    )
    authorizer = plan.one("aws:apigatewayv2/authorizer:Authorizer")
    route = connect_route(plan)
    assert route["authorizationType"] == "CUSTOM" and route["authorizerId"] == authorizer.id
    assert authorizer.inputs["authorizerType"] == "REQUEST"
    assert authorizer.inputs["identitySources"] == ["route.request.querystring.token"]
    assert authorizer.inputs["authorizerUri"].endswith(f"functions/{AUTHORIZER_ARN}/invocations")
    permission = plan.one(PERMISSION, "authorizer-invoke").inputs
    assert permission["function"] == AUTHORIZER_ARN
    assert permission["sourceArn"].endswith(f"/authorizers/{authorizer.id}")
    others = [r for r in plan.of_type(ROUTE) if r.inputs["routeKey"] != "$connect"]
    assert {r.inputs.get("authorizationType", "NONE") for r in others} == {"NONE"}


def test_ttl_cleanup_has_no_sweeper(build):
    plan = build(websocket())
    assert plan.of_type("aws:scheduler/schedule:Schedule") == []
    assert sorted(f.name for f in plan.of_type(FN)) == ["ws-connect", "ws-default", "ws-disconnect"]


def test_sweeper_schedule_has_retry_dlq_and_a_pinned_role(build):
    plan = build(websocket(cleanup="ttl+sweeper"))
    schedule = plan.one("aws:scheduler/schedule:Schedule").inputs
    sweeper = plan.one(FN, "sweeper")
    dlq = plan.one("aws:sqs/queue:Queue", "sweeper-dlq")
    role = plan.one(ROLE, "sweeper-schedule-role")
    assert schedule["scheduleExpression"] == "rate(5 minutes)"
    # Built by the library's one Scheduler block, which always names the time zone.
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"] == sweeper.outputs["arn"] and target["roleArn"] == role.outputs["arn"]
    assert json.loads(target["input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    # One failure queue for undeliverable and failed sweeps: the block makes none of its own.
    assert [q.name for q in plan.of_type("aws:sqs/queue:Queue")] == ["ws-sweeper-dlq"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 300}
    assert target["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert statements_of_role(plan, "sweeper-schedule-role") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": sweeper.outputs["arn"],
        },
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": dlq.outputs["arn"]},
    ]
    invoke = plan.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert invoke["destinationConfig"]["onFailure"]["destination"] == dlq.outputs["arn"]
    assert invoke["maximumRetryAttempts"] <= 2
    assert dlq.inputs["messageRetentionSeconds"] == 1_209_600  # 14 days, the SQS maximum
    assert plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "sweeper-dlq-depth")
    assert {"sqs:SendMessage"} <= actions_of(plan, "ws-sweeper-role")


def test_feature_toggle_example_reads_two_streams_with_filters_and_failure_handling(build):
    plan = build(websocket(feature_toggles=True))
    toggles = plan.one(TABLE, "toggles")
    connections = plan.one(TABLE, "connections")
    assert toggles.inputs["streamViewType"] == "NEW_IMAGE"
    assert toggles.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert connections.inputs["streamViewType"] == "NEW_IMAGE"
    mappings = {
        plan.by_urn(m.property_dependencies["functionName"][0]).name: m
        for m in plan.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    }
    assert set(mappings) == {"ws-broadcast", "ws-snapshot"}
    for name, source, events in (
        ("ws-broadcast", toggles, ["INSERT", "MODIFY"]),
        ("ws-snapshot", connections, ["INSERT"]),
    ):
        mapping = mappings[name].inputs
        assert mapping["eventSourceArn"] == source.outputs["streamArn"]
        assert mapping["bisectBatchOnFunctionError"] is True
        assert mapping["maximumRetryAttempts"] == 3 and mapping["maximumRecordAgeInSeconds"] == 3600
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["destinationConfig"]["onFailure"]["destinationArn"].startswith(
            "arn:aws:sqs:"
        )
        (pattern,) = mapping["filterCriteria"]["filters"]
        assert json.loads(pattern["pattern"]) == {"eventName": events}


def test_existing_tables_fill_the_slots(build):
    def program():
        def table(name, key):
            return aws.dynamodb.Table(
                name,
                hash_key=key,
                attributes=[aws.dynamodb.TableAttributeArgs(name=key, type="S")],
                billing_mode="PAY_PER_REQUEST",
            )

        WebSocketApi(
            "ws",
            WebSocketApiArgs(
                connections_table=table("my-connections", "connectionId"),
                sessions_table=table("my-sessions", "userId"),
            ),
        )

    plan = build(program)
    assert sorted(t.name for t in plan.of_type(TABLE)) == ["my-connections", "my-sessions"]
    env = plan.one(FN, "ws-connect").property_dependencies["environment"]
    assert sorted(plan.by_urn(u).name for u in env) == ["my-connections", "my-sessions"]


def test_children_parented_and_prod_settings_reach_them(build):
    settings = Settings(environment="prod", log_retention_days=365, tags={"team": "rt"})
    plan = build(
        lambda: WebSocketApi("ws", WebSocketApiArgs(settings=settings, cleanup="ttl+sweeper"))
    )
    component = plan.one("serverless-patterns:patterns:WebSocketApi")
    children = [r for r in plan.registrations if r is not component]
    assert all(r.parent == component.urn and r.name.startswith("ws-") for r in children)
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {365}
    # Ephemeral tables are not deletion-protected even in prod (TTL data, rebuilt on connect).
    assert {t.inputs["deletionProtectionEnabled"] for t in plan.of_type(TABLE)} == {False}
    assert plan.one(STAGE_V2).inputs["tags"] == {"team": "rt"}
    overridden = build(websocket(log_retention_days=7))
    assert {
        g.inputs["retentionInDays"] for g in overridden.of_type("aws:cloudwatch/logGroup:LogGroup")
    } == {7}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_id_source": "cookie"}, "user_id_source must be one of"),
        ({"user_id_source": "authorizer"}, "user_id_source='authorizer' needs an authorizer"),
        (
            {"public": True, "authorizer": AuthorizerSpec(function_arn=AUTHORIZER_ARN)},
            "public=True and an authorizer exclude each other",
        ),
        ({"resume_window_s": 0}, "resume_window_s must be between 1 and 86400"),
        ({"cleanup": "cron"}, "cleanup must be one of ttl, ttl\\+sweeper"),
        ({"throttle_rate": 0}, "throttle_rate must be positive"),
        ({"throttle_burst": 0}, "throttle_burst must be at least 1"),
        ({"stage_name": "live now"}, "stage_name must be 1-128"),
        ({"log_retention_days": 2}, "log_retention_days must be one of"),
        ({"routes": {"$connect": FunctionSpec(handler="x.handler")}}, "routes keys must be"),
        (
            {"routes": {"slow": FunctionSpec(handler="x.handler", timeout_s=30)}},
            r"routes\['slow'\].timeout_s must be at most 29",
        ),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WebSocketApiArgs(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"function_arn": "arn:aws:s3:::bucket"}, "authorizer.function_arn must be a Lambda"),
        (
            {"function_arn": AUTHORIZER_ARN, "identity_sources": ("header.Authorization",)},
            "authorizer.identity_sources must be",
        ),
    ],
)
def test_authorizer_spec_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AuthorizerSpec(**kwargs)


def test_runtime_and_infrastructure_agree_on_the_registry_contract():
    """The runtime module's constants are the ones the component configures tables with
    (read from its source: importing Lambda code is the handler tests' job)."""
    source = Path(__file__).resolve().parents[2] / "functions" / "shared" / "ws_registry.py"
    constants = {}
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = eval(
                    compile(ast.Expression(node.value), "", "eval")
                )
            except NameError:
                continue
    assert constants["BY_USER_INDEX"] == "byUser"
    assert constants["MAX_CONNECTION_S"] == 7200  # API Gateway closes a connection after 2 h
    assert core_websocket.CONNECTIONS_TABLE.ttl_attribute == "expiresAt"
