"""API Gateway v2 (HTTP and WebSocket) rules.

X-Ray cannot trace these APIs, so APIGW-001 never applies to them: access logging
(APIGW2-001) is the mandatory substitute and STACK-012 makes the functions behind them
trace. Custom-domain TLS is APIGW-011's. The protocol comes from the `Api`, never from a
route key (`$default` exists in both protocols).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules import _openapi as openapi
from serverless_wa.rules._common import V2_STAGE, arn, case, stack_case
from serverless_wa.rules.apigw import (
    CLF_FORMAT,
    JSON_FORMAT,
    access_log_json,
    access_logging,
    number,
    shown,
)

V2_API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
LOG_ARN = arn("logs", "log-group:/aws/apigateway/http-api/$default")
FUNCTION_ARN = arn("lambda", "function:hits")


def _api_protocol(graph: Graph, node: Node) -> str | None:
    """`HTTP` or `WEBSOCKET` of the Api that `node.apiId` names; None when unresolved."""
    apis = graph.refs(node, "apiId", (V2_API,))
    if len(apis) != 1:
        return None
    protocol = apis[0].get("protocolType")
    return protocol.upper() if isinstance(protocol, str) else None


def _api(protocol: str = "HTTP", **props: Any) -> Resource:
    return Resource(V2_API, "api", {"protocolType": protocol, **props})


def quick_create(node: Node) -> bool:
    """An HTTP Api with `target` set: API Gateway makes a `$default` route to the target and
    an auto-deployed `$default` stage that no Stage resource describes (no access logs, no
    throttling; its settings can't be set on the Api)."""
    target = node.get("target")
    protocol = node.get("protocolType")
    return (
        target is not ABSENT
        and target is not UNKNOWN
        and target not in (None, "")
        and isinstance(protocol, str)
        and protocol.upper() == "HTTP"
    )


QUICK_CREATE_FIX = "define an aws.apigatewayv2.Stage (and Route) instead of the Api's target"


def _stage_access_logging(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.type == V2_API:
        if quick_create(node):
            yield Finding(
                "target (quick create) makes an automatic $default stage that writes no access "
                f"logs; {QUICK_CREATE_FIX}"
            )
        return
    yield from access_logging(node, config)


# APIGW2-001 / APIGW2-002 -------------------------------------------------------------------

register(
    Rule(
        id="APIGW2-001",
        name="apigw2-stage-access-logging",
        title="HTTP and WebSocket API stages write access logs",
        description=(
            "accessLogSettings.destinationArn and accessLogSettings.format are both set: the "
            "mandatory substitute for X-Ray, which these APIs cannot use. An HTTP Api with "
            "target (quick create) is a finding: its automatic $default stage logs nothing."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(V2_STAGE, V2_API),
        reads={
            V2_STAGE: ("accessLogSettings.destinationArn", "accessLogSettings.format"),
            V2_API: ("target", "protocolType"),
        },
        anchors=anchors(
            serverless_rules="ES2000",
            cdk_nag="Serverless-APIGWAccessLogging, AwsSolutions-APIG1",
            checkov="CKV_AWS_76, CKV_AWS_95",
            crp="aws-apigatewayv2-stage-enable-access-logging, "
            "aws-apigatewayv2-stage-configure-access-logging",
        ),
        knob="",
        raw="access_log_settings",
        check=_stage_access_logging,
        examples=Examples(
            compliant=(
                case(
                    V2_STAGE,
                    {"accessLogSettings": {"destinationArn": LOG_ARN, "format": JSON_FORMAT}},
                ),
                case(V2_API, {"protocolType": "HTTP"}),
                case(V2_API, {"protocolType": "WEBSOCKET", "target": ""}),
            ),
            non_compliant=(
                case(V2_STAGE, {}),
                case(V2_STAGE, {"accessLogSettings": {"format": JSON_FORMAT}}),
                case(V2_API, {"protocolType": "HTTP", "target": FUNCTION_ARN}),
            ),
        ),
    )
)

register(
    Rule(
        id="APIGW2-002",
        name="apigw2-access-log-json",
        title="HTTP and WebSocket API access logs are structured JSON",
        description=(
            "accessLogSettings.format, with each $context variable replaced by a placeholder, "
            "parses as a JSON object (the APIGW-003 test). Absent settings are APIGW2-001's."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="resource",
        types=(V2_STAGE,),
        reads={V2_STAGE: ("accessLogSettings.format",)},
        anchors=anchors(serverless_rules="WS2001", cdk_nag="Serverless-APIGWStructuredLogging"),
        knob="",
        raw="access_log_settings.format",
        check=access_log_json,
        examples=Examples(
            compliant=(
                case(V2_STAGE, {"accessLogSettings": {"format": JSON_FORMAT}}),
                case(V2_STAGE, {}),
            ),
            non_compliant=(case(V2_STAGE, {"accessLogSettings": {"format": CLF_FORMAT}}),),
        ),
    )
)


# APIGW2-003 --------------------------------------------------------------------------------


def _default_route_throttling(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.type == V2_API:
        if quick_create(node):
            yield Finding(
                "target (quick create) makes an automatic $default stage with no default route "
                f"throttling; {QUICK_CREATE_FIX}"
            )
        return
    burst = node.get("defaultRouteSettings.throttlingBurstLimit")
    rate = node.get("defaultRouteSettings.throttlingRateLimit")
    if burst is UNKNOWN or rate is UNKNOWN:
        return
    limits = [number(v) for v in (burst, rate)]
    if all(n is not None and n > 0 for n in limits):
        return
    if burst is ABSENT and rate is ABSENT:
        yield Finding("default route throttling is unset, so only the account limits apply")
    else:
        yield Finding(
            f"default route throttles at burst {shown(burst)}, rate {shown(rate)} "
            "(both must be > 0)"
        )


register(
    Rule(
        id="APIGW2-003",
        name="apigw2-stage-default-throttling",
        title="HTTP and WebSocket API stages have default route throttling",
        description=(
            "defaultRouteSettings.throttlingBurstLimit and throttlingRateLimit are both > 0; "
            "absent leaves only the account limits. routeSettings don't replace the default. "
            "An HTTP Api with target (quick create) is a finding: its automatic $default "
            "stage has no throttling of its own."
        ),
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(V2_STAGE, V2_API),
        reads={
            V2_STAGE: (
                "defaultRouteSettings.throttlingBurstLimit",
                "defaultRouteSettings.throttlingRateLimit",
            ),
            V2_API: ("target", "protocolType"),
        },
        anchors=anchors(serverless_rules="ES2003", cdk_nag="Serverless-APIGWDefaultThrottling"),
        knob="throttle_rate / throttle_burst",
        raw="default_route_settings.throttling_rate_limit / throttling_burst_limit",
        check=_default_route_throttling,
        examples=Examples(
            compliant=(
                case(
                    V2_STAGE,
                    {
                        "defaultRouteSettings": {
                            "throttlingBurstLimit": 50,
                            "throttlingRateLimit": 100.0,
                        }
                    },
                ),
                case(V2_API, {"protocolType": "HTTP", "body": "{}"}),
            ),
            non_compliant=(
                case(V2_STAGE, {}),
                case(
                    V2_STAGE,
                    {"defaultRouteSettings": {"throttlingBurstLimit": 0, "throttlingRateLimit": 0}},
                ),
                case(V2_STAGE, {"defaultRouteSettings": {"throttlingRateLimit": 100.0}}),
                case(V2_API, {"protocolType": "HTTP", "target": FUNCTION_ARN}),
            ),
        ),
    )
)


# APIGW2-004 --------------------------------------------------------------------------------


def _websocket_execution_logging(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for stage in graph.of_type(V2_STAGE):
        if _api_protocol(graph, stage) != "WEBSOCKET":
            continue
        level = stage.get("defaultRouteSettings.loggingLevel")
        metrics = stage.get("defaultRouteSettings.detailedMetricsEnabled")
        if level is UNKNOWN or metrics is UNKNOWN:
            continue
        problems = []
        if level not in ("ERROR", "INFO"):
            problems.append(
                "execution logging level is " + ("unset (OFF)" if level is ABSENT else shown(level))
            )
        if metrics is not True:
            problems.append("detailed metrics are off")
        if problems:
            yield Finding("; ".join(problems), urn=stage.urn)


def _ws_stage(settings: dict[str, Any], **props: Any) -> Resource:
    return Resource(
        V2_STAGE, "stage", {"defaultRouteSettings": settings, **props}, depends={"apiId": ("api",)}
    )


WS_LOGGED = {"loggingLevel": "ERROR", "detailedMetricsEnabled": True}

register(
    Rule(
        id="APIGW2-004",
        name="apigw2-websocket-execution-logging",
        title="WebSocket API stages log execution errors and emit detailed metrics",
        description=(
            "WebSocket stages only: defaultRouteSettings.loggingLevel ERROR or INFO (absent = "
            "OFF) and detailedMetricsEnabled true. HTTP APIs have no logging level."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="stack",
        types=(V2_STAGE, V2_API),
        reads={
            V2_STAGE: (
                "apiId",
                "defaultRouteSettings.loggingLevel",
                "defaultRouteSettings.detailedMetricsEnabled",
            ),
            V2_API: ("protocolType",),
        },
        anchors=anchors(),
        knob="execution_log_level",
        raw="default_route_settings.logging_level / detailed_metrics_enabled",
        check=_websocket_execution_logging,
        examples=Examples(
            compliant=(
                stack_case(_api("WEBSOCKET"), _ws_stage(WS_LOGGED), subject="stage"),
                stack_case(_api("HTTP"), _ws_stage({}), subject="stage"),
                stack_case(
                    _api("WEBSOCKET", id="ws1234"),
                    Resource(
                        V2_STAGE, "stage", {"apiId": "ws1234", "defaultRouteSettings": WS_LOGGED}
                    ),
                    subject="stage",
                ),
            ),
            non_compliant=(
                stack_case(_api("WEBSOCKET"), _ws_stage({}), subject="stage"),
                stack_case(
                    _api("WEBSOCKET"),
                    _ws_stage({"loggingLevel": "OFF", "detailedMetricsEnabled": True}),
                    subject="stage",
                ),
                stack_case(
                    _api("WEBSOCKET", id="ws1234"),
                    Resource(
                        V2_STAGE,
                        "stage",
                        {"apiId": "ws1234", "defaultRouteSettings": {"loggingLevel": "INFO"}},
                    ),
                    subject="stage",
                ),
            ),
        ),
    )
)


# APIGW2-005 --------------------------------------------------------------------------------


def _declared_routes(api: Node) -> Iterator[Finding]:
    """Routes an HTTP Api declares itself: quick create's `$default` route (never
    authorized) and each operation of an OpenAPI body without a security requirement."""
    if quick_create(api):
        yield Finding(
            "HTTP route $default (quick create target) has authorization NONE", urn=api.urn
        )
    protocol = api.get("protocolType")
    doc = openapi.document(api.get("body"))
    if doc is None or not isinstance(protocol, str) or protocol.upper() != "HTTP":
        return
    for method, path, operation in openapi.operations(doc):
        if method != "OPTIONS" and not openapi.requires_security(doc, operation):
            yield Finding(
                f"OpenAPI body: HTTP route {method} {path} has no authorizer",
                urn=api.urn,
                detail=f"{method} {path}",
                fix="body (a security requirement on the operation or the document)",
            )


def _route_authorization(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for api in graph.of_type(V2_API):
        yield from _declared_routes(api)
    for route in graph.of_type(ROUTE):
        protocol = _api_protocol(graph, route)
        key = route.get("routeKey")
        if protocol == "WEBSOCKET":
            if key != "$connect":
                continue
        elif protocol != "HTTP":
            continue
        authorization = route.get("authorizationType")
        if authorization is ABSENT:
            authorization = "NONE"
        if isinstance(authorization, str) and authorization.upper() == "NONE":
            shown_key = key if isinstance(key, str) else "?"
            yield Finding(f"{protocol} route {shown_key} has authorization NONE", urn=route.urn)


def _http_body(*, secured: bool) -> str:
    """An OpenAPI 3 body of an HTTP API: GET /items, with a JWT authorizer when secured."""
    operation: dict[str, Any] = {
        "x-amazon-apigateway-integration": {
            "type": "aws_proxy",
            "payloadFormatVersion": "2.0",
            "uri": FUNCTION_ARN,
        }
    }
    if secured:
        operation["security"] = [{"jwt": []}]
    return json.dumps(
        {
            "openapi": "3.0.1",
            "info": {"title": "items", "version": "1"},
            "paths": {"/items": {"get": operation}},
            "components": {
                "securitySchemes": {
                    "jwt": {
                        "type": "oauth2",
                        "x-amazon-apigateway-authorizer": {"type": "jwt"},
                    }
                }
            },
        }
    )


def _route(key: str, **props: Any) -> Resource:
    return Resource(ROUTE, "route", {"routeKey": key, **props}, depends={"apiId": ("api",)})


register(
    Rule(
        id="APIGW2-005",
        name="apigw2-route-authorization",
        title="HTTP API routes and WebSocket $connect routes require authorization",
        description=(
            "HTTP APIs: every route's authorizationType (absent = NONE) is not NONE, the "
            "$default route of a quick-create Api (target) included, and every operation of "
            "an OpenAPI body needs a security requirement. WebSocket APIs: only $connect, "
            "since other routes can't carry authorizers. The protocol comes from the Api."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="stack",
        types=(ROUTE, V2_API),
        reads={
            ROUTE: ("apiId", "routeKey", "authorizationType"),
            V2_API: ("protocolType", "target", "body"),
        },
        anchors=anchors(checkov="CKV_AWS_309", cdk_nag="AwsSolutions-APIG4"),
        knob="authorizer",
        raw="authorization_type / authorizer_id",
        check=_route_authorization,
        examples=Examples(
            compliant=(
                stack_case(_api(body=_http_body(secured=True)), subject="api"),
                stack_case(_api(), _route("GET /items", authorizationType="JWT"), subject="route"),
                stack_case(_api("WEBSOCKET"), _route("sendMessage"), subject="route"),
                stack_case(
                    _api("WEBSOCKET"),
                    _route("$connect", authorizationType="AWS_IAM"),
                    subject="route",
                ),
                stack_case(
                    _api(id="http1234"),
                    Resource(
                        ROUTE,
                        "route",
                        {"apiId": "http1234", "routeKey": "$default", "authorizationType": "JWT"},
                    ),
                    subject="route",
                ),
            ),
            non_compliant=(
                stack_case(_api(target=FUNCTION_ARN), subject="api"),
                stack_case(_api(body=_http_body(secured=False)), subject="api"),
                stack_case(_api(), _route("$default"), subject="route"),
                stack_case(
                    _api("WEBSOCKET"), _route("$connect", authorizationType="NONE"), subject="route"
                ),
                stack_case(
                    _api(id="http1234"),
                    Resource(
                        ROUTE,
                        "route",
                        {
                            "apiId": "http1234",
                            "routeKey": "POST /orders",
                            "authorizationType": "NONE",
                        },
                    ),
                    subject="route",
                ),
            ),
        ),
    )
)


# APIGW2-006 --------------------------------------------------------------------------------


def _cors_no_wildcard(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    origins = node.get("corsConfiguration.allowOrigins")
    if isinstance(origins, list) and "*" in origins:
        yield Finding("CORS allows any origin ('*')")


register(
    Rule(
        id="APIGW2-006",
        name="apigw2-cors-no-wildcard",
        title="HTTP API CORS does not allow every origin",
        description=(
            "corsConfiguration.allowOrigins containing '*' is a finding. Public read-only APIs "
            "take an exemption."
        ),
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(V2_API,),
        reads={V2_API: ("corsConfiguration.allowOrigins",)},
        anchors=anchors(),
        knob="",
        raw="cors_configuration.allow_origins",
        check=_cors_no_wildcard,
        examples=Examples(
            compliant=(
                case(V2_API, {"corsConfiguration": {"allowOrigins": ["https://app.example.com"]}}),
                case(V2_API, {}),
            ),
            non_compliant=(
                case(V2_API, {"corsConfiguration": {"allowOrigins": ["*"]}}),
                case(
                    V2_API,
                    {"corsConfiguration": {"allowOrigins": ["https://app.example.com", "*"]}},
                ),
            ),
        ),
    )
)
