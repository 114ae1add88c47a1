"""Type tokens, example builders and the definitions the rules share."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, known
from serverless_wa.registry import Case, Resource

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
KINESIS_STREAM = "aws:kinesis/stream:Stream"
KINESIS_CONSUMER = "aws:kinesis/streamConsumer:StreamConsumer"
MSK = ("aws:msk/cluster:Cluster", "aws:msk/serverlessCluster:ServerlessCluster")
PIPE = "aws:pipes/pipe:Pipe"
REST_STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
V2_STAGE = "aws:apigatewayv2/stage:Stage"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
TOPIC = "aws:sns/topic:Topic"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"

COMPONENT = "serverless-patterns:patterns:Example"
ARN_ACCOUNT = "arn:aws:{service}:eu-west-1:123456789012:{resource}"

THROTTLED_TAG = "wa:throttled-consumer"
DATA_TAG = "wa:data"


def ephemeral(node: Node) -> bool | None:
    """Tagged `wa:data=ephemeral` (tags or tagsAll); None when the `tags` value is unknown."""
    if node.get("tags") is UNKNOWN or node.get(f"tags.{DATA_TAG}") is UNKNOWN:
        return None
    return node.props.tags().get(DATA_TAG) == "ephemeral"


def case(
    type_: str,
    props: dict[str, Any],
    *,
    name: str = "subject",
    config: dict[str, Any] | None = None,
) -> Case:
    """A one-resource case: `props` on a resource inside an example component."""
    return Case(
        resources=(
            Resource(COMPONENT, "owner", {}),
            Resource(type_, name, props, parent="owner"),
        ),
        subject=name,
        config=config or {},
    )


def stack_case(*resources: Resource, subject: str, config: dict[str, Any] | None = None) -> Case:
    """A multi-resource case, all inside one example component."""
    owned = tuple(
        r if r.parent else Resource(r.type, r.name, r.props, "owner", r.depends) for r in resources
    )
    return Case((Resource(COMPONENT, "owner", {}), *owned), subject=subject, config=config or {})


def arn(service: str, resource: str) -> str:
    return ARN_ACCOUNT.format(service=service, resource=resource)


def allow_policy(actions: Sequence[str], resource: str) -> str:
    """An example inline policy document allowing `actions` on `resource` (JSON string, as
    the engine sends it)."""
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def number(value: Any) -> int | float | None:
    """A known number (booleans are not numbers here), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def unset(value: Any) -> bool:
    """Absent, or the empty value an unset output carries (`""`, `[]`, `{}`); UNKNOWN is set."""
    return value is ABSENT or (isinstance(value, str | list | dict) and len(value) == 0)


# Event source kinds (3.0) ------------------------------------------------------------------

_SOURCE_TYPES = {
    QUEUE: "sqs",
    KINESIS_STREAM: "kinesis",
    KINESIS_CONSUMER: "kinesis",
    TABLE: "dynamodb",
    MSK[0]: "msk",
    MSK[1]: "msk",
}


def kind_from_arn(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith("arn:"):
        return None
    parts = value.split(":")
    service = parts[2] if len(parts) > 2 else ""
    if service == "sqs":
        return "sqs"
    if service == "kinesis":
        return "kinesis"
    if service == "dynamodb" and "/stream/" in value:
        return "dynamodb"
    return {"kafka": "msk", "mq": "mq", "rds": "docdb"}.get(service)


def source_kind(graph: Graph, mapping: Node, prop: str = "eventSourceArn") -> str | None:
    """`sqs`, `kinesis`, `dynamodb`, `msk`, `kafka`, `mq`, `docdb`, or None when unknown."""
    if prop == "eventSourceArn" and known(mapping.get("selfManagedEventSource")):
        return "kafka"
    kind = kind_from_arn(mapping.get(prop))
    if kind:
        return kind
    for target in mapping.deps.get(prop, []):
        if target.type in _SOURCE_TYPES:
            return _SOURCE_TYPES[target.type]
    return None


def mapping_function(graph: Graph, mapping: Node) -> Node | None:
    """The function a mapping targets, through an alias where needed."""
    found = graph.refs(mapping, "functionName", (FUNCTION, ALIAS))
    if len(found) != 1:
        return None
    target = found[0]
    if target.type == ALIAS:
        functions = graph.refs(target, "functionName", (FUNCTION,))
        return functions[0] if len(functions) == 1 else None
    return target


def throttle_budget(function: Node) -> tuple[bool, int | None]:
    """(tagged as throttled consumer, downstream budget N if the tag holds one)."""
    value = function.props.tags().get(THROTTLED_TAG)
    if value is None:
        return False, None
    text = str(value).strip()
    if text.isdigit() and int(text) > 0:
        return True, int(text)
    return True, None


def reserved(function: Node) -> Any:
    """Reserved concurrency: an int, ABSENT (also for -1, the provider default) or UNKNOWN."""
    value = function.get("reservedConcurrentExecutions")
    if value is UNKNOWN or value is ABSENT:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = int(value)
        return ABSENT if number < 0 else number
    return ABSENT


def attached(
    graph: Graph, split_type: str, prop: str, owner_types: tuple[str, ...]
) -> tuple[dict[str, list[Node]], bool]:
    """Split resources (QueuePolicy, RedrivePolicy, TopicPolicy...) by the URN of the owner
    their `prop` refers to, and whether one of them stays unresolved or ambiguous (then no
    owner can be judged to lack one)."""
    found: dict[str, list[Node]] = {}
    unresolved = False
    for node in graph.of_type(split_type):
        owners = graph.refs(node, prop, owner_types)
        if len(owners) == 1:
            found.setdefault(owners[0].urn, []).append(node)
        elif owners or node.get(prop) is UNKNOWN:
            unresolved = True
    return found, unresolved


# Settings several rules declare: every schema copies its entry from
# here, so the defaults stay equal.
SHARED_CONFIG: dict[str, dict[str, Any]] = {
    "account_concurrency_limit": {
        "type": "integer",
        "default": 1000,
        "description": "The account's Lambda concurrency limit in this Region",
    },
    "reserved_elsewhere": {
        "type": "integer",
        "default": 0,
        "description": "Concurrency reserved by functions outside this stack",
    },
    "runtime_overrides": {
        "type": "object",
        "default": {},
        "description": (
            "Lambda runtime -> {deprecated, block_create, block_update (YYYY-MM-DD), arm64}: "
            "corrects or adds entries of the runtime lifecycle data"
        ),
    },
}


def shared_config(*names: str) -> dict[str, dict[str, Any]]:
    return {name: dict(SHARED_CONFIG[name]) for name in names}
