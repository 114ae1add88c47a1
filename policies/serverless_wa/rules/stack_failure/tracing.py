"""STACK-012: the tracing path stays continuous."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

from serverless_wa import asl
from serverless_wa.graph import Graph, Node
from serverless_wa.props import UNKNOWN, known, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import SUBSCRIPTION
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    KINESIS_CONSUMER,
    KINESIS_STREAM,
    MSK,
    QUEUE,
    REST_STAGE,
    STATE_MACHINE,
    TABLE,
    TOPIC,
    V2_STAGE,
    arn,
    mapping_function,
    stack_case,
)
from serverless_wa.rules.stack_failure._shared import (
    _FN_ARN,
    _PARALLEL,
    DATA_SOURCE,
    GRAPHQL_API,
    PENDING,
    REST_API,
    REST_INTEGRATION,
    V2_INTEGRATION,
    _definition,
    _invoke_uri,
    _lambda_tasks,
    _link,
    _short,
    _single,
)

# STACK-012 ---------------------------------------------------------------------------------

TRACE_SWITCH = {
    FUNCTION: ("tracingConfig.mode", "tracing_config.mode='Active'"),
    STATE_MACHINE: (
        "tracingConfiguration.enabled",
        "tracing_configuration.enabled=True",
    ),
    REST_STAGE: ("xrayTracingEnabled", "xray_tracing_enabled=True"),
    TOPIC: ("tracingConfig", "tracing_config='Active'"),
    GRAPHQL_API: ("xrayEnabled", "xray_enabled=True"),
}
MAPPING_SOURCES = (QUEUE, KINESIS_STREAM, KINESIS_CONSUMER, TABLE, *MSK)
INTEGRATION_TARGETS = (FUNCTION, STATE_MACHINE, QUEUE)


def _traced(node: Node) -> bool | None:
    """Whether a node that can trace does: None when unknown (or for pass-through nodes)."""
    if node.type not in TRACE_SWITCH:
        return None
    value = node.get(TRACE_SWITCH[node.type][0])
    if value is UNKNOWN:
        return None
    return value is True or value == "Active"


def _api_key(node: Node, prop: str) -> tuple[str, str] | None:
    """Which API a stage or integration belongs to: the dependency, else the known id."""
    targets = {t.urn for t in node.deps.get(prop, [])}
    if len(targets) == 1:
        return "urn", next(iter(targets))
    value = node.get(prop)
    return ("id", value) if isinstance(value, str) and known(value) and not targets else None


def _integration_targets(graph: Graph, integration: Node) -> list[Node]:
    """What an API integration invokes: its URI's function, state machine or queue, or the
    state machine or (REST) SNS topic its request names (StartExecution's stateMachineArn,
    Publish's TopicArn)."""
    rest = integration.type == REST_INTEGRATION
    uri = "uri" if rest else "integrationUri"
    extra = "requestTemplates" if rest else "requestParameters"
    named = (STATE_MACHINE, TOPIC) if rest else (STATE_MACHINE,)
    found = [t for t in integration.deps.get(uri, []) if t.type in INTEGRATION_TARGETS]
    found += [t for t in integration.deps.get(extra, []) if t.type in named]
    if not found and not integration.deps.get(uri):
        value = integration.get(uri)
        match = graph.find(value, (FUNCTION,)) if known(value) else None
        found = [match] if match is not None else []
    if not found and rest and not integration.deps.get(extra):
        found = _published_topics(graph, integration.get(extra))
    return found


_TOPIC_ARN = re.compile(r"TopicArn=([^&\s'\"]+)")


def _published_topics(graph: Graph, templates: Any) -> list[Node]:
    """The stack's topics a REST integration's known request templates publish to (the form
    body `Action=Publish&TopicArn=<URL-encoded ARN>`)."""
    found: list[Node] = []
    for template in templates.values() if isinstance(templates, Mapping) else ():
        if not isinstance(template, str) or not known(template):
            continue
        for encoded in _TOPIC_ARN.findall(template):
            topic = graph.find(unquote(encoded), (TOPIC,))
            if topic is not None and topic not in found:
                found.append(topic)
    return found


def _machine_targets(graph: Graph, machine: Node) -> list[Node]:
    definition = parse_json(machine.get("definition"))
    if not isinstance(definition, Mapping):
        return [
            t for t in machine.deps.get("definition", []) if t.type in (FUNCTION, STATE_MACHINE)
        ]
    found: list[Node] = [function for _, function in _lambda_tasks(graph, machine)]
    try:
        refs = list(asl.walk(definition))
    except (ValueError, TypeError, AttributeError):
        return found
    for ref in refs:
        if ":states:::states:startExecution" in asl.resource_of(ref.state):
            params = ref.state.get("Parameters") or ref.state.get("Arguments")
            value = params.get("StateMachineArn") if isinstance(params, Mapping) else None
            child = graph.find(value, (STATE_MACHINE,)) if known(value) else None
            if child is not None:
                found.append(child)
    return found


def _invocation_edges(graph: Graph) -> Iterator[tuple[str, str]]:
    """Undirected invocation edges between node URNs (a v2 API joins its functions as a
    pass-through hub, so does a mapping source)."""
    stages: dict[tuple[str, str], list[Node]] = {}
    for stage in graph.of_type(REST_STAGE):
        key = _api_key(stage, "restApi")
        if key is not None:
            stages.setdefault(key, []).append(stage)
    for integration in graph.of_type(REST_INTEGRATION):
        key = _api_key(integration, "restApi")
        for target in _integration_targets(graph, integration):
            for stage in stages.get(key, []) if key else []:
                yield stage.urn, target.urn
    for integration in graph.of_type(V2_INTEGRATION):
        key = _api_key(integration, "apiId")
        if key is not None:
            for target in _integration_targets(graph, integration):
                yield f"v2-api:{key[0]}:{key[1]}", target.urn
    for machine in graph.of_type(STATE_MACHINE):
        for target in _machine_targets(graph, machine):
            yield machine.urn, target.urn
    for subscription in graph.of_type(SUBSCRIPTION):
        topic = _single(graph.refs(subscription, "topic", (TOPIC,)))
        endpoint = _single(graph.refs(subscription, "endpoint", (FUNCTION, QUEUE)))
        if topic is not None and endpoint is not None:
            yield topic.urn, endpoint.urn
    for mapping in graph.of_type(ESM):
        source = _single(graph.refs(mapping, "eventSourceArn", MAPPING_SOURCES))
        function = mapping_function(graph, mapping)
        if source is not None and function is not None:
            yield source.urn, function.urn
    for data_source in graph.of_type(DATA_SOURCE):
        if data_source.get("type") not in ("AWS_LAMBDA", UNKNOWN):
            continue
        api = _single(graph.refs(data_source, "apiId", (GRAPHQL_API,)))
        function = _link(
            graph,
            data_source,
            "lambdaConfig",
            (FUNCTION,),
            data_source.get("lambdaConfig.functionArn"),
        )
        if api is not None and function is not None:
            yield api.urn, function.urn


def _tracing_path_continuous(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    neighbours: dict[str, set[str]] = {}
    for a, b in _invocation_edges(graph):
        if a != b:
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
    for urn in sorted(neighbours):
        node = graph.by_urn(urn)
        if node is None or _traced(node) is not False:
            continue
        witness = _nearest_traced(graph, neighbours, urn)
        if witness is not None:
            yield Finding(
                f'does not trace, but {_short(witness.type)} "{witness.name}" on the same '
                "invocation path does, so the trace breaks here",
                urn=urn,
                fix=TRACE_SWITCH[node.type][1],
            )


def _nearest_traced(graph: Graph, neighbours: dict[str, set[str]], start: str) -> Node | None:
    seen, queue = {start}, deque([start])
    while queue:
        current = queue.popleft()
        for urn in sorted(neighbours.get(current, ())):
            if urn in seen:
                continue
            seen.add(urn)
            node = graph.by_urn(urn)
            if node is not None and _traced(node) is True:
                return node
            queue.append(urn)
    return None


_ACTIVE = {"tracingConfig": {"mode": "Active"}}
_TRACED_REST_API = (  # preview shape: an API and its traced stage
    Resource(REST_API, "api", {}),
    Resource(REST_STAGE, "stage", {"xrayTracingEnabled": True}, depends={"restApi": ("api",)}),
)
_PASS_THROUGH = {"tracingConfig": {"mode": "PassThrough"}}

register(
    Rule(
        id="STACK-012",
        name="tracing-path-continuous",
        title="Every node on a traced invocation path traces",
        description=(
            "Along invocation edges (API integration, including a REST API publishing to an SNS "
            "topic, state machine task, topic subscription, mapping source, AppSync data "
            "source), a path with a traced node traces throughout."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="stack",
        types=(
            REST_STAGE,
            REST_INTEGRATION,
            V2_STAGE,
            V2_INTEGRATION,
            FUNCTION,
            STATE_MACHINE,
            TOPIC,
            SUBSCRIPTION,
            GRAPHQL_API,
            DATA_SOURCE,
            ESM,
        ),
        reads={
            REST_STAGE: ("xrayTracingEnabled", "restApi"),
            REST_INTEGRATION: ("restApi", "uri", "requestTemplates"),
            V2_INTEGRATION: ("apiId", "integrationUri"),
            FUNCTION: ("tracingConfig.mode", "arn"),
            STATE_MACHINE: ("tracingConfiguration.enabled", "definition"),
            TOPIC: ("tracingConfig", "arn"),
            SUBSCRIPTION: ("topic", "endpoint"),
            GRAPHQL_API: ("xrayEnabled",),
            DATA_SOURCE: ("type", "apiId", "lambdaConfig.functionArn"),
            ESM: ("eventSourceArn", "functionName"),
        },
        anchors=anchors(),
        knob="",
        raw="tracing_config.mode='Active' (and each service's trace switch)",
        check=_tracing_path_continuous,
        remediation=(
            "Turn tracing on for the named resource: Function tracing_config={'mode': "
            "'Active'}, Stage xray_tracing_enabled=True, StateMachine tracing_configuration="
            "{'enabled': True}, Topic tracing_config='Active', GraphQLApi xray_enabled=True. "
            "Component: every component traces by default."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape: traced REST stage, traced function
                    *_TRACED_REST_API,
                    Resource(FUNCTION, "handler", _ACTIVE),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"uri": PENDING},
                        depends={"restApi": ("api",), "uri": ("handler",)},
                    ),
                    subject="handler",
                ),
                stack_case(  # fallback shape: traced topic, traced subscriber
                    Resource(
                        TOPIC, "events", {"arn": arn("sns", "events"), "tracingConfig": "Active"}
                    ),
                    Resource(FUNCTION, "handler", {"arn": _FN_ARN, **_ACTIVE}),
                    Resource(
                        SUBSCRIPTION,
                        "sub",
                        {"topic": arn("sns", "events"), "protocol": "lambda", "endpoint": _FN_ARN},
                    ),
                    subject="handler",
                ),
                stack_case(  # a traced REST stage publishing to a traced topic
                    *_TRACED_REST_API,
                    Resource(TOPIC, "events", {"tracingConfig": "Active"}),
                    Resource(
                        REST_INTEGRATION,
                        "publish",
                        {"uri": PENDING, "requestTemplates": {"application/json": PENDING}},
                        depends={"restApi": ("api",), "requestTemplates": ("events",)},
                    ),
                    subject="events",
                ),
                stack_case(  # nothing on the path traces: LAMBDA-001's concern, not this rule's
                    Resource(QUEUE, "jobs", {}),
                    Resource(FUNCTION, "worker", {}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape: traced REST stage, function not traced (absent)
                    *_TRACED_REST_API,
                    Resource(FUNCTION, "handler", {}),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"uri": PENDING},
                        depends={"restApi": ("api",), "uri": ("handler",)},
                    ),
                    subject="handler",
                ),
                stack_case(  # through a queue: traced stage -> SQS -> consumer
                    *_TRACED_REST_API,
                    Resource(QUEUE, "jobs", {}),
                    Resource(FUNCTION, "worker", _PASS_THROUGH),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"uri": PENDING},
                        depends={"restApi": ("api",), "uri": ("jobs",)},
                    ),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
                stack_case(  # fallback shape: traced state machine, untraced task function
                    Resource(FUNCTION, "resize", {"arn": _FN_ARN, **_PASS_THROUGH}),
                    Resource(
                        STATE_MACHINE,
                        "workflow",
                        {
                            "tracingConfiguration": {"enabled": True},
                            "definition": _definition(("Fanout", _PARALLEL)),
                        },
                    ),
                    subject="resize",
                ),
                stack_case(  # functions behind one WebSocket API: pass-through stage
                    Resource(V2_STAGE, "stage", {"apiId": "a1b2c3"}),
                    Resource(FUNCTION, "connect", {"arn": _FN_ARN, **_ACTIVE}),
                    Resource(FUNCTION, "default", {"arn": arn("lambda", "function:default")}),
                    Resource(
                        V2_INTEGRATION,
                        "connect-integration",
                        {"apiId": "a1b2c3", "integrationUri": _invoke_uri(_FN_ARN)},
                    ),
                    Resource(
                        V2_INTEGRATION,
                        "default-integration",
                        {"apiId": "a1b2c3", "integrationUri": arn("lambda", "function:default")},
                    ),
                    subject="default",
                ),
                stack_case(  # fallback shape: a traced REST stage publishes to SNS directly
                    Resource(REST_API, "api", {"id": "a1b2c3"}),
                    Resource(
                        REST_STAGE, "stage", {"xrayTracingEnabled": True, "restApi": "a1b2c3"}
                    ),
                    Resource(TOPIC, "events", {"arn": arn("sns", "events")}),
                    Resource(
                        REST_INTEGRATION,
                        "publish",
                        {
                            "restApi": "a1b2c3",
                            "uri": "arn:aws:apigateway:eu-west-1:sns:path//",
                            "requestTemplates": {
                                "application/json": "Action=Publish&TopicArn="
                                + quote(arn("sns", "events"), safe="")
                                + "&Message=$util.urlEncode($input.body)"
                            },
                        },
                    ),
                    subject="events",
                ),
                stack_case(  # the stage is the gap
                    Resource(REST_API, "api", {}),
                    Resource(REST_STAGE, "stage", {}, depends={"restApi": ("api",)}),
                    Resource(FUNCTION, "handler", _ACTIVE),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"uri": PENDING},
                        depends={"restApi": ("api",), "uri": ("handler",)},
                    ),
                    subject="stage",
                ),
            ),
        ),
    )
)
