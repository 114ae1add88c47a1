"""STACK-004: every asynchronous invocation path has failure handling."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, as_list, known
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import (
    BUCKET_NOTIFICATION,
    DEFAULT_ASYNC_PRINCIPALS,
    EVENT_TARGET,
    IOT_RULE,
    LOG_SUBSCRIPTION,
    RESOURCE_POLICY,
    SCHEDULE,
    SUBSCRIPTION,
    async_functions,
)
from serverless_wa.rules._common import FUNCTION, INVOKE_CONFIG, PERMISSION, PIPE, QUEUE, stack_case
from serverless_wa.rules.stack_failure._shared import _DLQ_ARN, _FN_ARN, PENDING, _short, _single

# STACK-004 ---------------------------------------------------------------------------------

ASYNC_INVOKERS = (
    PERMISSION,
    RESOURCE_POLICY,
    EVENT_TARGET,
    SCHEDULE,
    SUBSCRIPTION,
    BUCKET_NOTIFICATION,
    LOG_SUBSCRIPTION,
    IOT_RULE,
    PIPE,
)


def _qualifier(value: Any) -> Any:
    """The alias or version a function reference names: None for unqualified (or
    `$LATEST`), UNKNOWN when the reference is unknown."""
    if value is UNKNOWN:
        return UNKNOWN
    if not isinstance(value, str):
        return None
    parts = value.split(":")
    if value.startswith("arn:"):
        found = parts[7] if len(parts) > 7 and parts[5] == "function" else None
    elif len(parts) == 4 and parts[1] == "function":  # 123456789012:function:name:qualifier
        found = parts[3]
    elif len(parts) == 2:  # name:qualifier
        found = parts[1]
    else:
        found = None
    return None if found in (None, "", "$LATEST") else found


def _invoker_qualifier(node: Node) -> Any:
    """The qualifier an asynchronous invoker calls (UNKNOWN when it cannot be told)."""
    if node.type == PERMISSION:
        return _qualified(node, "function")
    if node.type == INVOKE_CONFIG:
        return _config_qualifier(node)
    single = {
        EVENT_TARGET: "arn",
        SCHEDULE: "target.arn",
        SUBSCRIPTION: "endpoint",
        LOG_SUBSCRIPTION: "destinationArn",
        PIPE: "target",
        RESOURCE_POLICY: "resourceArn",
    }
    if node.type in single:
        return _qualifier(node.get(single[node.type]))
    return UNKNOWN  # list-valued invokers (bucket notifications, IoT rules)


def _qualified(node: Node, reference: str) -> Any:
    """The `qualifier` property when set, else the one inside the function reference."""
    explicit = node.get("qualifier")
    if explicit is ABSENT:
        return _qualifier(node.get(reference))
    if explicit is UNKNOWN:
        return UNKNOWN
    return explicit if isinstance(explicit, str) and explicit not in ("", "$LATEST") else None


def _config_qualifier(node: Node) -> Any:
    return _qualified(node, "functionName")


def _async_failure_handling(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    principals = tuple(str(p) for p in as_list(config.get("async_principals")))
    invoked = async_functions(graph, principals or DEFAULT_ASYNC_PRINCIPALS)
    handled: dict[str, list[Any]] = {}  # function URN -> qualifiers with an on-failure target
    for node in graph.of_type(INVOKE_CONFIG):
        function = _single(graph.refs(node, "functionName", (FUNCTION,)))
        if function is not None and _present(node.get("destinationConfig.onFailure.destination")):
            handled.setdefault(function.urn, []).append(_config_qualifier(node))
    for urn, reasons in invoked.items():
        function = graph.by_urn(urn)
        if function is None or _present(function.get("deadLetterConfig.targetArn")):
            continue
        covered = handled.get(urn, [])
        gaps = [r for r in reasons if not _covers(covered, _invoker_qualifier(r))]
        if not gaps:
            continue
        qualifiers = sorted({q for q in map(_invoker_qualifier, gaps) if isinstance(q, str)})
        which = f" (qualifier {', '.join(qualifiers)})" if qualifiers else ""
        yield Finding(
            f"is invoked asynchronously by {_describe(gaps)}{which} but has neither an "
            "on-failure destination nor a DLQ, so failed events are dropped",
            urn=urn,
        )


def _present(value: Any) -> bool:
    """Presence check: unknown counts as present."""
    return value is UNKNOWN or (known(value) and value != "")


def _covers(qualifiers: list[Any], wanted: Any) -> bool:
    if wanted is UNKNOWN:
        return bool(qualifiers)
    return any(q is UNKNOWN or q == wanted for q in qualifiers)


def _describe(nodes: Sequence[Node]) -> str:
    first = sorted(nodes, key=lambda n: (n.type, n.name))[0]
    more = f" and {len({n.urn for n in nodes}) - 1} more" if len({n.urn for n in nodes}) > 1 else ""
    return f'{_short(first.type)} "{first.name}"{more}'


register(
    Rule(
        id="STACK-004",
        name="async-invocation-failure-handling",
        title="Asynchronously invoked functions have an on-failure destination or a DLQ",
        description=(
            "Every function invoked asynchronously (3.0) has a FunctionEventInvokeConfig for "
            "its qualifier with destinationConfig.onFailure.destination, or a deadLetterConfig."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(FUNCTION, INVOKE_CONFIG, *ASYNC_INVOKERS),
        reads={
            FUNCTION: ("deadLetterConfig.targetArn", "arn"),
            INVOKE_CONFIG: ("functionName", "qualifier", "destinationConfig.onFailure.destination"),
            PERMISSION: ("principal", "function", "qualifier"),
            RESOURCE_POLICY: ("policy", "resourceArn"),
            EVENT_TARGET: ("arn",),
            SCHEDULE: ("target.arn",),
            SUBSCRIPTION: ("protocol", "endpoint"),
            BUCKET_NOTIFICATION: ("lambdaFunctions",),
            LOG_SUBSCRIPTION: ("destinationArn",),
            IOT_RULE: ("lambdas",),
            PIPE: ("target", "targetParameters.lambdaFunctionParameters.invocationType"),
        },
        anchors=anchors(
            serverless_rules="ES1007", cdk_nag="Serverless-LambdaAsyncFailureDestination"
        ),
        knob="async_invoke",
        raw="aws.lambda_.FunctionEventInvokeConfig(destination_config.on_failure)",
        check=_async_failure_handling,
        config={
            "async_principals": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_ASYNC_PRINCIPALS),
            }
        },
        remediation=(
            "Raw: aws.lambda_.FunctionEventInvokeConfig(function_name=fn.name, "
            "destination_config={'on_failure': {'destination': dlq.arn}}), or "
            "dead_letter_config={'target_arn': dlq.arn} on the function. Component: "
            "FunctionSpec(async_invoke=AsyncInvoke(on_failure_arn=...))."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape: EventBridge target plus an on-failure destination
                    Resource(QUEUE, "worker-dlq", {}),
                    Resource(FUNCTION, "worker", {}),
                    Resource(EVENT_TARGET, "target", {}, depends={"arn": ("worker",)}),
                    Resource(
                        INVOKE_CONFIG,
                        "async",
                        {"destinationConfig": {"onFailure": {"destination": PENDING}}},
                        depends={"functionName": ("worker",), "destinationConfig": ("worker-dlq",)},
                    ),
                    subject="worker",
                ),
                stack_case(  # fallback shape: SNS subscription, function DLQ
                    Resource(QUEUE, "worker-dlq", {"arn": _DLQ_ARN}),
                    Resource(
                        FUNCTION,
                        "worker",
                        {"arn": _FN_ARN, "deadLetterConfig": {"targetArn": _DLQ_ARN}},
                    ),
                    Resource(SUBSCRIPTION, "sub", {"protocol": "lambda", "endpoint": _FN_ARN}),
                    subject="worker",
                ),
                stack_case(  # reached only through an API: synchronous
                    Resource(FUNCTION, "worker", {"arn": _FN_ARN}),
                    Resource(
                        PERMISSION,
                        "invoke",
                        {"principal": "apigateway.amazonaws.com", "function": _FN_ARN},
                    ),
                    subject="worker",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape: a target DLQ covers delivery, not the function
                    Resource(QUEUE, "target-dlq", {}),
                    Resource(FUNCTION, "worker", {}),
                    Resource(
                        EVENT_TARGET,
                        "target",
                        {"deadLetterConfig": {"arn": PENDING}},
                        depends={"arn": ("worker",), "deadLetterConfig": ("target-dlq",)},
                    ),
                    subject="worker",
                ),
                stack_case(  # fallback shape: an SNS permission by known ARN
                    Resource(FUNCTION, "worker", {"arn": _FN_ARN}),
                    Resource(
                        PERMISSION,
                        "invoke",
                        {"principal": "sns.amazonaws.com", "function": _FN_ARN},
                    ),
                    subject="worker",
                ),
                stack_case(  # an invoke config declares async use but sets no destination
                    Resource(FUNCTION, "worker", {}),
                    Resource(
                        INVOKE_CONFIG,
                        "async",
                        {"maximumRetryAttempts": 2},
                        depends={"functionName": ("worker",)},
                    ),
                    subject="worker",
                ),
                stack_case(  # the destination is configured for another qualifier
                    Resource(FUNCTION, "worker", {"arn": _FN_ARN}),
                    Resource(EVENT_TARGET, "target", {"arn": _FN_ARN}),
                    Resource(
                        INVOKE_CONFIG,
                        "async",
                        {
                            "functionName": _FN_ARN,
                            "qualifier": "live",
                            "destinationConfig": {"onFailure": {"destination": _DLQ_ARN}},
                        },
                    ),
                    subject="worker",
                ),
            ),
        ),
    )
)
