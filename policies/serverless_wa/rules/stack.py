"""Stack-level rules (POLICY-RULES.md 3.15)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    QUEUE,
    THROTTLED_TAG,
    arn,
    mapping_function,
    reserved,
    source_kind,
    stack_case,
    throttle_budget,
)

CONSUMER_KINDS = {"sqs", "kinesis", "dynamodb"}


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
            why = "drains a queue or stream" if mappings else f"is tagged {THROTTLED_TAG}"
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
            "A function that drains a queue or stream, or is tagged wa:throttled-consumer, "
            "needs reservedConcurrentExecutions >= 1 and <= the tag's budget."
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
        knob="reserved_concurrency / downstream_max_concurrency",
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
        knob="consumer_concurrency / max_concurrency",
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
