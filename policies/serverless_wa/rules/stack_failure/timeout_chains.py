"""STACK-009 to STACK-011: timeout chains (queue visibility, API integrations, Step Functions
tasks): each caller waits longer than what it calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, figure, register
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    QUEUE,
    STATE_MACHINE,
    arn,
    mapping_function,
    stack_case,
)
from serverless_wa.rules.stack_failure._shared import (
    _FN_ARN,
    _PARALLEL,
    DEFAULT_VISIBILITY_S,
    PENDING,
    REST_INTEGRATION,
    V2_API,
    V2_INTEGRATION,
    _definition,
    _invoke,
    _invoke_uri,
    _lambda_tasks,
    _lambda_timeout,
    _link,
    _number,
    _single,
)

# STACK-009 to STACK-011: timeout chains --------------------------------------------------


def _visibility_timeout_chain(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    needs: dict[str, list[tuple[float, Node, float, float]]] = {}
    for mapping in graph.of_type(ESM):
        queue = _single(graph.refs(mapping, "eventSourceArn", (QUEUE,)))
        function = mapping_function(graph, mapping)
        if queue is None or function is None:
            continue
        timeout = _lambda_timeout(function)
        window = _number(mapping.get("maximumBatchingWindowInSeconds"), 0)
        if timeout is None or window is None:
            continue
        needs.setdefault(queue.urn, []).append((6 * timeout + window, mapping, timeout, window))
    for urn, chain in needs.items():
        queue = graph.by_urn(urn)
        visibility = (
            _number(queue.get("visibilityTimeoutSeconds"), DEFAULT_VISIBILITY_S) if queue else None
        )
        if queue is None or visibility is None:
            continue
        need, mapping, timeout, window = max(chain, key=lambda item: (item[0], item[1].name))
        if visibility < need:
            yield Finding(
                f"visibility timeout {figure(visibility)} s is below 6 x function timeout "
                f"{figure(timeout)} s + batching window {figure(window)} s = {figure(need)} s "
                f'(mapping "{mapping.name}"), so '
                "messages reappear while still being processed",
                urn=urn,
            )


_QUEUE_ARN = arn("sqs", "jobs")

register(
    Rule(
        id="STACK-009",
        name="sqs-visibility-timeout-chain",
        title="SQS visibility timeouts cover six function timeouts plus the batching window",
        description=(
            "For each SQS mapping: visibilityTimeoutSeconds (absent = 30) >= 6 x the function's "
            "timeout (absent = 3) + maximumBatchingWindowInSeconds (absent = 0); the largest wins."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(QUEUE, ESM, FUNCTION),
        reads={
            QUEUE: ("visibilityTimeoutSeconds", "arn"),
            ESM: ("eventSourceArn", "functionName", "maximumBatchingWindowInSeconds"),
            FUNCTION: ("timeout", "arn"),
        },
        anchors=anchors(cdk_nag="LambdaEventSourceSQSVisibilityTimeout"),
        knob="consumer_timeout_s",
        raw="visibility_timeout_seconds",
        check=_visibility_timeout_chain,
        remediation=(
            "Raw: aws.sqs.Queue(..., visibility_timeout_seconds=6 * timeout + batching_window). "
            "Component: QueueSpec(consumer_timeout_s=..., batching_window_s=...) derives it."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape
                    Resource(QUEUE, "jobs", {"visibilityTimeoutSeconds": 181}),
                    Resource(FUNCTION, "worker", {"timeout": 30}),
                    Resource(
                        ESM,
                        "mapping",
                        {"maximumBatchingWindowInSeconds": 1},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="jobs",
                ),
                stack_case(  # visibility absent (30 s) covers a 5 s function
                    Resource(QUEUE, "jobs", {"arn": _QUEUE_ARN}),
                    Resource(FUNCTION, "worker", {"arn": _FN_ARN, "timeout": 5}),
                    Resource(
                        ESM, "mapping", {"eventSourceArn": _QUEUE_ARN, "functionName": _FN_ARN}
                    ),
                    subject="jobs",
                ),
                stack_case(  # set to the default (30 s)
                    Resource(QUEUE, "jobs", {"arn": _QUEUE_ARN, "visibilityTimeoutSeconds": 30}),
                    Resource(FUNCTION, "worker", {"arn": _FN_ARN, "timeout": 5}),
                    Resource(
                        ESM, "mapping", {"eventSourceArn": _QUEUE_ARN, "functionName": _FN_ARN}
                    ),
                    subject="jobs",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape: visibility absent (30 s), timeout 10 s
                    Resource(QUEUE, "jobs", {}),
                    Resource(FUNCTION, "worker", {"timeout": 10}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="jobs",
                ),
                stack_case(  # fallback shape: the batching window tips it over
                    Resource(QUEUE, "jobs", {"arn": _QUEUE_ARN, "visibilityTimeoutSeconds": 60}),
                    Resource(FUNCTION, "worker", {"arn": _FN_ARN, "timeout": 10}),
                    Resource(
                        ESM,
                        "mapping",
                        {
                            "eventSourceArn": _QUEUE_ARN,
                            "functionName": _FN_ARN,
                            "maximumBatchingWindowInSeconds": 5,
                        },
                    ),
                    subject="jobs",
                ),
                stack_case(  # two consumers: the slower one decides
                    Resource(QUEUE, "jobs", {"visibilityTimeoutSeconds": 100}),
                    Resource(FUNCTION, "fast", {"timeout": 5}),
                    Resource(FUNCTION, "slow", {"timeout": 20}),
                    Resource(
                        ESM,
                        "fast-mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("fast",)},
                    ),
                    Resource(
                        ESM,
                        "slow-mapping",
                        {},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("slow",)},
                    ),
                    subject="jobs",
                ),
            ),
        ),
    )
)


REST_DEFAULT_MS = 29000
V2_DEFAULT_MS = {"HTTP": 30000, "WEBSOCKET": 29000}
NON_LAMBDA_INTEGRATIONS = ("HTTP", "HTTP_PROXY", "MOCK", "VPC_LINK")


def _integration_limit(graph: Graph, integration: Node) -> float | None:
    if integration.type == REST_INTEGRATION:
        return _number(integration.get("timeoutMilliseconds"), REST_DEFAULT_MS)
    api = _link(graph, integration, "apiId", (V2_API,), integration.get("apiId"))
    protocol = api.get("protocolType") if api is not None else ABSENT
    default = V2_DEFAULT_MS.get(protocol) if isinstance(protocol, str) else None
    # An unresolved API or protocol takes the larger default: never a false finding.
    return _number(integration.get("timeoutMilliseconds"), default or max(V2_DEFAULT_MS.values()))


def _integration_function(graph: Graph, integration: Node) -> Node | None:
    kind, uri = (
        ("type", "uri")
        if integration.type == REST_INTEGRATION
        else ("integrationType", "integrationUri")
    )
    if integration.get(kind) in NON_LAMBDA_INTEGRATIONS:
        return None
    return _single(graph.refs(integration, uri, (FUNCTION,)))


def _api_integration_timeout_chain(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for integration in graph.of_type(REST_INTEGRATION, V2_INTEGRATION):
        function = _integration_function(graph, integration)
        if function is None:
            continue
        timeout = _lambda_timeout(function)
        limit = _integration_limit(graph, integration)
        if timeout is None or limit is None or timeout * 1000 <= limit:
            continue
        yield Finding(
            f'timeout {figure(timeout)} s outlasts API integration "{integration.name}" '
            f"({figure(limit / 1000)} s), so clients get a 504 while the function keeps running",
            urn=function.urn,
            detail=integration.name,
        )


register(
    Rule(
        id="STACK-010",
        name="api-integration-timeout-chain",
        title="Functions behind APIs time out before their integration does",
        description=(
            "For Lambda integrations, the function's timeout x 1000 <= timeoutMilliseconds "
            "(absent = 29000 for REST and WebSocket, 30000 for HTTP APIs)."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="stack",
        types=(REST_INTEGRATION, V2_INTEGRATION, V2_API, FUNCTION),
        reads={
            REST_INTEGRATION: ("type", "uri", "timeoutMilliseconds"),
            V2_INTEGRATION: ("integrationType", "integrationUri", "apiId", "timeoutMilliseconds"),
            V2_API: ("protocolType",),
            FUNCTION: ("timeout", "arn"),
        },
        anchors=anchors(),
        knob="timeout_s",
        raw="timeout (function) / timeout_milliseconds (integration)",
        check=_api_integration_timeout_chain,
        remediation=(
            "Raw: aws.lambda_.Function(..., timeout=25) below the integration's "
            "timeout_milliseconds (29000 REST/WebSocket, 30000 HTTP). Component: "
            "FunctionSpec(timeout_s=...)."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape, REST default 29 s
                    Resource(FUNCTION, "handler", {"timeout": 20}),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"type": "AWS_PROXY", "uri": PENDING},
                        depends={"uri": ("handler",)},
                    ),
                    subject="handler",
                ),
                stack_case(  # set to the default
                    Resource(FUNCTION, "handler", {"timeout": 29}),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"type": "AWS_PROXY", "uri": PENDING, "timeoutMilliseconds": 29000},
                        depends={"uri": ("handler",)},
                    ),
                    subject="handler",
                ),
                stack_case(  # fallback shape: an HTTP API allows 30 s
                    Resource(V2_API, "api", {"id": "a1b2c3", "protocolType": "HTTP"}),
                    Resource(FUNCTION, "handler", {"arn": _FN_ARN, "timeout": 30}),
                    Resource(
                        V2_INTEGRATION,
                        "integration",
                        {
                            "apiId": "a1b2c3",
                            "integrationType": "AWS_PROXY",
                            "integrationUri": _FN_ARN,
                        },
                    ),
                    subject="handler",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape
                    Resource(FUNCTION, "handler", {"timeout": 30}),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"type": "AWS_PROXY", "uri": PENDING},
                        depends={"uri": ("handler",)},
                    ),
                    subject="handler",
                ),
                stack_case(  # fallback shape: a WebSocket API allows only 29 s
                    Resource(V2_API, "api", {"id": "a1b2c3", "protocolType": "WEBSOCKET"}),
                    Resource(FUNCTION, "handler", {"arn": _FN_ARN, "timeout": 30}),
                    Resource(
                        V2_INTEGRATION,
                        "integration",
                        {
                            "apiId": "a1b2c3",
                            "integrationType": "AWS_PROXY",
                            "integrationUri": _invoke_uri(_FN_ARN),
                        },
                    ),
                    subject="handler",
                ),
                stack_case(  # an explicit, shorter integration timeout
                    Resource(FUNCTION, "handler", {"timeout": 15}),
                    Resource(
                        REST_INTEGRATION,
                        "integration",
                        {"type": "AWS", "uri": PENDING, "timeoutMilliseconds": 10000},
                        depends={"uri": ("handler",)},
                    ),
                    subject="handler",
                ),
            ),
        ),
    )
)


def _sfn_task_timeout_chain(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for machine in graph.of_type(STATE_MACHINE):
        for ref, function in _lambda_tasks(graph, machine):
            task_timeout = _number(ref.state.get("TimeoutSeconds", ABSENT))
            timeout = _lambda_timeout(function)
            if task_timeout is None or timeout is None or task_timeout >= timeout:
                continue
            yield Finding(
                f"Lambda task {ref.path} times out after {figure(task_timeout)} s, before function "
                f'"{function.name}" ({figure(timeout)} s), so it retries while the first call runs',
                urn=machine.urn,
                detail=ref.path,
            )


register(
    Rule(
        id="STACK-011",
        name="sfn-task-timeout-chain",
        title="Step Functions Lambda tasks wait at least as long as the function may run",
        description=(
            "For Lambda tasks that resolve to a function in the stack (definition known), "
            "TimeoutSeconds >= that function's timeout."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="stack",
        types=(STATE_MACHINE, FUNCTION),
        reads={STATE_MACHINE: ("definition",), FUNCTION: ("timeout", "arn", "name")},
        anchors=anchors(),
        knob="timeout_s",
        raw="TimeoutSeconds in the state machine definition",
        check=_sfn_task_timeout_chain,
        remediation=(
            "Raw: give the Lambda task 'TimeoutSeconds' of at least the function's timeout in "
            "definition=. Component: asl.task(timeout_s=...) (give it the function's)."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape: FunctionName by (known) name
                    Resource(FUNCTION, "resize", {"name": "resize-fn", "timeout": 30}),
                    Resource(
                        STATE_MACHINE,
                        "workflow",
                        {
                            "definition": _definition(
                                ("Resize", _invoke("resize-fn", TimeoutSeconds=60))
                            )
                        },
                        depends={"definition": ("resize",)},
                    ),
                    subject="workflow",
                ),
                stack_case(  # no TimeoutSeconds (SFN-005's concern): unbounded
                    Resource(FUNCTION, "resize", {"name": "resize-fn", "timeout": 30}),
                    Resource(
                        STATE_MACHINE,
                        "workflow",
                        {"definition": _definition(("Resize", _invoke("resize-fn:live")))},
                    ),
                    subject="workflow",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape
                    Resource(FUNCTION, "resize", {"name": "resize-fn", "timeout": 30}),
                    Resource(
                        STATE_MACHINE,
                        "workflow",
                        {
                            "definition": _definition(
                                ("Resize", _invoke("resize-fn", TimeoutSeconds=10))
                            )
                        },
                        depends={"definition": ("resize",)},
                    ),
                    subject="workflow",
                ),
                stack_case(  # fallback shape: a bare function ARN inside a Parallel branch
                    Resource(FUNCTION, "resize", {"arn": _FN_ARN, "timeout": 10}),
                    Resource(
                        STATE_MACHINE,
                        "workflow",
                        {"definition": _definition(("Fanout", _PARALLEL))},
                    ),
                    subject="workflow",
                ),
            ),
        ),
    )
)
