"""Stack-level rules on observability and governance: X-Ray write
permission (STACK-013), managed log destinations (STACK-014), resources made through
components (STACK-020) and well-formed exemptions (STACK-021). Throttled consumers are in
`stack_consumers`, event loops and stream readers in `stack_loops`, failure handling,
timeouts and tracing paths in the `stack_failure` package."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    LOG_GROUP,
    METHOD_SETTINGS,
    PIPE,
    QUEUE,
    REST_STAGE,
    ROLE,
    STATE_MACHINE,
    TABLE,
    TOPIC,
    V2_STAGE,
    allow_policy,
    arn,
    stack_case,
)
from serverless_wa.rules._iam import (
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    allows,
    managed_policy_arns,
    role_documents,
)

RPA = ROLE_POLICY_ATTACHMENT

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
                        {"policy": allow_policy(["dynamodb:PutItem"], arn("dynamodb", "table/t"))},
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


def _group_names(graph: Graph) -> set[str]:
    """The known names of the stack's log groups, built once per graph."""
    names = (g.get("name") for g in graph.of_type(LOG_GROUP))
    return {name for name in names if isinstance(name, str)}


def _in_stack(graph: Graph, name: str) -> bool:
    return name in graph.memo("log-group-names", _group_names)


def _managed(graph: Graph, node: Node, prop: str, value: Any, external: set[str]) -> bool | None:
    """Whether a destination resolves to a LogGroup in the stack; None when unknowable."""
    if graph.refs(node, prop, (LOG_GROUP,)):
        return True
    if value is UNKNOWN:
        return None
    if not isinstance(value, str):
        return None
    name = _group_name(value)
    return name in external or _in_stack(graph, name)


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
        if name not in external and not _in_stack(graph, name):
            yield Finding(f"execution logs go to {name}, which never expires", urn=settings.urn)
    for api in graph.of_type(GRAPHQL_API):
        level = api.get("logConfig.fieldLogLevel")
        api_id = api.get("id")
        if level in (ABSENT, UNKNOWN, "NONE") or not isinstance(api_id, str):
            continue
        name = f"/aws/appsync/apis/{api_id}"
        if name not in external and not _in_stack(graph, name):
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
