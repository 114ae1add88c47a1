"""Stack-level rules (POLICY-RULES.md 3.15)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from serverless_wa import exemptions
from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, known, parse_json
from serverless_wa.registry import (
    REGISTRY,
    Case,
    Examples,
    Finding,
    Resource,
    Rule,
    anchors,
    register,
)
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    QUEUE,
    ROLE,
    STATE_MACHINE,
    THROTTLED_TAG,
    TOPIC,
    arn,
    mapping_function,
    reserved,
    source_kind,
    stack_case,
    throttle_budget,
)
from serverless_wa.rules._iam import (
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    action_matches,
    allows,
    managed_policy_arns,
    resource_matches,
    role_documents,
)

RPA = ROLE_POLICY_ATTACHMENT
STREAM_ARN = arn("dynamodb", "table/t/stream/2026-01-01T00:00:00.000")

# Queue consumers only: a stream's shards (times the parallelization factor) already bound
# its consumer, and reserving less only throttles the poller and grows iterator age. A stream
# consumer is a throttled consumer when tagged, or when `consumer_source_kinds` adds its kind.
CONSUMER_KINDS = {"sqs"}


def _policy(actions: Sequence[str], resource: str) -> str:
    """An example inline policy document (JSON string, as the engine sends it)."""
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _consumers(graph: Graph, kinds: set[str]) -> dict[str, tuple[Node, list[tuple[Node, str]]]]:
    """function URN -> (function, [(mapping, kind)]) for mappings of `kinds`."""
    found: dict[str, tuple[Node, list[tuple[Node, str]]]] = {}
    for mapping in graph.of_type(ESM):
        kind = source_kind(graph, mapping)
        if kind is None or kind not in kinds:
            continue
        function = mapping_function(graph, mapping)
        if function is None:
            continue
        found.setdefault(function.urn, (function, []))[1].append((mapping, kind))
    return found


def _max_concurrency(mapping: Node) -> Any:
    value = mapping.get("scalingConfig.maximumConcurrency")
    if value is UNKNOWN or value is ABSENT:
        return value
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else ABSENT


def _sources(mappings: list[tuple[Node, str]]) -> str:
    kinds = sorted({kind for _, kind in mappings})
    return " and ".join("a queue" if kind == "sqs" else f"a {kind} source" for kind in kinds)


def _throttled_consumer_reserved(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    kinds = set(config.get("consumer_source_kinds") or CONSUMER_KINDS)
    consumers = _consumers(graph, kinds)
    subjects = {urn: fn for urn, (fn, _) in consumers.items()}
    for function in graph.of_type(FUNCTION):
        if throttle_budget(function)[0]:
            subjects.setdefault(function.urn, function)
    for urn, function in subjects.items():
        concurrency = reserved(function)
        if concurrency is UNKNOWN:
            continue
        _, budget = throttle_budget(function)
        mappings = consumers.get(urn, (function, []))[1]
        if concurrency is ABSENT or concurrency == 0:
            if (
                config.get("accept_sqs_max_concurrency")
                and mappings
                and all(kind == "sqs" for _, kind in mappings)
            ):
                caps = [_max_concurrency(m) for m, _ in mappings]
                if UNKNOWN in caps:
                    continue
                if all(isinstance(c, int) for c in caps) and (
                    budget is None or sum(caps) <= budget
                ):
                    continue
            why = f"drains {_sources(mappings)}" if mappings else f"is tagged {THROTTLED_TAG}"
            shown = "0" if concurrency == 0 else "unset"
            yield Finding(
                f"throttled consumer (it {why}) has reserved concurrency {shown}", urn=urn
            )
        elif budget is not None and concurrency > budget:
            yield Finding(
                f"reserved concurrency {concurrency} exceeds the downstream budget {budget}",
                urn=urn,
            )


register(
    Rule(
        id="STACK-001",
        name="throttled-consumer-reserved-concurrency",
        title="Throttled consumers have reserved concurrency within their downstream budget",
        description=(
            "A throttled consumer (a function fed by an SQS event source mapping, or tagged "
            "wa:throttled-consumer, which is how a component declares a downstream budget) "
            "needs reservedConcurrentExecutions >= 1 and <= the tag's budget. A DynamoDB or "
            "Kinesis stream consumer is one only when tagged (or when consumer_source_kinds "
            "lists its kind): its shards already bound it."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(FUNCTION, ESM),
        reads={
            FUNCTION: ("reservedConcurrentExecutions", "tags", "tagsAll"),
            ESM: ("eventSourceArn", "functionName", "scalingConfig.maximumConcurrency"),
        },
        anchors=anchors(),
        knob="reserved_concurrency / throttled",
        raw="reserved_concurrent_executions",
        check=_throttled_consumer_reserved,
        config={
            "consumer_source_kinds": {
                "type": "array",
                "items": {"type": "string"},
                "default": sorted(CONSUMER_KINDS),
            },
            "accept_sqs_max_concurrency": {"type": "boolean", "default": False},
        },
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(QUEUE, "jobs", {"arn": arn("sqs", "jobs")}),
                    Resource(
                        FUNCTION,
                        "worker",
                        {"reservedConcurrentExecutions": 2, "tags": {THROTTLED_TAG: "2"}},
                    ),
                    Resource(
                        ESM,
                        "mapping",
                        {"scalingConfig": {"maximumConcurrency": 2}},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
                # A stream consumer is bounded by its shards: no reserved concurrency needed.
                stack_case(
                    Resource(FUNCTION, "archiver", {"reservedConcurrentExecutions": -1}),
                    Resource(
                        ESM,
                        "mapping",
                        {"eventSourceArn": STREAM_ARN},
                        depends={"functionName": ("archiver",)},
                    ),
                    subject="archiver",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(QUEUE, "jobs", {"arn": arn("sqs", "jobs")}),
                    Resource(FUNCTION, "worker", {"reservedConcurrentExecutions": -1}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
                stack_case(
                    Resource(
                        FUNCTION,
                        "caller",
                        {"reservedConcurrentExecutions": 5, "tags": {THROTTLED_TAG: "3"}},
                    ),
                    subject="caller",
                ),
                # A stream consumer tagged as throttled (it writes to a rate-limited API).
                stack_case(
                    Resource(
                        FUNCTION,
                        "syncer",
                        {"reservedConcurrentExecutions": -1, "tags": {THROTTLED_TAG: "4"}},
                    ),
                    Resource(
                        ESM,
                        "mapping",
                        {"eventSourceArn": STREAM_ARN},
                        depends={"functionName": ("syncer",)},
                    ),
                    subject="syncer",
                ),
            ),
        ),
    )
)


def _sqs_concurrency_coherent(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for urn, (function, mappings) in _consumers(graph, {"sqs"}).items():
        concurrency = reserved(function)
        if concurrency is UNKNOWN or concurrency is ABSENT or concurrency < 1:
            continue
        caps = [_max_concurrency(m) for m, _ in mappings]
        if UNKNOWN in caps:
            continue
        uncapped = [m.name for (m, _), c in zip(mappings, caps, strict=True) if c is ABSENT]
        if uncapped:
            yield Finding(
                f"SQS mapping {', '.join(uncapped)} sets no scalingConfig.maximumConcurrency, "
                f"so the poller can outrun reserved concurrency {concurrency}",
                urn=urn,
                fix="consumer_concurrency (raw: scaling_config.maximum_concurrency)",
            )
            continue
        total = sum(caps)
        _, budget = throttle_budget(function)
        if total > concurrency:
            yield Finding(
                f"SQS maximumConcurrency {total} exceeds reserved concurrency {concurrency}",
                urn=urn,
            )
        elif concurrency < 2:
            yield Finding(
                "reserved concurrency 1 cannot be matched by maximumConcurrency (minimum 2)",
                urn=urn,
            )
        elif budget is not None and total > budget:
            yield Finding(f"SQS maximumConcurrency {total} exceeds the budget {budget}", urn=urn)


register(
    Rule(
        id="STACK-002",
        name="sqs-consumer-concurrency-coherent",
        title="SQS consumers cap each mapping's maximumConcurrency within reserved concurrency",
        description=(
            "For a function with reserved concurrency R fed by SQS mappings: every mapping "
            "sets scalingConfig.maximumConcurrency, their sum is <= R (and the budget), R >= 2."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(FUNCTION, ESM),
        reads={
            FUNCTION: ("reservedConcurrentExecutions", "tags", "tagsAll"),
            ESM: ("eventSourceArn", "functionName", "scalingConfig.maximumConcurrency"),
        },
        anchors=anchors(),
        knob="consumer_concurrency",
        raw="scaling_config.maximum_concurrency",
        check=_sqs_concurrency_coherent,
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(QUEUE, "jobs", {"arn": arn("sqs", "jobs")}),
                    Resource(FUNCTION, "worker", {"reservedConcurrentExecutions": 4}),
                    Resource(
                        ESM,
                        "mapping",
                        {"scalingConfig": {"maximumConcurrency": 4}},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(QUEUE, "jobs", {"arn": arn("sqs", "jobs")}),
                    Resource(FUNCTION, "worker", {"reservedConcurrentExecutions": 2}),
                    Resource(
                        ESM,
                        "mapping",
                        {"scalingConfig": {"maximumConcurrency": 10}},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
                stack_case(
                    Resource(QUEUE, "jobs", {"arn": arn("sqs", "jobs")}),
                    Resource(FUNCTION, "worker", {"reservedConcurrentExecutions": 2}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
            ),
        ),
    )
)


# STACK-013 ---------------------------------------------------------------------------------

XRAY_RESOURCE_POLICY = "aws:xray/resourcePolicy:ResourcePolicy"
XRAY_MANAGED = ("AWSXRayDaemonWriteAccess", "AWSXrayWriteOnlyAccess")
XRAY_WRITE = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
XRAY_SAMPLING = ("xray:GetSamplingRules", "xray:GetSamplingTargets")


def _xray_grants(graph: Graph, role: Node) -> tuple[set[str], bool]:
    """X-Ray actions the role is allowed, and whether a policy source was unreadable."""
    found, incomplete = role_documents(graph, role)
    granted = {a for a in (*XRAY_WRITE, *XRAY_SAMPLING) if allows(found, a)}
    arns = managed_policy_arns(graph, role)
    if any(a is UNKNOWN for a in arns):
        incomplete = True
    if any(isinstance(a, str) and a.rsplit("/", 1)[-1] in XRAY_MANAGED for a in arns):
        granted |= {*XRAY_WRITE, *XRAY_SAMPLING}
    return granted, incomplete


def _xray_write_permission(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    subjects: list[tuple[Node, str, tuple[str, ...]]] = []
    for fn in graph.of_type(FUNCTION):
        if fn.get("tracingConfig.mode") == "Active":
            subjects.append((fn, "role", XRAY_WRITE))
    for machine in graph.of_type(STATE_MACHINE):
        if machine.get("tracingConfiguration.enabled") is True:
            subjects.append((machine, "roleArn", (*XRAY_WRITE, *XRAY_SAMPLING)))
    for node, prop, needed in subjects:
        roles = graph.refs(node, prop, (ROLE,))
        if len(roles) != 1:
            continue  # a role outside the stack, or unresolved
        granted, incomplete = _xray_grants(graph, roles[0])
        missing = [a for a in needed if a not in granted]
        if missing and not incomplete:
            yield Finding(
                f"traces but its role {roles[0].name} may not {', '.join(missing)}",
                urn=node.urn,
                fix="aws.iam.RolePolicyAttachment(policy_arn=AWSXRayDaemonWriteAccess)",
            )
    if config.get("xray_resource_policy_external"):
        return
    policies = graph.of_type(XRAY_RESOURCE_POLICY)
    documents = [parse_json(p.get("policyDocument")) for p in policies]
    if any(not known(d) for d in documents):
        return
    sns_allowed = any(
        "sns.amazonaws.com" in json.dumps(d) and "xray:PutTraceSegments" in json.dumps(d)
        for d in documents
    )
    for topic in graph.of_type(TOPIC):
        if topic.get("tracingConfig") == "Active" and not sns_allowed:
            yield Finding(
                "traces Active but no X-Ray resource policy lets sns.amazonaws.com write segments",
                urn=topic.urn,
                fix="an aws.xray.ResourcePolicy whose policy_document lets sns.amazonaws.com in",
            )


register(
    Rule(
        id="STACK-013",
        name="xray-write-permission",
        title="Traced functions, state machines and topics may write to X-Ray",
        description=(
            "Active tracing needs xray:PutTraceSegments/PutTelemetryRecords on the role "
            "(state machines also the sampling reads; SNS an X-Ray resource policy)."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="stack",
        types=(FUNCTION, STATE_MACHINE, TOPIC, ROLE, ROLE_POLICY, RPA, XRAY_RESOURCE_POLICY),
        reads={
            FUNCTION: ("tracingConfig.mode", "role"),
            STATE_MACHINE: ("tracingConfiguration.enabled", "roleArn"),
            TOPIC: ("tracingConfig",),
            ROLE: ("arn", "name", "inlinePolicies", "managedPolicyArns"),
            ROLE_POLICY: ("policy", "role"),
            RPA: ("role", "policyArn"),
            XRAY_RESOURCE_POLICY: ("policyDocument",),
        },
        anchors=anchors(),
        knob="",
        raw="aws.iam.RolePolicyAttachment(policy_arn=AWSXRayDaemonWriteAccess)",
        check=_xray_write_permission,
        config={"xray_resource_policy_external": {"type": "boolean", "default": False}},
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(ROLE, "role", {"arn": arn("iam", "role/r").replace("eu-west-1", "")}),
                    Resource(
                        RPA,
                        "xray",
                        {"policyArn": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"},
                        depends={"role": ("role",)},
                    ),
                    Resource(
                        FUNCTION,
                        "fn",
                        {"tracingConfig": {"mode": "Active"}},
                        depends={"role": ("role",)},
                    ),
                    subject="fn",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "inline",
                        {"policy": _policy(["dynamodb:PutItem"], arn("dynamodb", "table/t"))},
                        depends={"role": ("role",)},
                    ),
                    Resource(
                        FUNCTION,
                        "fn",
                        {"tracingConfig": {"mode": "Active"}},
                        depends={"role": ("role",)},
                    ),
                    subject="fn",
                ),
                stack_case(Resource(TOPIC, "topic", {"tracingConfig": "Active"}), subject="topic"),
            ),
        ),
    )
)


# STACK-014 ---------------------------------------------------------------------------------

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REST_STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
V2_STAGE = "aws:apigatewayv2/stage:Stage"
PIPE = "aws:pipes/pipe:Pipe"
GRAPHQL_API = "aws:appsync/graphQLApi:GraphQLApi"
_DESTINATIONS = (
    (STATE_MACHINE, "loggingConfiguration", "loggingConfiguration.logDestination"),
    (REST_STAGE, "accessLogSettings", "accessLogSettings.destinationArn"),
    (V2_STAGE, "accessLogSettings", "accessLogSettings.destinationArn"),
    (PIPE, "logConfiguration", "logConfiguration.cloudwatchLogsLogDestination.logGroupArn"),
)


def _group_name(value: str) -> str:
    """A log group name from an ARN (`...:log-group:<name>[:*]`) or a name."""
    if ":log-group:" in value:
        value = value.split(":log-group:", 1)[1]
    return value.removesuffix(":*")


def _managed(graph: Graph, node: Node, prop: str, value: Any, external: set[str]) -> bool | None:
    """Whether a destination resolves to a LogGroup in the stack; None when unknowable."""
    if graph.refs(node, prop, (LOG_GROUP,)):
        return True
    if value is UNKNOWN:
        return None
    if not isinstance(value, str):
        return None
    name = _group_name(value)
    return name in external or any(g.get("name") == name for g in graph.of_type(LOG_GROUP))


def _log_destinations_managed(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    external = {str(e) for e in config.get("external_log_groups") or []}
    for type_, prop, path in _DESTINATIONS:
        for node in graph.of_type(type_):
            value = node.get(path)
            if value is ABSENT:
                continue
            if _managed(graph, node, prop, value, external) is False:
                yield Finding(
                    f"logs to {_group_name(str(value))}, which no LogGroup in the stack manages",
                    urn=node.urn,
                )
    for settings in graph.of_type(METHOD_SETTINGS):
        if settings.get("settings.loggingLevel") not in ("ERROR", "INFO"):
            continue
        api, stage = settings.get("restApi"), settings.get("stageName")
        if not (isinstance(api, str) and isinstance(stage, str)):
            continue
        name = f"API-Gateway-Execution-Logs_{api}/{stage}"
        if name not in external and not any(
            g.get("name") == name for g in graph.of_type(LOG_GROUP)
        ):
            yield Finding(f"execution logs go to {name}, which never expires", urn=settings.urn)
    for api in graph.of_type(GRAPHQL_API):
        level = api.get("logConfig.fieldLogLevel")
        api_id = api.get("id")
        if level in (ABSENT, UNKNOWN, "NONE") or not isinstance(api_id, str):
            continue
        name = f"/aws/appsync/apis/{api_id}"
        if name not in external and not any(
            g.get("name") == name for g in graph.of_type(LOG_GROUP)
        ):
            yield Finding(f"logs to {name}, which never expires", urn=api.urn)


register(
    Rule(
        id="STACK-014",
        name="log-destinations-managed",
        title="Every log destination is a log group the stack manages",
        description=(
            "State machine, stage and pipe log destinations, and the groups API Gateway and "
            "AppSync create themselves, resolve to a LogGroup in the stack."
        ),
        severity="MEDIUM",
        pillar="COST",
        scope="stack",
        types=(LOG_GROUP, STATE_MACHINE, REST_STAGE, METHOD_SETTINGS, V2_STAGE, PIPE, GRAPHQL_API),
        reads={
            LOG_GROUP: ("name",),
            STATE_MACHINE: ("loggingConfiguration.logDestination",),
            REST_STAGE: ("accessLogSettings.destinationArn",),
            V2_STAGE: ("accessLogSettings.destinationArn",),
            PIPE: ("logConfiguration.cloudwatchLogsLogDestination.logGroupArn",),
            METHOD_SETTINGS: ("settings.loggingLevel", "restApi", "stageName"),
            GRAPHQL_API: ("logConfig.fieldLogLevel", "id"),
        },
        anchors=anchors(),
        knob="log_retention_days",
        raw="aws.cloudwatch.LogGroup(retention_in_days=...)",
        check=_log_destinations_managed,
        config={
            "external_log_groups": {"type": "array", "items": {"type": "string"}, "default": []}
        },
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(LOG_GROUP, "logs", {"name": "/aws/vendedlogs/states/m"}),
                    Resource(
                        STATE_MACHINE,
                        "machine",
                        {"loggingConfiguration": {"logDestination": "x:*"}},
                        depends={"loggingConfiguration": ("logs",)},
                    ),
                    subject="machine",
                ),
                stack_case(
                    Resource(LOG_GROUP, "logs", {"name": "/aws/vendedlogs/states/m"}),
                    Resource(
                        STATE_MACHINE,
                        "machine",
                        {
                            "loggingConfiguration": {
                                "logDestination": arn(
                                    "logs", "log-group:/aws/vendedlogs/states/m:*"
                                )
                            }
                        },
                    ),
                    subject="machine",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(
                        STATE_MACHINE,
                        "machine",
                        {
                            "loggingConfiguration": {
                                "logDestination": arn("logs", "log-group:elsewhere:*")
                            }
                        },
                    ),
                    subject="machine",
                ),
                stack_case(
                    Resource(
                        METHOD_SETTINGS,
                        "settings",
                        {
                            "restApi": "abc123",
                            "stageName": "v1",
                            "settings": {"loggingLevel": "INFO"},
                        },
                    ),
                    subject="settings",
                ),
            ),
        ),
    )
)


# STACK-015 ---------------------------------------------------------------------------------

REST_INTEGRATION = "aws:apigateway/integration:Integration"
V2_INTEGRATION = "aws:apigatewayv2/integration:Integration"
DURATION_TAG = "wa:expected-duration-ms"
REST_API = "aws:apigateway/restApi:RestApi"
V2_API = "aws:apigatewayv2/api:Api"


def _backends(graph: Graph, integrations: list[Node], prop: str) -> list[Node]:
    found = []
    for integration in integrations:
        found.extend(graph.refs(integration, prop, (FUNCTION,)))
    return list({f.urn: f for f in found}.values())


def _integrations_by_api(graph: Graph) -> dict[str, list[Node]]:
    """Integrations keyed by their API's URN (through dependencies) and by API id value."""
    index: dict[str, list[Node]] = {}
    for node, prop, api_type in [
        (i, "restApi", REST_API) for i in graph.of_type(REST_INTEGRATION)
    ] + [(i, "apiId", V2_API) for i in graph.of_type(V2_INTEGRATION)]:
        keys = {api.urn for api in node.deps.get(prop, []) if api.type == api_type}
        value = node.get(prop)
        if isinstance(value, str):
            keys.add(value)
        for key in keys:
            index.setdefault(key, []).append(node)
    return index


def _same_api(graph: Graph, node: Node, prop: str, api_type: str) -> list[Node]:
    index = graph.memo("integrations-by-api", _integrations_by_api)
    keys = {api.urn for api in node.deps.get(prop, []) if api.type == api_type}
    value = node.get(prop)
    if isinstance(value, str):
        keys.add(value)
    found = {i.urn: i for key in keys for i in index.get(key, [])}
    return list(found.values())


def _api_throttle_vs_backend(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    default_ms = float(config.get("default_duration_ms") or 100)
    checks: list[tuple[Node, Any, list[Node]]] = []
    for settings in graph.of_type(METHOD_SETTINGS):
        rate = settings.get("settings.throttlingRateLimit")
        same_api = _same_api(graph, settings, "restApi", REST_API)
        checks.append((settings, rate, _backends(graph, same_api, "uri")))
    for stage in graph.of_type(V2_STAGE):
        rate = stage.get("defaultRouteSettings.throttlingRateLimit")
        same_api = _same_api(graph, stage, "apiId", V2_API)
        checks.append((stage, rate, _backends(graph, same_api, "integrationUri")))
    for subject, rate, functions in checks:
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
            continue
        for fn in functions:
            concurrency = reserved(fn)
            if not isinstance(concurrency, int) or concurrency < 1:
                continue
            tag = fn.props.tags().get(DURATION_TAG)
            duration = float(tag) if isinstance(tag, str) and tag.isdigit() else default_ms
            needed = rate * duration / 1000
            if needed > concurrency:
                yield Finding(
                    f"rate limit {rate:g}/s x {duration:g} ms needs {needed:g} concurrent "
                    f"executions of {fn.name}, which reserves {concurrency}",
                    urn=subject.urn,
                )


register(
    Rule(
        id="STACK-015",
        name="api-throttle-vs-backend",
        title="API throttling fits the backend's reserved concurrency",
        description=(
            "rate x expected duration / 1000 <= the backend function's reserved concurrency."
        ),
        severity="LOW",
        pillar="REL",
        scope="stack",
        types=(METHOD_SETTINGS, V2_STAGE, REST_INTEGRATION, V2_INTEGRATION, FUNCTION),
        reads={
            METHOD_SETTINGS: ("restApi", "settings.throttlingRateLimit"),
            V2_STAGE: ("apiId", "defaultRouteSettings.throttlingRateLimit"),
            REST_INTEGRATION: ("restApi", "uri"),
            V2_INTEGRATION: ("apiId", "integrationUri"),
            FUNCTION: ("reservedConcurrentExecutions", "tags", "tagsAll"),
        },
        anchors=anchors(),
        knob="throttle_rate",
        raw="settings.throttling_rate_limit",
        check=_api_throttle_vs_backend,
        config={"default_duration_ms": {"type": "number", "default": 100}},
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(FUNCTION, "fn", {"reservedConcurrentExecutions": 10}),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"restApi": "api1"},
                        depends={"uri": ("fn",)},
                    ),
                    Resource(
                        METHOD_SETTINGS,
                        "settings",
                        {"restApi": "api1", "settings": {"throttlingRateLimit": 50}},
                    ),
                    subject="settings",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(
                        FUNCTION,
                        "fn",
                        {"reservedConcurrentExecutions": 2, "tags": {DURATION_TAG: "500"}},
                    ),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"restApi": "api1"},
                        depends={"uri": ("fn",)},
                    ),
                    Resource(
                        METHOD_SETTINGS,
                        "settings",
                        {"restApi": "api1", "settings": {"throttlingRateLimit": 100}},
                    ),
                    subject="settings",
                ),
            ),
        ),
    )
)


# STACK-016 ---------------------------------------------------------------------------------

WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "kinesis:PutRecord",
    "kinesis:PutRecords",
)
TABLE_OR_STREAM = ("aws:dynamodb/table:Table", "aws:kinesis/stream:Stream")


def _source_arn(graph: Graph, node: Node, prop: str) -> tuple[Node | None, str | None]:
    """(source table or stream, the ARN a writer would name) for a mapping or pipe."""
    value = node.get(prop)
    sources = graph.refs(node, prop, TABLE_OR_STREAM)
    if not sources and isinstance(value, str) and "/stream/" in value:
        sources = graph.refs(node, prop, TABLE_OR_STREAM, value.split("/stream/")[0])
    source = sources[0] if len(sources) == 1 else None
    target = source.get("arn") if source is not None else value
    if isinstance(target, str) and "/stream/" in target:
        target = target.split("/stream/")[0]
    return source, target if isinstance(target, str) else None


def _principals(graph: Graph, node: Node) -> list[Node]:
    if node.type == ESM:
        function = mapping_function(graph, node)
        return graph.refs(function, "role", (ROLE,)) if function else []
    roles = list(graph.refs(node, "roleArn", (ROLE,)))
    for target in graph.refs(node, "target", (FUNCTION, STATE_MACHINE)):
        roles += graph.refs(target, "role" if target.type == FUNCTION else "roleArn", (ROLE,))
    return roles


def _writes_back(graph: Graph, role: Node, arn_: str | None) -> bool | None:
    found, incomplete = role_documents(graph, role)
    for statement in found:
        if not statement.allow:
            continue
        if not any(action_matches(a, w) for a in statement.actions for w in WRITE_ACTIONS):
            continue
        for resource in statement.resources:
            if resource == "*" or (arn_ and resource_matches(resource, arn_)):
                return True
    return None if incomplete else False


def _stream_writeback_filtered(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    readers = [(m, "eventSourceArn", "filterCriteria.filters") for m in graph.of_type(ESM)]
    readers += [
        (p, "source", "sourceParameters.filterCriteria.filters") for p in graph.of_type(PIPE)
    ]
    for node, prop, filters_path in readers:
        kind = source_kind(graph, node, prop)
        if kind not in ("dynamodb", "kinesis"):
            continue
        filters = node.get(filters_path)
        if filters is UNKNOWN or (isinstance(filters, list) and filters):
            continue
        _, target = _source_arn(graph, node, prop)
        for role in _principals(graph, node):
            if _writes_back(graph, role, target):
                yield Finding(
                    f"reads a {kind} stream its role {role.name} can write to, with no filter "
                    "(add an event-name or marker-attribute filter against write-back loops)",
                    urn=node.urn,
                )
                break


register(
    Rule(
        id="STACK-016",
        name="stream-writeback-filtered",
        title="Stream consumers that can write to their source filter their events",
        description=(
            "A DynamoDB or Kinesis stream mapping or pipe whose principal can write to the "
            "source needs a non-empty filter list (recursion guard)."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(ESM, PIPE, *TABLE_OR_STREAM, ROLE, ROLE_POLICY, FUNCTION),
        reads={
            ESM: ("eventSourceArn", "functionName", "filterCriteria.filters"),
            PIPE: ("source", "roleArn", "target", "sourceParameters.filterCriteria.filters"),
            TABLE_OR_STREAM[0]: ("arn",),
            TABLE_OR_STREAM[1]: ("arn",),
            ROLE: ("inlinePolicies",),
            ROLE_POLICY: ("policy", "role"),
            FUNCTION: ("role",),
        },
        anchors=anchors(),
        knob="event_names / filter",
        raw="filter_criteria.filters",
        check=_stream_writeback_filtered,
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(TABLE_OR_STREAM[0], "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {"policy": _policy(["dynamodb:PutItem"], arn("dynamodb", "table/t"))},
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        ESM,
                        "mapping",
                        {"filterCriteria": {"filters": [{"pattern": '{"eventName": ["INSERT"]}'}]}},
                        depends={"eventSourceArn": ("table",), "functionName": ("fn",)},
                    ),
                    subject="mapping",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(TABLE_OR_STREAM[0], "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {"policy": _policy(["dynamodb:UpdateItem"], arn("dynamodb", "table/t"))},
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("table",), "functionName": ("fn",)},
                    ),
                    subject="mapping",
                ),
            ),
        ),
    )
)


# STACK-017 ---------------------------------------------------------------------------------

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"


def _notified_functions(graph: Graph, notification: Node) -> list[tuple[Node, dict[str, Any]]]:
    """(function, the notification entry) for direct and queue-then-mapping triggers."""
    found: list[tuple[Node, dict[str, Any]]] = []
    entries = notification.get("lambdaFunctions")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            value = entry.get("lambdaFunctionArn")
            targets = graph.refs(notification, "lambdaFunctions", (FUNCTION,), value)
            if value is not UNKNOWN and len(targets) == 1:
                found.append((targets[0], entry))
    queues = notification.get("queues")
    for entry in queues if isinstance(queues, list) else []:
        if not isinstance(entry, dict):
            continue
        targets = graph.refs(notification, "queues", (QUEUE,), entry.get("queueArn"))
        if len(targets) != 1:
            continue
        for mapping in graph.memo("mappings-by-queue", _mappings_by_queue).get(targets[0].urn, []):
            function = mapping_function(graph, mapping)
            if function is not None:
                found.append((function, entry))
    return found


def _mappings_by_queue(graph: Graph) -> dict[str, list[Node]]:
    index: dict[str, list[Node]] = {}
    for mapping in graph.of_type(ESM):
        for queue in graph.refs(mapping, "eventSourceArn", (QUEUE,)):
            index.setdefault(queue.urn, []).append(mapping)
    return index


def _put_prefixes(graph: Graph, role: Node, bucket_arn: str) -> list[str] | None:
    """Key prefixes the role may s3:PutObject in the bucket ('' = anywhere); None unknown."""
    found, incomplete = role_documents(graph, role)
    prefixes = []
    for statement in found:
        if not statement.allow or not any(
            action_matches(a, "s3:PutObject") for a in statement.actions
        ):
            continue
        for resource in statement.resources:
            if resource == "*" or resource in (f"{bucket_arn}/*", f"{bucket_arn}*"):
                prefixes.append("")
            elif resource.startswith(f"{bucket_arn}/"):
                prefixes.append(resource[len(bucket_arn) + 1 :].rstrip("*"))
    return None if incomplete and not prefixes else prefixes


def _s3_trigger_no_self_write(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for notification in graph.of_type(NOTIFICATION):
        buckets = graph.refs(notification, "bucket", BUCKET_TYPES)
        bucket_arn = buckets[0].get("arn") if len(buckets) == 1 else None
        if not isinstance(bucket_arn, str):
            name = notification.get("bucket")
            bucket_arn = f"arn:aws:s3:::{name}" if isinstance(name, str) else None
        if bucket_arn is None:
            continue
        for function, entry in _notified_functions(graph, notification):
            for role in graph.refs(function, "role", (ROLE,)):
                prefixes = _put_prefixes(graph, role, bucket_arn)
                if not prefixes:
                    continue
                trigger = str(entry.get("filterPrefix") or "")
                suffix = entry.get("filterSuffix")
                if not trigger and not suffix:
                    yield Finding(
                        f"triggers {function.name}, which may write back to the same bucket, "
                        "with no filterPrefix or filterSuffix",
                        urn=notification.urn,
                    )
                elif trigger and any(
                    p.startswith(trigger) or trigger.startswith(p) for p in prefixes
                ):
                    yield Finding(
                        f"trigger prefix {trigger!r} overlaps where {function.name} may write",
                        urn=notification.urn,
                    )


register(
    Rule(
        id="STACK-017",
        name="s3-trigger-no-self-write",
        title="S3 triggers cannot fire on what their function writes back",
        description=(
            "A bucket notification to a function (directly or through SQS) whose role may "
            "PutObject into the same bucket needs a prefix/suffix filter that its writes miss."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(NOTIFICATION, *BUCKET_TYPES, FUNCTION, ROLE, ROLE_POLICY, ESM, QUEUE),
        reads={
            NOTIFICATION: ("bucket", "lambdaFunctions", "queues"),
            BUCKET_TYPES[0]: ("arn",),
            BUCKET_TYPES[1]: ("arn",),
            FUNCTION: ("role",),
            ROLE: ("inlinePolicies",),
            ROLE_POLICY: ("policy", "role"),
            ESM: ("eventSourceArn", "functionName"),
            QUEUE: ("arn",),
        },
        anchors=anchors(),
        knob="",
        raw="lambda_functions[].filter_prefix",
        check=_s3_trigger_no_self_write,
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(BUCKET_TYPES[0], "bucket", {"arn": "arn:aws:s3:::media"}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {"policy": _policy(["s3:PutObject"], "arn:aws:s3:::media/out/*")},
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        NOTIFICATION,
                        "notify",
                        {"lambdaFunctions": [{"lambdaFunctionArn": "x", "filterPrefix": "in/"}]},
                        depends={"bucket": ("bucket",), "lambdaFunctions": ("fn",)},
                    ),
                    subject="notify",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(BUCKET_TYPES[0], "bucket", {"arn": "arn:aws:s3:::media"}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {"policy": _policy(["s3:PutObject"], "arn:aws:s3:::media/*")},
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        NOTIFICATION,
                        "notify",
                        {"lambdaFunctions": [{"lambdaFunctionArn": "x"}]},
                        depends={"bucket": ("bucket",), "lambdaFunctions": ("fn",)},
                    ),
                    subject="notify",
                ),
            ),
        ),
    )
)


# STACK-018 ---------------------------------------------------------------------------------

TABLE = "aws:dynamodb/table:Table"


def _stream_reader_limit(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    limit = int(config.get("max_readers") or 2)
    readers: dict[str, list[Node]] = {}
    for node, prop in [(m, "eventSourceArn") for m in graph.of_type(ESM)] + [
        (p, "source") for p in graph.of_type(PIPE)
    ]:
        if source_kind(graph, node, prop) != "dynamodb":
            continue
        source, _ = _source_arn(graph, node, prop)
        if source is not None and source.type == TABLE:
            readers.setdefault(source.urn, []).append(node)
    for urn, nodes in readers.items():
        table = graph.by_urn(urn)
        if table is None:
            continue
        replicas = table.get("replicas")
        if replicas is UNKNOWN:
            continue  # the limit itself is not known
        allowed = 1 if isinstance(replicas, list) and replicas else limit
        if len(nodes) > allowed:
            names = ", ".join(sorted(n.name for n in nodes))
            yield Finding(
                f"its stream has {len(nodes)} readers ({names}); at most {allowed} per shard "
                "avoid throttling (fan out through one pipe into EventBridge)",
                urn=urn,
            )


register(
    Rule(
        id="STACK-018",
        name="dynamodb-stream-reader-limit",
        title="A DynamoDB stream has at most two readers",
        description="Lambda mappings plus pipes per table stream <= max_readers (1 with replicas).",
        severity="MEDIUM",
        pillar="PERF",
        scope="stack",
        types=(TABLE, ESM, PIPE),
        reads={TABLE: ("arn", "replicas"), ESM: ("eventSourceArn",), PIPE: ("source",)},
        anchors=anchors(),
        knob="",
        raw="event_source_arn",
        check=_stream_reader_limit,
        config={"max_readers": {"type": "integer", "default": 2}},
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(TABLE, "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ESM, "a", {}, depends={"eventSourceArn": ("table",)}),
                    Resource(PIPE, "b", {}, depends={"source": ("table",)}),
                    subject="table",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(TABLE, "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ESM, "a", {}, depends={"eventSourceArn": ("table",)}),
                    Resource(ESM, "b", {}, depends={"eventSourceArn": ("table",)}),
                    Resource(PIPE, "c", {}, depends={"source": ("table",)}),
                    subject="table",
                ),
                stack_case(
                    Resource(
                        TABLE,
                        "table",
                        {
                            "arn": arn("dynamodb", "table/t"),
                            "replicas": [{"regionName": "us-east-1"}],
                        },
                    ),
                    Resource(
                        ESM,
                        "a",
                        {
                            "eventSourceArn": arn(
                                "dynamodb", "table/t/stream/2026-01-01T00:00:00.000"
                            )
                        },
                    ),
                    Resource(
                        ESM,
                        "b",
                        {
                            "eventSourceArn": arn(
                                "dynamodb", "table/t/stream/2026-01-01T00:00:00.000"
                            )
                        },
                    ),
                    subject="table",
                ),
            ),
        ),
    )
)


# STACK-019 ---------------------------------------------------------------------------------

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _alarm_metrics(alarm: Node) -> list[tuple[Any, Any, Any]]:
    """(namespace, metric name, dimensions) of an alarm's plain metric and metric queries."""
    found = [(alarm.get("namespace"), alarm.get("metricName"), alarm.get("dimensions"))]
    queries = alarm.get("metricQueries")
    for query in queries if isinstance(queries, list) else []:
        metric = query.get("metric") if isinstance(query, dict) else None
        if isinstance(metric, dict):
            found.append(
                (metric.get("namespace"), metric.get("metricName"), metric.get("dimensions"))
            )
    return found


def _alarm_index(graph: Graph) -> dict[str, Any]:
    """Alarms by (namespace, metric, dimension value), by linked subject, and whether some
    alarm's dimensions are unknown: built once per graph."""
    by_value: set[tuple[Any, Any, str, str]] = set()
    linked: set[tuple[Any, Any, str]] = set()
    unknown: set[tuple[Any, Any]] = set()
    for alarm in graph.of_type(ALARM):
        targets = [t.urn for k in ("dimensions", "metricQueries") for t in alarm.deps.get(k, [])]
        for ns, metric, dimensions in _alarm_metrics(alarm):
            if dimensions is UNKNOWN:
                unknown.add((ns, metric))
            elif isinstance(dimensions, dict):
                for key, value in dimensions.items():
                    if value is UNKNOWN:
                        unknown.add((ns, metric))
                    elif isinstance(value, str):
                        by_value.add((ns, metric, key, value))
            linked.update((ns, metric, urn) for urn in targets)
    return {"by_value": by_value, "linked": linked, "unknown": unknown}


def _has_alarm(graph: Graph, namespace: str, metric: str, key: str, subject: Node) -> bool | None:
    """Whether an alarm watches `metric` with dimension `key` = the subject's name."""
    index = graph.memo("alarms-by-metric", _alarm_index)
    name = subject.get("name")
    if (namespace, metric, subject.urn) in index["linked"]:
        return True
    if isinstance(name, str) and (namespace, metric, key, name) in index["by_value"]:
        return True
    if name is UNKNOWN or (namespace, metric) in index["unknown"]:
        return None
    return False


def _consumer_backlog_alarms(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for mapping in graph.of_type(ESM):
        kind = source_kind(graph, mapping)
        if kind == "sqs":
            queues = graph.refs(mapping, "eventSourceArn", (QUEUE,))
            if (
                len(queues) == 1
                and _has_alarm(
                    graph, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queues[0]
                )
                is False
            ):
                yield Finding(
                    f"no alarm on ApproximateAgeOfOldestMessage of queue {queues[0].name}",
                    urn=mapping.urn,
                )
        elif kind in ("kinesis", "dynamodb"):
            function = mapping_function(graph, mapping)
            if (
                function is not None
                and _has_alarm(graph, "AWS/Lambda", "IteratorAge", "FunctionName", function)
                is False
            ):
                yield Finding(f"no alarm on IteratorAge of {function.name}", urn=mapping.urn)


register(
    Rule(
        id="STACK-019",
        name="consumer-backlog-alarms",
        title="Queue and stream consumers alarm on their backlog age",
        description=(
            "SQS mappings need an ApproximateAgeOfOldestMessage alarm on the queue; stream "
            "mappings an IteratorAge alarm on the function."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="stack",
        types=(ESM, QUEUE, FUNCTION, ALARM),
        reads={
            ESM: ("eventSourceArn", "functionName"),
            QUEUE: ("name",),
            FUNCTION: ("name",),
            ALARM: ("namespace", "metricName", "dimensions", "metricQueries"),
        },
        anchors=anchors(),
        knob="alarm_actions",
        raw="aws.cloudwatch.MetricAlarm",
        check=_consumer_backlog_alarms,
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(QUEUE, "jobs", {"name": "jobs", "arn": arn("sqs", "jobs")}),
                    Resource(FUNCTION, "fn", {"name": "fn"}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("fn",)},
                    ),
                    Resource(
                        ALARM,
                        "age",
                        {
                            "namespace": "AWS/SQS",
                            "metricName": "ApproximateAgeOfOldestMessage",
                            "dimensions": {"QueueName": "jobs"},
                        },
                    ),
                    subject="mapping",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(QUEUE, "jobs", {"name": "jobs", "arn": arn("sqs", "jobs")}),
                    Resource(FUNCTION, "fn", {"name": "fn"}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("fn",)},
                    ),
                    subject="mapping",
                ),
            ),
        ),
    )
)


# STACK-020 ---------------------------------------------------------------------------------

SERVERLESS_TYPES = (FUNCTION, ESM, QUEUE, STATE_MACHINE, REST_STAGE, V2_STAGE, PIPE)


def _via_components(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    packages = {str(p) for p in config.get("component_packages") or ["serverless-patterns"]}
    for node in graph.of_type(*SERVERLESS_TYPES):
        current = node.parent
        while current is not None and current.type.split(":")[0] not in packages:
            current = current.parent
        if current is None:
            yield Finding("is not built by a component of the pattern library", urn=node.urn)


register(
    Rule(
        id="STACK-020",
        name="serverless-resources-via-components",
        title="Serverless resources come from the pattern library's components",
        description="The resource's parent chain contains a component of `component_packages`.",
        severity="LOW",
        pillar="OPS",
        scope="stack",
        enabled=False,
        types=SERVERLESS_TYPES,
        reads={},
        anchors=anchors(),
        knob="",
        raw="opts.parent",
        check=_via_components,
        config={
            "component_packages": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["serverless-patterns"],
            }
        },
        examples=Examples(
            compliant=(stack_case(Resource(QUEUE, "jobs", {}), subject="jobs"),),
            non_compliant=(Case(resources=(Resource(QUEUE, "jobs", {}),), subject="jobs"),),
        ),
    )
)


# STACK-021 ---------------------------------------------------------------------------------


def _exemptions_well_formed(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    when = exemptions.today(config)
    longest = int(config.get("max_exemption_days") or 365)
    known_ids = {r.id for r in REGISTRY.values()}
    for node in graph.nodes:
        for key, value in node.props.tags().items():
            if not key.startswith(exemptions.TAG_PREFIX):
                continue
            rule_id = key[len(exemptions.TAG_PREFIX) :]
            parsed = exemptions.parse_tag(value)
            if rule_id not in known_ids:
                problem = f"exempts unknown rule id {rule_id!r}"
            elif parsed is None:
                problem = (
                    f"{key} must be '<YYYY-MM-DD> <reason>' with a reason of at least "
                    f"{exemptions.MIN_REASON_LENGTH} characters (got {str(value)[:80]!r})"
                )
            elif not parsed.active(when):
                problem = f"{key} expired on {parsed.expires.isoformat()}"
            elif (parsed.expires - when).days > longest:
                problem = f"{key} runs {(parsed.expires - when).days} days, over {longest}"
            else:
                continue
            yield Finding(problem, urn=node.urn, detail=key)


register(
    Rule(
        id="STACK-021",
        name="exemptions-well-formed",
        title="Exemptions are well formed, current and name real rules",
        description=(
            "Each wa:exempt:<RULE-ID> tag has a real rule id, a date and a reason, has not "
            "expired and runs at most max_exemption_days."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="stack",
        types=(FUNCTION, QUEUE, TABLE, ROLE, REST_STAGE),
        reads={FUNCTION: ("tags", "tagsAll")},
        anchors=anchors(),
        knob="",
        raw="tags['wa:exempt:<RULE-ID>']",
        check=_exemptions_well_formed,
        config={"max_exemption_days": {"type": "integer", "default": 365}},
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(
                        FUNCTION,
                        "fn",
                        {
                            "tags": {
                                "wa:exempt:LAMBDA-001": "2099-01-01 accepted until the migration"
                            }
                        },
                    ),
                    subject="fn",
                    config={"max_exemption_days": 100000},
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(FUNCTION, "fn", {"tags": {"wa:exempt:LAMBDA-001": "soon, promise"}}),
                    subject="fn",
                ),
                stack_case(
                    Resource(FUNCTION, "fn", {"tags": {"wa:exempt:LAMBDA-001": "2099-01-01 ok"}}),
                    subject="fn",
                ),
                stack_case(
                    Resource(
                        FUNCTION,
                        "fn",
                        {"tags": {"wa:exempt:NOPE-001": "2099-01-01 accepted until the migration"}},
                    ),
                    subject="fn",
                ),
                stack_case(
                    Resource(
                        FUNCTION,
                        "fn",
                        {
                            "tags": {
                                "wa:exempt:LAMBDA-001": "2001-01-01 accepted until the migration"
                            }
                        },
                    ),
                    subject="fn",
                ),
            ),
        ),
    )
)
