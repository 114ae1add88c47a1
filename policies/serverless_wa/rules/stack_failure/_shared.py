"""What the stack failure rules share: resource types, defaults and graph helpers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from serverless_wa import asl
from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, known, parse_json
from serverless_wa.registry import figure
from serverless_wa.rules._common import FUNCTION, arn

QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
REST_API = "aws:apigateway/restApi:RestApi"
REST_INTEGRATION = "aws:apigateway/integration:Integration"
V2_API = "aws:apigatewayv2/api:Api"
V2_INTEGRATION = "aws:apigatewayv2/integration:Integration"
GRAPHQL_API = "aws:appsync/graphQLApi:GraphQLApi"
DATA_SOURCE = "aws:appsync/dataSource:DataSource"

PENDING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown string, for examples
DEFAULT_RETENTION_S = 345600
DEFAULT_VISIBILITY_S = 30
DEFAULT_LAMBDA_TIMEOUT_S = 3
UNRESERVED_MINIMUM = 100


def _number(value: Any, default: float | None = None) -> float | None:
    """A known number (ABSENT -> `default`); None when unknown or not a number."""
    if value is ABSENT:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _setting(config: Mapping[str, Any], key: str, default: float) -> float:
    value = _number(config.get(key, ABSENT), default)
    return default if value is None else value


def _seconds(value: float) -> str:
    days = value / 86400
    return (
        f"{figure(value)} s ({figure(days)} days)"
        if days >= 1 and days == int(days)
        else f"{figure(value)} s"
    )


def _names(nodes: Iterable[Node], limit: int = 3) -> str:
    names = sorted({n.name for n in nodes})
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def _short(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def _lambda_timeout(function: Node) -> float | None:
    return _number(function.get("timeout"), DEFAULT_LAMBDA_TIMEOUT_S)


def _single(nodes: Sequence[Node]) -> Node | None:
    unique = {n.urn: n for n in nodes}
    return next(iter(unique.values())) if len(unique) == 1 else None


def _link(graph: Graph, node: Node, prop: str, types: Sequence[str], value: Any) -> Node | None:
    """The one node of `types` that `node.prop` (holding `value`) refers to: a dependency of
    the right type, disambiguated by the known value when the key covers several."""
    linked = {t.urn: t for t in node.deps.get(prop, []) if t.type in types}
    if len(linked) == 1:
        return next(iter(linked.values()))
    match = graph.find(value, types) if known(value) else None
    if linked:
        return match if match is not None and match.urn in linked else None
    return match


def _task_function_reference(state: Mapping[str, Any]) -> Any:
    """What a Lambda task invokes: the bare function ARN, or its FunctionName parameter
    (ABSENT when it is computed at run time)."""
    resource = asl.resource_of(state)
    if ":function:" in resource:
        return resource
    for block in (state.get("Parameters"), state.get("Arguments")):
        if isinstance(block, Mapping) and "FunctionName" in block:
            value = block["FunctionName"]
            if isinstance(value, str) and not value.startswith("{%"):
                return value
    return ABSENT


def _task_function(graph: Graph, state: Mapping[str, Any]) -> Node | None:
    value = _task_function_reference(state)
    if not isinstance(value, str):
        return None
    if not value.startswith("arn:") and ":" in value:
        value = value.split(":")[0]  # name:qualifier
    return graph.find(value, (FUNCTION,))


def _lambda_tasks(graph: Graph, machine: Node) -> Iterator[tuple[asl.StateRef, Node]]:
    """(state, function) for each Lambda task of a known definition that resolves."""
    definition = parse_json(machine.get("definition"))
    if not isinstance(definition, Mapping):
        return
    try:
        refs = list(asl.walk(definition))
    except (ValueError, TypeError, AttributeError):
        return  # a definition that does not parse is not applicable
    for ref in refs:
        if ref.state.get("Type") == "Task" and asl.is_lambda_task(ref.state):
            function = _task_function(graph, ref.state)
            if function is not None:
                yield ref, function


# Example builders -------------------------------------------------------------------------

_FN_ARN = arn("lambda", "function:worker")
_DLQ_ARN = arn("sqs", "worker-dlq")


def _redrive(target: str) -> str:
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": 5})


def _invoke_uri(function_arn: str) -> str:
    return (
        f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def _definition(*states: tuple[str, dict[str, Any]]) -> str:
    body: dict[str, Any] = {}
    for index, (name, state) in enumerate(states):
        following = states[index + 1][0] if index + 1 < len(states) else None
        body[name] = {**state, **({"Next": following} if following else {"End": True})}
    return json.dumps({"StartAt": states[0][0], "States": body})


def _invoke(function: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        **extra,
    }


_PARALLEL = {
    "Type": "Parallel",
    "Branches": [
        {
            "StartAt": "Resize",
            "States": {
                "Resize": {"Type": "Task", "Resource": _FN_ARN, "TimeoutSeconds": 5, "End": True}
            },
        }
    ],
}
