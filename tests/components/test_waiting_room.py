"""WaitingRoom under mocks: tables and indexes, schedules, routes and authorizers, the signing
key and its rotation, least-privilege roles, the push channel, slots, arguments, the gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pulumi_aws as aws
import pytest
from moto.events.models import EventPattern  # imported at collection: it probes IPv6

from components.core import defaults
from components.core.settings import Settings
from components.waiting_room import METRIC_FILTERS, WaitingRoom, WaitingRoomArgs, ZoneSpec
from components.websocket_api import WebSocketApi, WebSocketApiArgs
from preview import gate
from tests.helpers import scoped_grants, statements_of_role

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
METHOD = "aws:apigateway/method:Method"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE = "aws:iam/role:Role"
ALARMS = Settings(alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",))
WAF = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/sale/0a1b2c3d-4e5f"
LAUNCH = ZoneSpec(
    zone_id="launch",
    mode="WAITING_ROOM_THEN_QUEUE",
    sale_starts_at="2026-06-05T10:00:00Z",
    release_per_minute=500,
    max_in_zone=2000,
    token_pool=5000,
    ordering="PRIORITY",
)
SECRET_READ = "secretsmanager:GetSecretValue"
MANAGE = "execute-api:ManageConnections"
ROOT = Path(__file__).resolve().parents[2]


def room(**kwargs):
    kwargs.setdefault("settings", ALARMS)
    return lambda: WaitingRoom("room", WaitingRoomArgs(**kwargs))


def actions_of(plan, role):
    return {a for s in statements_of_role(plan, role) for a in s["Action"]}


def key_schema(table):
    return {k["keyType"]: k["attributeName"] for k in table.inputs.get("keySchemas", [])} or {
        "HASH": table.inputs["hashKey"],
        **({"RANGE": table.inputs["rangeKey"]} if table.inputs.get("rangeKey") else {}),
    }


def test_tables_keys_indexes_ttl_and_stream(build):
    plan = build(room())
    zones, counters, queue = (plan.one(TABLE, f"room-{n}") for n in ("zones", "counters", "queue"))
    assert key_schema(zones) == {"HASH": "zoneId"}
    assert zones.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert key_schema(counters) == {"HASH": "zoneId", "RANGE": "name"}
    assert key_schema(queue) == {"HASH": "zoneId", "RANGE": "sk"}
    for ephemeral in (counters, queue):
        assert ephemeral.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
        assert ephemeral.inputs["tags"][defaults.TAG_DATA] == "ephemeral"
        assert ephemeral.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert queue.inputs["streamEnabled"] is True
    assert queue.inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"
    indexes = {
        index["name"]: {k["keyType"]: k["attributeName"] for k in index["keySchemas"]}
        for index in queue.inputs["globalSecondaryIndexes"]
    }
    assert indexes == {
        "waiting": {"HASH": "waitingZone", "RANGE": "position"},
        "admitted": {"HASH": "admittedZone", "RANGE": "tokenExp"},
    }
    types = {a["name"]: a["type"] for a in queue.inputs["attributes"]}
    assert types == {
        "zoneId": "S",
        "sk": "S",
        "waitingZone": "S",
        "position": "S",
        "admittedZone": "S",
        "tokenExp": "N",
    }


def test_admitter_and_sweeper_run_alone_on_schedules_with_retry_and_dlq(build):
    plan = build(room(admit_schedule="rate(1 minute)"))
    schedules = {s.name: s for s in plan.of_type(SCHEDULE)}
    assert set(schedules) == {"room-admitter-schedule", "room-sweeper-schedule"}
    expressions = {n: s.inputs["scheduleExpression"] for n, s in schedules.items()}
    assert expressions == {
        "room-admitter-schedule": "rate(1 minute)",
        "room-sweeper-schedule": "rate(5 minutes)",
    }
    for name in ("admitter", "sweeper"):
        function = plan.one(FN, f"room-{name}")
        assert function.inputs["reservedConcurrentExecutions"] == 1
        target = schedules[f"room-{name}-schedule"].inputs["target"]
        assert target["arn"] == function.outputs["arn"]
        assert 0 < target["retryPolicy"]["maximumRetryAttempts"] <= 3
        dlq = plan.one("aws:sqs/queue:Queue", f"room-{name}-schedule-dlq")
        assert target["deadLetterConfig"]["arn"] == dlq.outputs["arn"]
        invoke_config = next(
            c
            for c in plan.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
            if c.inputs["functionName"] == function.outputs["name"]
        )
        on_failure = invoke_config.inputs["destinationConfig"]["onFailure"]["destination"]
        assert on_failure == plan.one("aws:sqs/queue:Queue", f"room-{name}-dlq").outputs["arn"]
        assert invoke_config.inputs["maximumRetryAttempts"] == 0
    assert "scheduled-time" in schedules["room-admitter-schedule"].inputs["target"]["input"]


def test_visitor_routes_use_authorizers_and_admin_routes_iam(build):
    plan = build(room())
    methods = {m.name: m.inputs for m in plan.of_type(METHOD)}
    authorizers = {a.name: a for a in plan.of_type(AUTHORIZER)}
    by_id = {a.id: name for name, a in authorizers.items()}
    routes = {
        name: (m["httpMethod"], m["authorization"], by_id.get(m.get("authorizerId")))
        for name, m in methods.items()
    }
    assert routes == {
        "room-enter-post": ("POST", "CUSTOM", "room-enter-authorizer"),
        "room-status-get": ("GET", "CUSTOM", "room-visitor-authorizer"),
        "room-leave-post": ("POST", "CUSTOM", "room-visitor-authorizer"),
        "room-complete-post": ("POST", "CUSTOM", "room-access-authorizer"),
        "room-zone-put": ("PUT", "AWS_IAM", None),
        "room-passes-post": ("POST", "AWS_IAM", None),
    }
    cached = {n: a.inputs["authorizerResultTtlInSeconds"] for n, a in authorizers.items()}
    # Entry mints visitor ids and the access check must see expiry: never cached.
    assert cached == {
        "room-enter-authorizer": 0,
        "room-visitor-authorizer": 300,
        "room-access-authorizer": 0,
    }
    sources = {n: a.inputs["identitySource"] for n, a in authorizers.items()}
    assert sources == {
        "room-enter-authorizer": "stageVariables.waitingRoom",
        "room-visitor-authorizer": "method.request.header.Cookie",
        "room-access-authorizer": "method.request.header.Authorization",
    }
    stage = plan.one("aws:apigateway/stage:Stage")
    assert stage.inputs["variables"] == {"waitingRoom": "room"}
    assert stage.inputs["xrayTracingEnabled"] is True
    functions = {f.name: f for f in plan.of_type(FN)}
    for name, authorizer in authorizers.items():
        target = "room-verify-access" if name == "room-access-authorizer" else "room-visitor-auth"
        assert authorizer.inputs["authorizerUri"] == functions[target].outputs["invokeArn"]
    rest_api = plan.one("aws:apigateway/restApi:RestApi").outputs["executionArn"]
    permissions = [
        p.inputs
        for p in plan.of_type("aws:lambda/permission:Permission")
        if p.inputs["sourceArn"].startswith(f"{rest_api}/authorizers/")
    ]
    assert len(permissions) == 3
    assert {p["principal"] for p in permissions} == {"apigateway.amazonaws.com"}


def test_visitor_routes_are_throttled(build):
    plan = build(room(throttle_rate=25, throttle_burst=60))
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs
    assert settings["methodPath"] == "*/*"
    assert (
        settings["settings"]["throttlingRateLimit"],
        settings["settings"]["throttlingBurstLimit"],
    ) == (25, 60)
    ws_stage = plan.one("aws:apigatewayv2/stage:Stage").inputs
    assert ws_stage["defaultRouteSettings"]["throttlingRateLimit"] > 0


@pytest.mark.parametrize("waf", [None, WAF])
def test_waf_association_exactly_when_an_acl_is_given(build, waf):
    plan = build(room(waf_acl_arn=waf))
    associations = plan.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    if waf is None:
        assert associations == []
    else:
        (association,) = associations
        assert association.inputs["webAclArn"] == WAF
        stage = plan.one("aws:apigateway/stage:Stage")
        assert association.inputs["resourceArn"] == stage.outputs["arn"]


def test_signing_key_rotates_through_its_own_function(build):
    plan = build(room(signing_key_rotation_days=14))
    secret = plan.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs["recoveryWindowInDays"] == 0  # dev: rebuilt under the same name
    rotation = plan.one("aws:secretsmanager/secretRotation:SecretRotation")
    rotator = plan.one(FN, "room-rotate-key")
    assert rotation.inputs["secretId"] == secret.id
    assert rotation.inputs["rotationLambdaArn"] == rotator.outputs["arn"]
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 14}
    assert rotation.inputs["rotateImmediately"] is True
    permission = next(
        p.inputs
        for p in plan.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "secretsmanager.amazonaws.com"
    )
    assert permission["sourceArn"] == secret.outputs["arn"]
    assert permission["function"] == rotator.outputs["name"]
    # The placeholder is no key: the first rotation writes the first one.
    placeholder = plan.one("aws:secretsmanager/secretVersion:SecretVersion").inputs
    assert "not-a-key" in placeholder["secretString"]["value"]  # a Pulumi secret
    assert scoped_grants(plan, "room-rotate-key-role") >= {
        (action, secret.outputs["arn"])
        for action in (
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage",
        )
    }


def test_only_the_functions_that_sign_or_verify_read_the_key(build):
    plan = build(room())
    secret = plan.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    readers = {
        role.name.removesuffix("-role")
        for role in plan.of_type(ROLE)
        if (SECRET_READ, secret) in scoped_grants(plan, role.name)
    }
    assert readers == {
        "room-enter",
        "room-status",
        "room-admin",
        "room-visitor-auth",
        "room-verify-access",
        "room-rotate-key",
    }
    for role in ("room-admitter-role", "room-sweeper-role", "room-leave-role", "room-metrics-role"):
        assert SECRET_READ not in actions_of(plan, role)
    environment = plan.one(FN, "room-leave").inputs["environment"]["variables"]
    assert "SIGNING_SECRET_ARN" not in environment


def test_roles_are_least_privilege(build):
    plan = build(room())
    arn = {n: plan.one(TABLE, f"room-{n}").outputs["arn"] for n in ("zones", "counters", "queue")}
    waiting, admitted = f"{arn['queue']}/index/waiting", f"{arn['queue']}/index/admitted"
    table_grants = {
        role: {g for g in scoped_grants(plan, f"room-{role}-role") if g[0].startswith("dynamodb:")}
        for role in ("enter", "status", "leave", "complete", "admitter", "sweeper", "metrics")
    }
    assert table_grants["leave"] == {
        ("dynamodb:UpdateItem", arn["counters"]),
        ("dynamodb:GetItem", arn["queue"]),
        ("dynamodb:UpdateItem", arn["queue"]),
    }
    assert table_grants["complete"] == table_grants["leave"]
    assert ("dynamodb:Query", waiting) in table_grants["admitter"]
    assert ("dynamodb:Query", admitted) not in table_grants["admitter"]
    assert {("dynamodb:Query", waiting), ("dynamodb:Query", admitted)} <= table_grants["sweeper"]
    assert ("dynamodb:PutItem", arn["queue"]) in table_grants["enter"]
    assert not any(action == "dynamodb:PutItem" for action, _ in table_grants["status"])
    assert ("dynamodb:Scan", arn["zones"]) in table_grants["admitter"]
    for role in plan.of_type(ROLE):
        for statement in statements_of_role(plan, role.name):
            assert all("*" not in action for action in statement["Action"])


def test_only_the_admitter_posts_to_connections(build):
    plan = build(room())
    holders = {r.name for r in plan.of_type(ROLE) if MANAGE in actions_of(plan, r.name)}
    assert holders == {"room-admitter-role"}
    (grant,) = [s for s in statements_of_role(plan, "room-admitter-role") if MANAGE in s["Action"]]
    assert grant["Resource"].endswith("/POST/@connections/*")
    variables = plan.one(FN, "room-admitter").inputs["environment"]["variables"]
    assert variables["CALLBACK_URL"].startswith("https://")
    # The WebSocket API's $connect is guarded by the visitor authorizer (a push ticket).
    connect = next(
        r
        for r in plan.of_type("aws:apigatewayv2/route:Route")
        if r.inputs["routeKey"] == "$connect"
    )
    assert connect.inputs["authorizationType"] == "CUSTOM"
    ws_authorizer = plan.one("aws:apigatewayv2/authorizer:Authorizer")
    assert ws_authorizer.inputs["identitySources"] == ["route.request.querystring.ticket"]
    visitor_auth = plan.one(FN, "room-visitor-auth")
    assert visitor_auth.outputs["arn"] in ws_authorizer.inputs["authorizerUri"]
    connect_fn = plan.one(FN, "room-ws-connect")
    assert connect_fn.inputs["environment"]["variables"]["USER_ID_SOURCE"] == "authorizer"


def test_polling_transport_has_no_websocket_api(build):
    plan = build(room(transport="polling"))
    assert plan.of_type("aws:apigatewayv2/api:Api") == []
    variables = plan.one(FN, "room-admitter").inputs["environment"]["variables"]
    assert "CALLBACK_URL" not in variables
    assert MANAGE not in actions_of(plan, "room-admitter-role")


def test_an_existing_websocket_api_is_used_instead_of_a_new_one(build):
    def program():
        ws = WebSocketApi("push", WebSocketApiArgs(settings=ALARMS))
        WaitingRoom("room", WaitingRoomArgs(settings=ALARMS, websocket=ws))

    plan = build(program)
    (api,) = plan.of_type("aws:apigatewayv2/api:Api")
    assert api.name == "push-api"
    variables = plan.one(FN, "room-admitter").inputs["environment"]["variables"]
    assert variables["CONNECTIONS_TABLE"] == plan.one(TABLE, "push-connections").inputs["name"]


def test_metrics_read_the_queue_stream_with_filters_and_failure_handling(build):
    plan = build(room())
    mapping = plan.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    queue = plan.one(TABLE, "room-queue")
    assert mapping.inputs["eventSourceArn"] == queue.outputs["streamArn"]
    assert mapping.inputs["functionName"] == plan.one(FN, "room-metrics").outputs["arn"]
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["bisectBatchOnFunctionError"] is True
    assert 0 < mapping.inputs["maximumRetryAttempts"] <= 10
    dlq = plan.one("aws:sqs/queue:Queue", "room-metrics-dlq")
    assert mapping.inputs["destinationConfig"]["onFailure"]["destinationArn"] == dlq.outputs["arn"]
    patterns = [json.loads(f["pattern"]) for f in mapping.inputs["filterCriteria"]["filters"]]
    assert patterns == [json.loads(json.dumps(p)) for p in METRIC_FILTERS]


def test_metric_filters_pass_state_changes_and_not_heartbeats():
    """The mapping's filters, evaluated by moto's EventBridge pattern matcher (Lambda uses
    the same pattern language) against the stream fixtures."""
    fixture = json.loads((ROOT / "tests/events/waiting-room/stream-batch.json").read_text())
    records = fixture["Records"]
    heartbeat = json.loads(json.dumps(records[1]))
    heartbeat["dynamodb"]["NewImage"] = dict(heartbeat["dynamodb"]["OldImage"])
    heartbeat["dynamodb"]["NewImage"]["lastSeen"] = {"N": "1780653999"}
    pass_guard = json.loads(json.dumps(records[0]))
    pass_guard["dynamodb"]["Keys"]["sk"] = {"S": "pass#0f1e2d3c"}

    def passes(record):
        return any(EventPattern.load(json.dumps(p)).matches_event(record) for p in METRIC_FILTERS)

    assert [passes(r) for r in records] == [True, True, True, True]
    assert not passes(heartbeat)
    assert not passes(pass_guard)


def test_configured_zones_are_items_the_runtime_reads_as_managed(build):
    plan = build(room(zones=[LAUNCH]))
    (item,) = plan.of_type("aws:dynamodb/tableItem:TableItem")
    zones = plan.one(TABLE, "room-zones")
    assert item.inputs["tableName"] == zones.inputs["name"]
    stored = json.loads(item.inputs["item"])
    assert stored["managedBy"] == {"S": "pulumi"}
    assert stored["saleStartsAt"] == {"N": "1780653600"}
    runtime_zones = _runtime_zones()
    zone = runtime_zones.Zone.from_item(LAUNCH.item())
    assert (zone.mode, zone.sale_starts_at, zone.release_per_minute) == (
        "WAITING_ROOM_THEN_QUEUE",
        1780653600,
        500,
    )
    assert (zone.max_in_zone, zone.token_pool, zone.ordering) == (2000, 5000, "PRIORITY")


def _runtime_zones():
    """functions/waiting_room/zones.py, loaded under a name of its own."""
    import importlib.util

    path = ROOT / "functions" / "waiting_room" / "zones.py"
    spec = importlib.util.spec_from_file_location("_waiting_room_zones", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "zone",
    [
        {"zone_id": "q", "mode": "QUEUE", "max_in_zone": 10},
        {"zone_id": "q", "mode": "QUEUE", "max_in_zone": 10, "release_per_minute": 5},
        {
            "zone_id": "w",
            "mode": "WAITING_ROOM",
            "sale_starts_at": "2026-01-01T00:00:00+01:00",
            "release_per_minute": 5,
        },
        {"zone_id": "w", "mode": "WAITING_ROOM", "release_per_minute": 5},
        {
            "zone_id": "w",
            "mode": "WAITING_ROOM",
            "sale_starts_at": "2026-01-01T00:00:00Z",
            "release_per_minute": 5,
            "max_in_zone": 3,
        },
        {
            "zone_id": "q",
            "mode": "QUEUE",
            "max_in_zone": 10,
            "sale_starts_at": "2026-01-01T00:00:00Z",
        },
        {
            "zone_id": "b",
            "mode": "WAITING_ROOM_THEN_QUEUE",
            "sale_starts_at": "2026-01-01T00:00:00Z",
            "release_per_minute": 5,
        },
        {"zone_id": "b", "mode": "QUEUE", "max_in_zone": 0},
        {"zone_id": "bad id", "mode": "QUEUE", "max_in_zone": 1},
        {"zone_id": "t", "mode": "QUEUE", "max_in_zone": 1, "token_pool": 100_000_001},
    ],
)
def test_stack_zones_and_the_admin_api_accept_and_refuse_the_same_zones(zone):
    runtime_zones = _runtime_zones()
    try:
        spec = ZoneSpec(**zone)
    except ValueError:
        accepted_here = False
    else:
        accepted_here = True
    camel = {
        "mode": zone["mode"],
        "saleStartsAt": zone.get("sale_starts_at"),
        "releasePerMinute": zone.get("release_per_minute"),
        "maxInZone": zone.get("max_in_zone"),
        "tokenPool": zone.get("token_pool"),
    }
    try:
        runtime_zones.Zone.parse(zone["zone_id"], {k: v for k, v in camel.items() if v is not None})
    except ValueError:
        accepted_there = False
    else:
        accepted_there = True
    assert accepted_here == accepted_there
    if accepted_here:
        assert runtime_zones.Zone.from_item(spec.item()).zone_id == zone["zone_id"]


def test_existing_tables_and_key_fill_the_slots(build):
    def program():
        def table(name, hash_key, range_key=None):
            keys = [aws.dynamodb.TableAttributeArgs(name=hash_key, type="S")]
            if range_key:
                keys.append(aws.dynamodb.TableAttributeArgs(name=range_key, type="S"))
            return aws.dynamodb.Table(
                name,
                hash_key=hash_key,
                range_key=range_key,
                attributes=keys,
                billing_mode="PAY_PER_REQUEST",
            )

        secret = aws.secretsmanager.Secret("my-key")
        WaitingRoom(
            "room",
            WaitingRoomArgs(
                settings=ALARMS,
                zones_table=table("my-zones", "zoneId"),
                counters_table=table("my-counters", "zoneId", "name"),
                queue_table=table("my-queue", "zoneId", "sk"),
                signing_key=secret,
            ),
        )

    plan = build(program)
    assert sorted(t.name for t in plan.of_type(TABLE)) == sorted(
        ["my-zones", "my-counters", "my-queue", "room-ws-connections", "room-ws-sessions"]
    )
    (secret,) = plan.of_type("aws:secretsmanager/secret:Secret")
    assert secret.name == "my-key"
    assert plan.of_type("aws:secretsmanager/secretRotation:SecretRotation") == []
    assert [f for f in plan.of_type(FN) if f.name.endswith("rotate-key")] == []
    variables = plan.one(FN, "room-enter").inputs["environment"]["variables"]
    assert variables["SIGNING_SECRET_ARN"] == secret.outputs["arn"]
    assert variables["QUEUE_TABLE"] == plan.one(TABLE, "my-queue").outputs["name"]
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.split(",")[0] for w in warnings] == [
        "signing_key is an existing resource",
        "zones_table is an existing resource",
        "counters_table is an existing resource",
        "queue_table is an existing resource",
    ]


def test_outputs_and_every_child_owned_by_the_component(build):
    outputs = {}

    def program():
        component = WaitingRoom("room", WaitingRoomArgs(settings=ALARMS))
        for key, value in component.exports.items():
            if value is not None:
                value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    component = plan.one("serverless-patterns:patterns:WaitingRoom")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert outputs["api_url"].endswith(".amazonaws.com/v1")
    assert outputs["ws_url"].startswith("wss://") and outputs["ws_url"].endswith("/live")
    assert set(outputs["table_names"]) == {"zones", "counters", "queue"}
    assert outputs["signing_key_arn"].startswith("arn:aws:secretsmanager:")
    assert outputs["authorizer_function_arn"].endswith(":function:test-room-verify-access")


def test_functions_carry_the_defaults(build):
    plan = build(room())
    functions = plan.of_type(FN)
    assert len(functions) == 14  # ours (11) and the WebSocket core's connect/disconnect/default
    for function in functions:
        inputs = function.inputs
        assert inputs["tracingConfig"] == {"mode": "Active"}
        assert inputs["architectures"] == ["arm64"]
        assert inputs["loggingConfig"]["logFormat"] == "JSON"
        assert inputs["timeout"] <= 60 and inputs["memorySize"] >= 128


def test_the_prod_gate_has_no_mandatory_finding(build):
    settings = Settings(
        environment="prod",
        log_retention_days=365,
        alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",),
    )
    plan = build(room(settings=settings, zones=[LAUNCH], waf_acl_arn=WAF, slices_per_minute=4))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    # Advisory findings too, where the component has no reason to differ: every grant names
    # a resource its action accepts, and the signing key rotates.
    advised = {f.id for f in report.findings}
    assert advised.isdisjoint({"IAM-008", "SECRETS-001", "LAMBDA-008", "APIGW-010"}), advised
    assert plan.one("aws:secretsmanager/secret:Secret").inputs["recoveryWindowInDays"] == 7
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "room-waiting-age")
    assert alarm.inputs["dimensions"] == {"service": "waiting-room", "room": "room"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zones": [], "zones_managed_at_runtime": False}, "zones must name at least one zone"),
        ({"zones": [LAUNCH, LAUNCH]}, "zones must have distinct zone_id"),
        ({"transport": "sms"}, "transport must be one of websocket, polling"),
        ({"transport": "polling", "websocket": WebSocketApiArgs()}, "websocket is used only"),
        ({"admit_schedule": "rate(1 minutes)"}, "admit_schedule: rate"),
        ({"admit_schedule": "at(2026-06-05T10:00:00)"}, "admit_schedule must repeat"),
        ({"slices_per_minute": 13}, "slices_per_minute must be between 1 and 12"),
        ({"token_ttl_s": 30}, "token_ttl_s must be between 60 and 86400"),
        ({"abandon_after_s": 60}, "abandon_after_s must be between 120 and 86400"),
        ({"visitor_cookie": "a b"}, "visitor_cookie must be"),
        ({"signing_key_rotation_days": 0}, "signing_key_rotation_days must be between 1 and 365"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn must be a regional WAFv2"),
        ({"stage_name": "v 1"}, "stage_name must be"),
        ({"throttle_rate": 0}, "throttle_rate must be positive"),
        ({"waiting_age_alarm_s": 10}, "waiting_age_alarm_s must be at least 60"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WaitingRoomArgs(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "RAFFLE"}, "mode must be one of"),
        ({"mode": "QUEUE"}, "mode QUEUE needs max_in_zone"),
        ({"mode": "WAITING_ROOM", "release_per_minute": 10}, "needs sale_starts_at"),
        (
            {"mode": "WAITING_ROOM", "release_per_minute": 10, "sale_starts_at": "tomorrow"},
            "sale_starts_at must be an ISO 8601 time with a zone",
        ),
        (
            {
                "mode": "WAITING_ROOM",
                "release_per_minute": 10,
                "sale_starts_at": "2026-06-05T10:00:00",
            },
            "sale_starts_at must be an ISO 8601 time with a zone",
        ),
        ({"mode": "QUEUE", "max_in_zone": 5, "ordering": "VIP"}, "ordering must be one of"),
        ({"mode": "QUEUE", "max_in_zone": 5, "release_per_minute": 60_001}, "release_per_minute"),
    ],
)
def test_invalid_zones_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ZoneSpec(zone_id="z", **kwargs)


def test_an_existing_key_without_rotation_is_what_secrets_001_reports(build):
    def program():
        key = aws.secretsmanager.Secret("my-key", name="my-key")
        WaitingRoom("room", WaitingRoomArgs(settings=ALARMS, signing_key=key))

    plan = build(program)
    report = gate.run(plan, profile=gate.profile_for("prod"))
    (finding,) = [f for f in report.findings if f.id == "SECRETS-001"]
    assert finding.urn == plan.one("aws:secretsmanager/secret:Secret").urn
    assert "no SecretRotation" in finding.message
    assert finding.enforcement == "advisory"  # MEDIUM, as Security Hub rates it
