"""The DLQ set and asynchronously invoked functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import as_list, known, parse_json
from serverless_wa.rules._common import ESM, FUNCTION, INVOKE_CONFIG, PERMISSION, PIPE, QUEUE

REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
RESOURCE_POLICY = "aws:lambda/resourcePolicy:ResourcePolicy"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
LOG_SUBSCRIPTION = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
IOT_RULE = "aws:iot/topicRule:TopicRule"
DEFAULT_ASYNC_PRINCIPALS = (
    "events.amazonaws.com",
    "s3.amazonaws.com",
    "sns.amazonaws.com",
    "iot.amazonaws.com",
    "ses.amazonaws.com",
    "logs.amazonaws.com",
)


def _queues(graph: Graph, node: Node, prop: str, value: Any) -> list[Node]:
    return graph.refs(node, prop, (QUEUE,), value)


def dlq_references(graph: Graph) -> dict[str, list[Node]]:
    """DLQ URN -> the resources that send their failures to it."""
    found: dict[str, list[Node]] = {}

    def add(queues: list[Node], owner: Node) -> None:
        for queue in queues:
            found.setdefault(queue.urn, []).append(owner)

    for queue in graph.of_type(QUEUE):
        redrive = parse_json(queue.get("redrivePolicy"))
        target = redrive.get("deadLetterTargetArn") if isinstance(redrive, Mapping) else None
        add(_queues(graph, queue, "redrivePolicy", target), queue)
    for node in graph.of_type(REDRIVE_POLICY):
        redrive = parse_json(node.get("redrivePolicy"))
        target = redrive.get("deadLetterTargetArn") if isinstance(redrive, Mapping) else None
        sources = graph.refs(node, "queueUrl", (QUEUE,))
        dlqs = [q for q in _queues(graph, node, "redrivePolicy", target) if q not in sources]
        for source in sources or [node]:
            add(dlqs, source)
    for fn in graph.of_type(FUNCTION):
        add(_queues(graph, fn, "deadLetterConfig", fn.get("deadLetterConfig.targetArn")), fn)
    for node in graph.of_type(INVOKE_CONFIG):
        value = node.get("destinationConfig.onFailure.destination")
        add(_queues(graph, node, "destinationConfig", value), node)
    for node in graph.of_type(ESM):
        value = node.get("destinationConfig.onFailure.destinationArn")
        add(_queues(graph, node, "destinationConfig", value), node)
    for node in graph.of_type(EVENT_TARGET):
        add(_queues(graph, node, "deadLetterConfig", node.get("deadLetterConfig.arn")), node)
    for node in graph.of_type(SCHEDULE):
        add(_queues(graph, node, "target", node.get("target.deadLetterConfig.arn")), node)
    for node in graph.of_type(SUBSCRIPTION):
        redrive = parse_json(node.get("redrivePolicy"))
        target = redrive.get("deadLetterTargetArn") if isinstance(redrive, Mapping) else None
        add(_queues(graph, node, "redrivePolicy", target), node)
    for node in graph.of_type(PIPE):
        params = node.get("sourceParameters")
        if isinstance(params, Mapping):
            for block in params.values():
                if isinstance(block, Mapping):
                    value = block.get("deadLetterConfig", {})
                    arn = value.get("arn") if isinstance(value, Mapping) else None
                    add(_queues(graph, node, "sourceParameters", arn), node)
    return found


def dlq_set(graph: Graph) -> set[str]:
    """URNs of the queues in the DLQ set."""
    urns = set(dlq_references(graph))
    for queue in graph.of_type(QUEUE):
        allow = queue.get("redriveAllowPolicy")
        # Outputs may carry "" for a queue without one.
        if (known(allow) and allow != "") or queue.props.tags().get("wa:dlq") == "true":
            urns.add(queue.urn)
    for node in graph.of_type(REDRIVE_ALLOW):
        urns.update(q.urn for q in graph.refs(node, "queueUrl", (QUEUE,)))
    return urns


def _functions(graph: Graph, node: Node, prop: str, value: Any = None) -> list[Node]:
    if value is None:
        return graph.refs(node, prop, (FUNCTION,))
    return graph.refs(node, prop, (FUNCTION,), value)


def async_functions(
    graph: Graph, principals: tuple[str, ...] = DEFAULT_ASYNC_PRINCIPALS
) -> dict[str, list[Node]]:
    """Function URN -> the resources that make it asynchronously invoked."""
    found: dict[str, list[Node]] = {}

    def add(functions: list[Node], reason: Node) -> None:
        for fn in functions:
            found.setdefault(fn.urn, []).append(reason)

    def async_principal(value: Any) -> bool:
        text = str(value)
        return text in principals or (text.startswith("logs.") and text.endswith(".amazonaws.com"))

    for node in graph.of_type(PERMISSION):
        if async_principal(node.get("principal")):
            add(_functions(graph, node, "function"), node)
    for node in graph.of_type(RESOURCE_POLICY):
        document = parse_json(node.get("policy"))
        if isinstance(document, Mapping):
            for statement in as_list(document.get("Statement")):
                principal = statement.get("Principal") if isinstance(statement, Mapping) else None
                service = principal.get("Service") if isinstance(principal, Mapping) else None
                if any(async_principal(s) for s in as_list(service)):
                    add(_functions(graph, node, "resourceArn"), node)
    for node in graph.of_type(EVENT_TARGET):
        add(_functions(graph, node, "arn"), node)
    for node in graph.of_type(SCHEDULE):
        add(_functions(graph, node, "target", node.get("target.arn")), node)
    for node in graph.of_type(SUBSCRIPTION):
        if node.get("protocol") == "lambda":
            add(_functions(graph, node, "endpoint"), node)
    for node in graph.of_type(BUCKET_NOTIFICATION):
        for entry in as_list(node.get("lambdaFunctions")):
            arn = entry.get("lambdaFunctionArn") if isinstance(entry, Mapping) else None
            add(_functions(graph, node, "lambdaFunctions", arn), node)
    for node in graph.of_type(LOG_SUBSCRIPTION):
        add(_functions(graph, node, "destinationArn"), node)
    for node in graph.of_type(IOT_RULE):
        for entry in as_list(node.get("lambdas")):
            arn = entry.get("functionArn") if isinstance(entry, Mapping) else None
            add(_functions(graph, node, "lambdas", arn), node)
    for node in graph.of_type(PIPE):
        if node.get("targetParameters.lambdaFunctionParameters.invocationType") == (
            "FIRE_AND_FORGET"
        ):
            add(_functions(graph, node, "target"), node)
    for node in graph.of_type(INVOKE_CONFIG):
        add(_functions(graph, node, "functionName"), node)
    return found
