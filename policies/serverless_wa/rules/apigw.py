"""API Gateway REST rules.

Also home of the checks APIGW2 shares (access logging, the JSON access-log template test).
Pulumi's REST `Stage` has no inline method settings: stage-wide throttling and execution
logging live in an `aws.apigateway.MethodSettings` with `methodPath == "*/*"`, matched to its
stage by REST stage identity (`restApi`, `stageName`), so those rules are stack rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, as_list, known
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules import _openapi as openapi
from serverless_wa.rules._common import REST_STAGE, arn, case, stack_case

REST_API = "aws:apigateway/restApi:RestApi"
METHOD = "aws:apigateway/method:Method"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
DOMAIN_NAME = "aws:apigateway/domainName:DomainName"
V2_DOMAIN_NAME = "aws:apigatewayv2/domainName:DomainName"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"

STAGE_ARN = "arn:aws:apigateway:eu-west-1::/restapis/{api}/stages/{stage}"
JSON_FORMAT = '{"requestId":"$context.requestId","status":$context.status}'
CLF_FORMAT = '$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod"'
LOG_ARN = arn("logs", "log-group:/aws/apigateway/api/v1")


def present(value: Any) -> bool:
    """Presence check: an unknown counts as present; an empty string does not."""
    return value is UNKNOWN or (known(value) and value != "")


def number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def shown(value: Any) -> str:
    """A value as a message shows it: `unset`, `TLS_1_0`, `-1` (not `-1.0`), `true`."""
    if value is ABSENT:
        return "unset"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if known(value) else str(value)


# Shared with APIGW2 ------------------------------------------------------------------------

_CONTEXT_VARIABLE = re.compile(r"\$context(?:\.[A-Za-z0-9_-]+)+")


def json_template_problem(template: str) -> str | None:
    """Why an access-log format is not a JSON object template (None when it is).

    Every `$context.…` variable becomes the placeholder `0`, which is valid JSON both
    inside a string (`"$context.requestId"`) and as a bare number (`$context.status`).
    """
    try:
        parsed = json.loads(_CONTEXT_VARIABLE.sub("0", template))
    except ValueError:
        return "access log format is not JSON, so its fields cannot be queried"
    if not isinstance(parsed, dict):
        return f"access log format is a JSON {type(parsed).__name__}, not an object"
    return None


def access_logging(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    """APIGW-002 and APIGW2-001: `accessLogSettings.destinationArn` and `.format` set."""
    missing = [
        field
        for field in ("destinationArn", "format")
        if not present(node.get(f"accessLogSettings.{field}"))
    ]
    if len(missing) == 2:
        yield Finding("access logging is off (no accessLogSettings destination or format)")
    elif missing:
        yield Finding(f"accessLogSettings has no {missing[0]}, so nothing is logged")


def access_log_json(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    """APIGW-003 and APIGW2-002: the format is a JSON object template (absent: N/A)."""
    template = node.get("accessLogSettings.format")
    if not isinstance(template, str) or not template:
        return
    problem = json_template_problem(template)
    if problem:
        yield Finding(problem)


# APIGW-001 ---------------------------------------------------------------------------------


def _rest_xray(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    enabled = node.get("xrayTracingEnabled")
    if enabled is UNKNOWN or enabled is True:
        return
    yield Finding(f"X-Ray tracing is {'unset (false)' if enabled is ABSENT else shown(enabled)}")


register(
    Rule(
        id="APIGW-001",
        name="apigw-rest-stage-xray",
        title="REST API stages trace with X-Ray",
        description="xrayTracingEnabled must be true; absent or false fails.",
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(REST_STAGE,),
        reads={REST_STAGE: ("xrayTracingEnabled",)},
        anchors=anchors(
            serverless_rules="WS2002",
            cdk_nag="Serverless-APIGWXrayEnabled",
            checkov="CKV_AWS_73",
        ),
        knob="",
        raw="xray_tracing_enabled=True",
        check=_rest_xray,
        examples=Examples(
            compliant=(case(REST_STAGE, {"xrayTracingEnabled": True}),),
            non_compliant=(
                case(REST_STAGE, {"xrayTracingEnabled": False}),
                case(REST_STAGE, {}),
            ),
        ),
    )
)


# APIGW-002 / APIGW-003 ---------------------------------------------------------------------

register(
    Rule(
        id="APIGW-002",
        name="apigw-rest-stage-access-logging",
        title="REST API stages write access logs",
        description=(
            "accessLogSettings.destinationArn and accessLogSettings.format are both set. "
            "Needs the account-level API Gateway CloudWatch role (aws.apigateway.Account)."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(REST_STAGE,),
        reads={REST_STAGE: ("accessLogSettings.destinationArn", "accessLogSettings.format")},
        anchors=anchors(
            serverless_rules="ES2000",
            cdk_nag="AwsSolutions-APIG1, Serverless-APIGWAccessLogging",
            checkov="CKV_AWS_76",
        ),
        knob="",
        raw="access_log_settings",
        check=access_logging,
        examples=Examples(
            compliant=(
                case(
                    REST_STAGE,
                    {"accessLogSettings": {"destinationArn": LOG_ARN, "format": JSON_FORMAT}},
                ),
            ),
            non_compliant=(
                case(REST_STAGE, {}),
                case(REST_STAGE, {"accessLogSettings": {"destinationArn": LOG_ARN}}),
            ),
        ),
    )
)

register(
    Rule(
        id="APIGW-003",
        name="apigw-rest-access-log-json",
        title="REST API access logs are structured JSON",
        description=(
            "accessLogSettings.format, with each $context variable replaced by a placeholder, "
            "parses as a JSON object. Absent settings are APIGW-002's concern."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="resource",
        types=(REST_STAGE,),
        reads={REST_STAGE: ("accessLogSettings.format",)},
        anchors=anchors(serverless_rules="WS2001", cdk_nag="Serverless-APIGWStructuredLogging"),
        knob="",
        raw="access_log_settings.format",
        check=access_log_json,
        examples=Examples(
            compliant=(
                case(REST_STAGE, {"accessLogSettings": {"format": JSON_FORMAT}}),
                case(REST_STAGE, {}),
            ),
            non_compliant=(
                case(REST_STAGE, {"accessLogSettings": {"format": CLF_FORMAT}}),
                case(REST_STAGE, {"accessLogSettings": {"format": '["$context.requestId"]'}}),
            ),
        ),
    )
)


# REST stage identity (shared by APIGW-004, APIGW-005 and APIGW-010) -------------------------


def _rest_api(graph: Graph, node: Node) -> Any:
    """What `node.restApi` names: the RestApi node (dependency, else id), else the known
    id string, else UNKNOWN."""
    linked = graph.refs(node, "restApi", (REST_API,))
    if len(linked) == 1:
        return linked[0]
    value = node.get("restApi")
    return value if isinstance(value, str) and value else UNKNOWN


def _same_api(graph: Graph, a: Node, b: Node) -> bool | None:
    first, second = _rest_api(graph, a), _rest_api(graph, b)
    if first is UNKNOWN or second is UNKNOWN:
        return None
    if isinstance(first, Node) and isinstance(second, Node):
        return first is second
    if isinstance(first, str) and isinstance(second, str):
        return first == second
    api, value = (first, second) if isinstance(first, Node) else (second, first)
    api_id = api.get("id")
    return api_id == value if isinstance(api_id, str) else None


def _same_stage(graph: Graph, node: Node, stage: Node) -> bool | None:
    """Whether `node` (restApi, stageName) names `stage`: through the `stageName`
    dependency, else by value; None when that cannot be decided."""
    linked = [n for n in node.deps.get("stageName", []) if n.type == REST_STAGE]
    if linked:
        return stage in linked
    name, other = node.get("stageName"), stage.get("stageName")
    if not (isinstance(name, str) and isinstance(other, str)):
        return None
    if name != other:
        return False
    return _same_api(graph, node, stage)


def _settings_index(graph: Graph) -> tuple[dict[str, list[Node]], bool, set[str]]:
    """MethodSettings placed on their stages once per graph: (stage URN -> settings, some
    settings fit no stage decidably, stage URNs some settings may or may not belong to)."""
    by_stage: dict[str, list[Node]] = {}
    undecided_all = False
    undecided_for: set[str] = set()
    stages_by_name: dict[str | None, list[Node]] = {}
    for stage in graph.of_type(REST_STAGE):
        name = stage.get("stageName")
        stages_by_name.setdefault(name if isinstance(name, str) else None, []).append(stage)
    for settings in graph.of_type(METHOD_SETTINGS):
        linked = [n for n in settings.deps.get("stageName", []) if n.type == REST_STAGE]
        if linked:
            for stage in linked:
                by_stage.setdefault(stage.urn, []).append(settings)
            continue
        name = settings.get("stageName")
        if not isinstance(name, str):
            undecided_all = True
            continue
        for stage in stages_by_name.get(name, []) + stages_by_name.get(None, []):
            same = _same_stage(graph, settings, stage)
            if same is None:
                undecided_for.add(stage.urn)
            elif same:
                by_stage.setdefault(stage.urn, []).append(settings)
    return by_stage, undecided_all, undecided_for


def stage_settings(graph: Graph, stage: Node) -> tuple[list[Node], bool]:
    """The `*/*` MethodSettings of a REST stage, and whether some MethodSettings in the
    stack could not be placed (then an absence proves nothing)."""
    by_stage, undecided_all, undecided_for = graph.memo("settings-by-stage", _settings_index)
    mine = by_stage.get(stage.urn, [])
    found = [s for s in mine if s.get("methodPath") == "*/*"]
    undecided = (
        undecided_all
        or stage.urn in undecided_for
        or any(s.get("methodPath") is UNKNOWN for s in mine)
    )
    return found, undecided


def _stage_rule(graph: Graph, verdict: Callable[[Node], Any], missing: str) -> Iterator[Finding]:
    """For each REST stage: pass when one `*/*` MethodSettings satisfies `verdict`
    (settings -> problem text, None when fine, UNKNOWN when undecidable)."""
    for stage in graph.of_type(REST_STAGE):
        found, undecided = stage_settings(graph, stage)
        verdicts = [verdict(s) for s in found]
        if None in verdicts or UNKNOWN in verdicts or undecided:
            continue
        yield Finding(verdicts[0] if verdicts else missing, urn=stage.urn)


def _throttling(settings: Node) -> Any:
    burst = settings.get("settings.throttlingBurstLimit")
    rate = settings.get("settings.throttlingRateLimit")
    if burst is UNKNOWN or rate is UNKNOWN:
        return UNKNOWN
    limits = [number(v) for v in (burst, rate)]
    if all(v is not None and v > 0 for v in limits):
        return None
    return (
        f"*/* method settings have throttling burst {shown(burst)}, rate {shown(rate)}, "
        "so the stage has no limit (both must be > 0)"
    )


def _default_throttling(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    yield from _stage_rule(
        graph,
        _throttling,
        "no */* MethodSettings throttles this stage (usage plans limit only API-key callers)",
    )


API = Resource(REST_API, "api", {})


def _stage(name: str = "stage", **props: Any) -> Resource:
    return Resource(REST_STAGE, name, {"stageName": "v1", **props}, depends={"restApi": ("api",)})


def _settings(settings: dict[str, Any], name: str = "settings", **props: Any) -> Resource:
    return Resource(
        METHOD_SETTINGS,
        name,
        {"stageName": "v1", "methodPath": "*/*", "settings": settings, **props},
        depends={"restApi": ("api",), "stageName": ("stage",)},
    )


def _known_stage(**props: Any) -> Resource:
    return Resource(REST_STAGE, "stage", {"restApi": "abc123", "stageName": "v1", **props})


def _known_settings(settings: dict[str, Any], **props: Any) -> Resource:
    values = {"restApi": "abc123", "stageName": "v1", "methodPath": "*/*", "settings": settings}
    return Resource(METHOD_SETTINGS, "settings", {**values, **props})


THROTTLED = {"throttlingBurstLimit": 50, "throttlingRateLimit": 100.0}

register(
    Rule(
        id="APIGW-004",
        name="apigw-rest-default-throttling",
        title="REST API stages have default throttling in a */* MethodSettings",
        description=(
            "Each Stage has a MethodSettings with the same restApi and stageName and methodPath "
            "*/* whose throttlingBurstLimit and throttlingRateLimit are both > 0 (absent = -1, "
            "no stage limit). Usage plans do not count."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(REST_STAGE, METHOD_SETTINGS),
        reads={
            REST_STAGE: ("restApi", "stageName"),
            METHOD_SETTINGS: (
                "restApi",
                "stageName",
                "methodPath",
                "settings.throttlingBurstLimit",
                "settings.throttlingRateLimit",
            ),
        },
        anchors=anchors(serverless_rules="ES2003", cdk_nag="Serverless-APIGWDefaultThrottling"),
        knob="throttle_rate / throttle_burst",
        raw="aws.apigateway.MethodSettings(method_path='*/*', settings.throttling_rate_limit, "
        "settings.throttling_burst_limit)",
        check=_default_throttling,
        examples=Examples(
            compliant=(
                stack_case(API, _stage(), _settings(THROTTLED), subject="stage"),
                stack_case(_known_stage(), _known_settings(THROTTLED), subject="stage"),
            ),
            non_compliant=(
                stack_case(
                    API,
                    _stage(),
                    _settings({"throttlingBurstLimit": -1, "throttlingRateLimit": -1}),
                    subject="stage",
                ),
                stack_case(
                    API,
                    _stage(),
                    _settings(THROTTLED, methodPath="items/GET"),
                    subject="stage",
                ),
                stack_case(_known_stage(), _known_settings({}), subject="stage"),
                stack_case(
                    _known_stage(), _known_settings(THROTTLED, stageName="v2"), subject="stage"
                ),
            ),
        ),
    )
)


# APIGW-005 ---------------------------------------------------------------------------------


def _execution_logging(settings: Node) -> Any:
    level = settings.get("settings.loggingLevel")
    metrics = settings.get("settings.metricsEnabled")
    if level is UNKNOWN or metrics is UNKNOWN:
        return UNKNOWN
    problems = []
    if level not in ("ERROR", "INFO"):
        problems.append(
            "execution logging level is " + ("unset (OFF)" if level is ABSENT else shown(level))
        )
    if metrics is not True:
        problems.append("detailed metrics are off")
    return "; ".join(problems) or None


def _rest_execution_logging(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    yield from _stage_rule(
        graph,
        _execution_logging,
        "no */* MethodSettings, so execution logging and detailed metrics are off",
    )


LOGGED = {"loggingLevel": "ERROR", "metricsEnabled": True}

register(
    Rule(
        id="APIGW-005",
        name="apigw-rest-execution-logging",
        title="REST API stages log execution errors and emit detailed metrics",
        description=(
            "The stage's */* MethodSettings has settings.loggingLevel ERROR or INFO and "
            "settings.metricsEnabled true."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="stack",
        types=(REST_STAGE, METHOD_SETTINGS),
        reads={
            REST_STAGE: ("restApi", "stageName"),
            METHOD_SETTINGS: (
                "restApi",
                "stageName",
                "methodPath",
                "settings.loggingLevel",
                "settings.metricsEnabled",
            ),
        },
        anchors=anchors(cdk_nag="AwsSolutions-APIG6", checkov="CKV2_AWS_4"),
        knob="execution_log_level",
        raw="aws.apigateway.MethodSettings(method_path='*/*', settings.logging_level='ERROR', "
        "settings.metrics_enabled=True)",
        check=_rest_execution_logging,
        examples=Examples(
            compliant=(
                stack_case(API, _stage(), _settings(LOGGED), subject="stage"),
                stack_case(_known_stage(), _known_settings(LOGGED), subject="stage"),
            ),
            non_compliant=(
                stack_case(
                    API,
                    _stage(),
                    _settings({"loggingLevel": "OFF", "metricsEnabled": True}),
                    subject="stage",
                ),
                stack_case(
                    API,
                    _stage(),
                    _settings({"loggingLevel": "INFO"}),
                    subject="stage",
                ),
                stack_case(_known_stage(), _known_settings({}), subject="stage"),
            ),
        ),
    )
)


# APIGW-006 / APIGW-007 ---------------------------------------------------------------------


def _no_data_trace(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("settings.dataTraceEnabled") is True:
        yield Finding("data trace is on, so full request and response bodies are logged")


register(
    Rule(
        id="APIGW-006",
        name="apigw-rest-no-data-trace",
        title="REST API method settings do not log full request and response bodies",
        description="settings.dataTraceEnabled == true is a finding (absent = false).",
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(METHOD_SETTINGS,),
        reads={METHOD_SETTINGS: ("settings.dataTraceEnabled",)},
        anchors=anchors(checkov="CKV_AWS_276"),
        knob="",
        raw="settings.data_trace_enabled=False",
        check=_no_data_trace,
        examples=Examples(
            compliant=(
                case(METHOD_SETTINGS, {"settings": {"dataTraceEnabled": False}}),
                case(METHOD_SETTINGS, {"settings": {}}),
            ),
            non_compliant=(case(METHOD_SETTINGS, {"settings": {"dataTraceEnabled": True}}),),
        ),
    )
)


def _cache_encrypted(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("settings.cachingEnabled") is not True:
        return
    encrypted = node.get("settings.cacheDataEncrypted")
    if encrypted is UNKNOWN or encrypted is True:
        return
    yield Finding("caching is on but cached responses are not encrypted")


register(
    Rule(
        id="APIGW-007",
        name="apigw-rest-cache-encrypted",
        title="REST API response caches are encrypted",
        description="settings.cachingEnabled == true requires settings.cacheDataEncrypted == true.",
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(METHOD_SETTINGS,),
        reads={METHOD_SETTINGS: ("settings.cachingEnabled", "settings.cacheDataEncrypted")},
        anchors=anchors(
            cdk_nag="APIGWCacheEnabledAndEncrypted",
            checkov="CKV_AWS_308",
            awsguard="apigateway-method-cached-and-encrypted",
        ),
        knob="",
        raw="settings.cache_data_encrypted=True",
        check=_cache_encrypted,
        examples=Examples(
            compliant=(
                case(METHOD_SETTINGS, {"settings": {}}),
                case(
                    METHOD_SETTINGS,
                    {"settings": {"cachingEnabled": True, "cacheDataEncrypted": True}},
                ),
            ),
            non_compliant=(
                case(METHOD_SETTINGS, {"settings": {"cachingEnabled": True}}),
                case(
                    METHOD_SETTINGS,
                    {"settings": {"cachingEnabled": True, "cacheDataEncrypted": False}},
                ),
            ),
        ),
    )
)


# APIGW-008 / APIGW-009 ---------------------------------------------------------------------


def _http_method(node: Node) -> str | None:
    value = node.get("httpMethod")
    return value.upper() if isinstance(value, str) else None


def _openapi_body(
    *,
    security: list[Any] | None = None,
    secured: bool = True,
    operation_security: list[Any] | None = None,
    validator: str | None = "body",
) -> str:
    """An example OpenAPI 3 body: POST /orders to a function, with an authorizer scheme and
    a validator named `body`; the document requires the authorizer unless `secured` is
    False or `security` replaces it."""
    if security is None and secured:
        security = [{"orders-authorizer": []}]
    operation: dict[str, Any] = {
        "x-amazon-apigateway-integration": {
            "type": "aws_proxy",
            "httpMethod": "POST",
            "uri": "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
            + arn("lambda", "function:orders")
            + "/invocations",
        }
    }
    if operation_security is not None:
        operation["security"] = operation_security
    doc: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {"title": "orders", "version": "1"},
        "paths": {"/orders": {"post": operation, "options": {}}},
        "components": {
            "securitySchemes": {
                "orders-authorizer": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "custom",
                }
            }
        },
        "x-amazon-apigateway-request-validators": {
            "body": {"validateRequestBody": True, "validateRequestParameters": False}
        },
    }
    if security is not None:
        doc["security"] = security
    if validator is not None:
        doc["x-amazon-apigateway-request-validator"] = validator
    return json.dumps(doc)


def _openapi_operations(node: Node) -> Iterator[tuple[str, str, Mapping[str, Any], Any]]:
    """(METHOD, path, operation, document) of a RestApi's OpenAPI `body`; none without one."""
    doc = openapi.document(node.get("body"))
    if doc is not None:
        for method, path, operation in openapi.operations(doc):
            yield method, path, operation, doc


def _method_authorization(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.type == REST_API:
        for verb, path, operation, doc in _openapi_operations(node):
            if verb != "OPTIONS" and not openapi.requires_security(doc, operation):
                yield Finding(
                    f"OpenAPI body: {verb} {path} requires no authorizer and no API key",
                    detail=f"{verb} {path}",
                    fix="body (a security requirement on the operation or the document)",
                )
        return
    method = _http_method(node)
    authorization = node.get("authorization")
    api_key = node.get("apiKeyRequired")
    if method is None or method == "OPTIONS" or api_key is UNKNOWN or api_key is True:
        return
    if isinstance(authorization, str) and authorization.upper() == "NONE":
        yield Finding(f"{method} method has authorization NONE and requires no API key")


register(
    Rule(
        id="APIGW-008",
        name="apigw-rest-method-authorization",
        title="REST API methods require authorization",
        description=(
            "authorization NONE without apiKeyRequired is a finding; OPTIONS (CORS preflight) "
            "is not applicable. Deliberately public routes take an exemption. A RestApi "
            "defined by an OpenAPI body: each operation whose effective security (its own, "
            "else the document's) is empty or allows an empty requirement is a finding."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(METHOD, REST_API),
        reads={METHOD: ("authorization", "apiKeyRequired", "httpMethod"), REST_API: ("body",)},
        anchors=anchors(cdk_nag="AwsSolutions-APIG4", checkov="CKV_AWS_59"),
        knob="api_key_required",
        raw="authorization / authorizer_id",
        check=_method_authorization,
        examples=Examples(
            compliant=(
                case(METHOD, {"httpMethod": "POST", "authorization": "AWS_IAM"}),
                case(
                    METHOD, {"httpMethod": "GET", "authorization": "NONE", "apiKeyRequired": True}
                ),
                case(METHOD, {"httpMethod": "OPTIONS", "authorization": "NONE"}),
                case(REST_API, {"body": _openapi_body()}),
                case(REST_API, {"name": "no-body"}),
            ),
            non_compliant=(
                case(METHOD, {"httpMethod": "POST", "authorization": "NONE"}),
                case(
                    METHOD, {"httpMethod": "GET", "authorization": "NONE", "apiKeyRequired": False}
                ),
                case(REST_API, {"body": _openapi_body(secured=False)}),
                case(REST_API, {"body": _openapi_body(operation_security=[])}),
            ),
        ),
    )
)


def _request_validation(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.type == REST_API:
        for verb, path, operation, doc in _openapi_operations(node):
            if verb in ("POST", "PUT", "PATCH") and not openapi.validates(doc, operation):
                yield Finding(
                    f"OpenAPI body: {verb} {path} has no request validator",
                    detail=f"{verb} {path}",
                    fix="body (x-amazon-apigateway-request-validator and its definition)",
                )
        return
    method = _http_method(node)
    if method in ("POST", "PUT", "PATCH") and not present(node.get("requestValidatorId")):
        yield Finding(f"{method} method has no request validator")


register(
    Rule(
        id="APIGW-009",
        name="apigw-rest-request-validation",
        title="REST API methods with a body validate the request",
        description=(
            "POST, PUT and PATCH methods need a requestValidatorId. {proxy+} routes that "
            "validate in code take an exemption. A RestApi defined by an OpenAPI body: each "
            "such operation needs an x-amazon-apigateway-request-validator (its own, else the "
            "document's) defined under x-amazon-apigateway-request-validators."
        ),
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(METHOD, REST_API),
        reads={METHOD: ("httpMethod", "requestValidatorId"), REST_API: ("body",)},
        anchors=anchors(cdk_nag="AwsSolutions-APIG2", checkov="CKV2_AWS_53"),
        knob="",
        raw="request_validator_id",
        check=_request_validation,
        examples=Examples(
            compliant=(
                case(METHOD, {"httpMethod": "POST", "requestValidatorId": "abc123"}),
                case(METHOD, {"httpMethod": "GET"}),
                case(REST_API, {"body": _openapi_body()}),
            ),
            non_compliant=(
                case(METHOD, {"httpMethod": "POST"}),
                case(METHOD, {"httpMethod": "patch", "requestValidatorId": ""}),
                case(REST_API, {"body": _openapi_body(validator=None)}),
                case(REST_API, {"body": _openapi_body(validator="missing")}),
            ),
        ),
    )
)


# APIGW-010 ---------------------------------------------------------------------------------

_STAGE_ARN = re.compile(r"^arn:[^:]+:apigateway:[^:]*::/restapis/([^/]+)/stages/([^/]+)$")


def _endpoint_types(api: Node) -> list[str] | None:
    """`endpointConfiguration.types` as a list (absent = EDGE; pulumi-aws 7 sends one
    string); None when unknown."""
    value = api.get("endpointConfiguration.types")
    if value is ABSENT:
        return ["EDGE"]
    items = as_list(value) if value is not UNKNOWN else [UNKNOWN]
    if any(not isinstance(v, str) for v in items):
        return None
    return [str(v).upper() for v in items] or ["EDGE"]


def _refers_to_stage(graph: Graph, node: Node, prop: str, stage: Node) -> bool | None:
    """Whether the ARN in `node.prop` names `stage`; None when that cannot be decided."""
    linked = [n for n in node.deps.get(prop, []) if n.type == REST_STAGE]
    if linked:
        return stage in linked
    value = node.get(prop)
    if value is ABSENT:
        return False
    if not isinstance(value, str):
        return None
    found = graph.find(value, (REST_STAGE,))
    if found is not None:
        return found is stage
    match = _STAGE_ARN.match(value)
    if not match:
        return False  # another kind of resource (a load balancer, an AppSync API...)
    name, api = stage.get("stageName"), _rest_api(graph, stage)
    if not isinstance(name, str) or api is UNKNOWN:
        return None
    api_id = api.get("id") if isinstance(api, Node) else api
    if not isinstance(api_id, str):
        return None
    return match.groups() == (api_id, name)


def _rest_waf(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    associations = graph.of_type(WAF_ASSOCIATION)
    for stage in graph.of_type(REST_STAGE):
        api = _rest_api(graph, stage)
        if not isinstance(api, Node):
            continue
        types = _endpoint_types(api)
        if types is None or set(types) == {"PRIVATE"}:
            continue
        verdicts = [_refers_to_stage(graph, a, "resourceArn", stage) for a in associations]
        if True in verdicts or None in verdicts:
            continue
        yield Finding(
            f"stage of an API with endpoint type {'/'.join(types)} has no WAF web ACL",
            urn=stage.urn,
        )


WAF_ACL = arn("wafv2", "regional/webacl/api/1234")

register(
    Rule(
        id="APIGW-010",
        name="apigw-rest-waf",
        title="Public REST API stages are protected by AWS WAF",
        description=(
            "Stages of APIs whose endpointConfiguration.types is not PRIVATE (absent = EDGE) "
            "need a wafv2 WebAclAssociation whose resourceArn refers to the stage."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(REST_STAGE, REST_API, WAF_ASSOCIATION),
        reads={
            REST_STAGE: ("restApi", "stageName"),
            REST_API: ("endpointConfiguration.types",),
            WAF_ASSOCIATION: ("resourceArn",),
        },
        anchors=anchors(cdk_nag="AwsSolutions-APIG3", checkov="CKV2_AWS_29"),
        knob="waf_acl_arn",
        raw="aws.wafv2.WebAclAssociation(resource_arn=stage.arn)",
        check=_rest_waf,
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(REST_API, "api", {"endpointConfiguration": {"types": "REGIONAL"}}),
                    _stage(),
                    Resource(
                        WAF_ASSOCIATION,
                        "waf",
                        {"webAclArn": WAF_ACL},
                        depends={"resourceArn": ("stage",)},
                    ),
                    subject="stage",
                ),
                stack_case(
                    Resource(REST_API, "api", {"endpointConfiguration": {"types": "PRIVATE"}}),
                    _stage(),
                    subject="stage",
                ),
                stack_case(
                    Resource(REST_API, "api", {"id": "abc123"}),
                    _known_stage(arn=STAGE_ARN.format(api="abc123", stage="v1")),
                    Resource(
                        WAF_ASSOCIATION,
                        "waf",
                        {"resourceArn": STAGE_ARN.format(api="abc123", stage="v1")},
                    ),
                    subject="stage",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(REST_API, "api", {"endpointConfiguration": {"types": "REGIONAL"}}),
                    _stage(),
                    subject="stage",
                ),
                stack_case(API, _stage(), subject="stage"),
                stack_case(
                    Resource(
                        REST_API,
                        "api",
                        {"id": "abc123", "endpointConfiguration": {"types": ["EDGE"]}},
                    ),
                    _known_stage(),
                    Resource(
                        WAF_ASSOCIATION,
                        "waf",
                        {"resourceArn": STAGE_ARN.format(api="abc123", stage="v2")},
                    ),
                    subject="stage",
                ),
            ),
        ),
    )
)


# APIGW-011 ---------------------------------------------------------------------------------

TLS12_POLICIES = (
    "TLS_1_2",
    "SecurityPolicy_TLS12_2018_EDGE",
    "SecurityPolicy_TLS12_PFS_2025_EDGE",
    "SecurityPolicy_TLS13_1_2_2021_06",
    "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_FIPS_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_PQ_2025_09",
    "SecurityPolicy_TLS13_1_3_2025_09",
    "SecurityPolicy_TLS13_1_3_FIPS_2025_09",
    "SecurityPolicy_TLS13_2025_EDGE",
)
_SECURITY_POLICY = {
    DOMAIN_NAME: "securityPolicy",
    V2_DOMAIN_NAME: "domainNameConfiguration.securityPolicy",
}


def _domain_tls(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    policy = node.get(_SECURITY_POLICY.get(node.type, "securityPolicy"))
    if policy is UNKNOWN:
        return
    allowed = {str(p) for p in as_list(config.get("allowed_policies"))}
    if policy is ABSENT:
        yield Finding("security policy is unset, and the service default cannot be assumed")
    elif policy not in allowed:
        yield Finding(f"security policy {shown(policy)} is not one that requires TLS 1.2+")


register(
    Rule(
        id="APIGW-011",
        name="apigw-domain-tls12",
        title="API Gateway custom domains require TLS 1.2 or later",
        description=(
            "REST securityPolicy and v2 domainNameConfiguration.securityPolicy must be in "
            "allowed_policies (TLS_1_2 and the enhanced policies with a TLS 1.2+ minimum; "
            "TLS_1_0 never). Absent is a finding."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(DOMAIN_NAME, V2_DOMAIN_NAME),
        reads={
            DOMAIN_NAME: ("securityPolicy",),
            V2_DOMAIN_NAME: ("domainNameConfiguration.securityPolicy",),
        },
        anchors=anchors(
            checkov="CKV_AWS_206",
            crp="aws-apigateway-domainname-configure-security-policy, "
            "aws-apigatewayv2-domainname-configure-domain-name-security-policy",
        ),
        knob="",
        raw="security_policy='TLS_1_2' / domain_name_configuration.security_policy='TLS_1_2'",
        check=_domain_tls,
        config={
            "allowed_policies": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(TLS12_POLICIES),
            }
        },
        examples=Examples(
            compliant=(
                case(DOMAIN_NAME, {"securityPolicy": "TLS_1_2"}),
                case(DOMAIN_NAME, {"securityPolicy": "SecurityPolicy_TLS13_1_3_2025_09"}),
                case(V2_DOMAIN_NAME, {"domainNameConfiguration": {"securityPolicy": "TLS_1_2"}}),
            ),
            non_compliant=(
                case(DOMAIN_NAME, {"securityPolicy": "TLS_1_0"}),
                case(DOMAIN_NAME, {}),
                case(V2_DOMAIN_NAME, {"domainNameConfiguration": {"endpointType": "REGIONAL"}}),
            ),
        ),
    )
)


# APIGW-012 ---------------------------------------------------------------------------------

_USAGE_LIMITS = ("throttleSettings.rateLimit", "throttleSettings.burstLimit", "quotaSettings.limit")


def _usage_plan_limits(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    missing = []
    for path in _USAGE_LIMITS:
        value = node.get(path)
        amount = number(value)
        if value is not UNKNOWN and (amount is None or amount <= 0):
            missing.append(path)
    if missing:
        yield Finding(f"usage plan sets no {', '.join(missing)} (0 means unset)")


register(
    Rule(
        id="APIGW-012",
        name="apigw-usage-plan-limits",
        title="API Gateway usage plans set throttle and quota limits",
        description=(
            "throttleSettings.rateLimit, throttleSettings.burstLimit and quotaSettings.limit "
            "are all set (> 0). Only relevant when API keys are in use."
        ),
        severity="LOW",
        pillar="REL",
        scope="resource",
        types=(USAGE_PLAN,),
        reads={USAGE_PLAN: _USAGE_LIMITS},
        anchors=anchors(),
        knob="throttle_rate / throttle_burst / daily_quota",
        raw="throttle_settings(rate_limit, burst_limit), quota_settings(limit, period)",
        check=_usage_plan_limits,
        examples=Examples(
            compliant=(
                case(
                    USAGE_PLAN,
                    {
                        "throttleSettings": {"rateLimit": 10, "burstLimit": 20},
                        "quotaSettings": {"limit": 10000, "period": "DAY"},
                    },
                ),
            ),
            non_compliant=(
                case(USAGE_PLAN, {}),
                case(
                    USAGE_PLAN,
                    {
                        "throttleSettings": {"rateLimit": 10, "burstLimit": 0},
                        "quotaSettings": {"limit": 10000, "period": "DAY"},
                    },
                ),
            ),
        ),
    )
)


# APIGW-013 ---------------------------------------------------------------------------------


def _endpoint_type(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    types = _endpoint_types(node)
    if types is None:
        return
    allowed = {str(t).upper() for t in as_list(config.get("allowed_types"))}
    disallowed = [t for t in types if t not in allowed]
    if disallowed:
        yield Finding(f"endpoint type {', '.join(disallowed)} is not allowed here")


register(
    Rule(
        id="APIGW-013",
        name="apigw-rest-endpoint-type",
        title="REST APIs use an allowed endpoint type",
        description=(
            "endpointConfiguration.types (absent = EDGE) must be within allowed_types (default "
            "EDGE, as AWSGuard). Off by default: configure allowed_types before enabling."
        ),
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(REST_API,),
        reads={REST_API: ("endpointConfiguration.types",)},
        anchors=anchors(awsguard="apigateway-endpoint-type"),
        knob="",
        raw="endpoint_configuration.types",
        check=_endpoint_type,
        enabled=False,
        config={
            "allowed_types": {"type": "array", "items": {"type": "string"}, "default": ["EDGE"]}
        },
        examples=Examples(
            compliant=(
                case(REST_API, {}),
                case(REST_API, {"endpointConfiguration": {"types": "EDGE"}}),
                case(
                    REST_API,
                    {"endpointConfiguration": {"types": "PRIVATE"}},
                    config={"allowed_types": ["REGIONAL", "PRIVATE"]},
                ),
            ),
            non_compliant=(
                case(REST_API, {"endpointConfiguration": {"types": "REGIONAL"}}),
                case(REST_API, {}, config={"allowed_types": ["REGIONAL", "PRIVATE"]}),
            ),
        ),
    )
)
