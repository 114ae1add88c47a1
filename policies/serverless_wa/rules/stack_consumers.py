"""Stack-level rules on throttled consumers: what each reserves
(STACK-001), SQS concurrency that agrees with it (STACK-002), API throttles the backend can
take (STACK-015) and backlog alarms (STACK-019)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN
from serverless_wa.registry import (
    Examples,
    Finding,
    Resource,
    Rule,
    anchors,
    figure,
    register,
)
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    METHOD_SETTINGS,
    QUEUE,
    THROTTLED_TAG,
    V2_STAGE,
    arn,
    mapping_function,
    reserved,
    source_kind,
    stack_case,
    throttle_budget,
)

STREAM_ARN = arn("dynamodb", "table/t/stream/2026-01-01T00:00:00.000")

# Queue consumers only: a stream's shards (times the parallelization factor) already bound
# its consumer, and reserving less only throttles the poller and grows iterator age. A stream
# consumer is a throttled consumer when tagged, or when `consumer_source_kinds` adds its kind.
CONSUMER_KINDS = {"sqs"}


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
            # Caps stand in for an unset reservation, never for 0 (which stops every run).
            if (
                concurrency is ABSENT
                and config.get("accept_sqs_max_concurrency")
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
                    f"rate limit {figure(rate)}/s x {figure(duration)} ms needs "
                    f"{figure(needed)} concurrent "
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
