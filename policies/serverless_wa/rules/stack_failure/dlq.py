"""STACK-005 to STACK-007: the dead-letter queues (retention, FIFO match, depth alarms)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, known
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import REDRIVE_POLICY, SUBSCRIPTION, dlq_references, dlq_set
from serverless_wa.rules._common import QUEUE, TOPIC, arn, stack_case
from serverless_wa.rules.stack_failure._shared import (
    _DLQ_ARN,
    DEFAULT_RETENTION_S,
    METRIC_ALARM,
    PENDING,
    _names,
    _number,
    _redrive,
    _seconds,
    _setting,
    _single,
)

# STACK-005 to STACK-007: the DLQ set -----------------------------------------------------


def _dlq_sources(graph: Graph) -> Iterator[tuple[Node, list[Node]]]:
    """Each queue in the DLQ set with the resources that send their failures to it."""
    references = dlq_references(graph)
    for urn in sorted(dlq_set(graph)):
        node = graph.by_urn(urn)
        if node is not None and node.type == QUEUE:
            yield node, references.get(urn, [])


def _retention(queue: Node) -> float | None:
    return _number(queue.get("messageRetentionSeconds"), DEFAULT_RETENTION_S)


def _dlq_retention(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    minimum = _setting(config, "min_dlq_retention_seconds", 1209600)
    for dlq, senders in _dlq_sources(graph):
        retention = _retention(dlq)
        if retention is None:
            continue
        if retention < minimum:
            yield Finding(
                f"DLQ keeps messages {_seconds(retention)}, less than the required "
                f"{_seconds(minimum)}",
                urn=dlq.urn,
            )
        for source in {s.urn: s for s in senders if s.type == QUEUE and s is not dlq}.values():
            source_retention = _retention(source)
            if source_retention is not None and retention <= source_retention:
                yield Finding(
                    f"DLQ retention {_seconds(retention)} is not longer than that of its "
                    f'source queue "{source.name}" ({_seconds(source_retention)}), so '
                    "redriven messages expire early",
                    urn=dlq.urn,
                    detail=source.name,
                )


_SOURCE_ARN = arn("sqs", "jobs")
_JOBS_DLQ_ARN = arn("sqs", "jobs-dlq")


register(
    Rule(
        id="STACK-005",
        name="dlq-retention",
        title="DLQs keep messages long enough, and longer than their source queues",
        description=(
            "Each queue in the DLQ set has messageRetentionSeconds (absent = 345600) at least "
            "min_dlq_retention_seconds and longer than every source queue's retention."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="stack",
        types=(QUEUE, REDRIVE_POLICY),
        reads={
            QUEUE: (
                "messageRetentionSeconds",
                "redrivePolicy",
                "redriveAllowPolicy",
                "tags",
                "tagsAll",
                "arn",
            ),
            REDRIVE_POLICY: ("queueUrl", "redrivePolicy"),
        },
        anchors=anchors(),
        knob="retention_s",
        raw="message_retention_seconds",
        check=_dlq_retention,
        config={"min_dlq_retention_seconds": {"type": "integer", "default": 1209600}},
        remediation=(
            "Raw: aws.sqs.Queue(..., message_retention_seconds=1209600) for the DLQ, longer "
            "than the source's. Component: DLQs keep 14 days; QueueSpec(retention_s=...) sets the "
            "source's."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape
                    Resource(QUEUE, "jobs-dlq", {"messageRetentionSeconds": 1209600}),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"redrivePolicy": PENDING},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs-dlq",
                ),
                stack_case(  # fallback shape, through a RedrivePolicy resource
                    Resource(
                        QUEUE,
                        "jobs-dlq",
                        {"arn": _JOBS_DLQ_ARN, "messageRetentionSeconds": 1209600},
                    ),
                    Resource(QUEUE, "jobs", {"arn": _SOURCE_ARN, "url": "https://sqs/jobs"}),
                    Resource(
                        REDRIVE_POLICY,
                        "jobs-redrive",
                        {"queueUrl": "https://sqs/jobs", "redrivePolicy": _redrive(_JOBS_DLQ_ARN)},
                    ),
                    subject="jobs-dlq",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape: retention absent (4 days)
                    Resource(QUEUE, "jobs-dlq", {}),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"redrivePolicy": PENDING},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs-dlq",
                ),
                stack_case(  # set to the default
                    Resource(QUEUE, "jobs-dlq", {"messageRetentionSeconds": DEFAULT_RETENTION_S}),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"redrivePolicy": PENDING},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs-dlq",
                ),
                stack_case(  # fallback shape: not longer than the source
                    Resource(
                        QUEUE,
                        "jobs-dlq",
                        {"arn": _JOBS_DLQ_ARN, "messageRetentionSeconds": 1209600},
                    ),
                    Resource(
                        QUEUE,
                        "jobs",
                        {
                            "arn": _SOURCE_ARN,
                            "messageRetentionSeconds": 1209600,
                            "redrivePolicy": _redrive(_JOBS_DLQ_ARN),
                        },
                    ),
                    subject="jobs-dlq",
                ),
                stack_case(  # a DLQ for something outside the stack
                    Resource(
                        QUEUE,
                        "external-dlq",
                        {"messageRetentionSeconds": 86400, "tags": {"wa:dlq": "true"}},
                    ),
                    subject="external-dlq",
                ),
            ),
        ),
    )
)


def _fifo(value: Any) -> bool | None:
    """`fifoQueue`/`fifoTopic` (absent = false); None when unknown or odd."""
    if value is ABSENT:
        return False
    return value if isinstance(value, bool) else None


def _source_fifo(graph: Graph, source: Node) -> tuple[bool | None, str]:
    """Whether a DLQ's source is FIFO, and what the source is."""
    if source.type == QUEUE:
        return _fifo(source.get("fifoQueue")), "queue"
    if source.type == SUBSCRIPTION:
        topic = _single(graph.refs(source, "topic", (TOPIC,)))
        if topic is not None:
            return _fifo(topic.get("fifoTopic")), "topic subscription"
        name = source.get("topic")
        if isinstance(name, str) and name.startswith("arn:"):
            return name.endswith(".fifo"), "topic subscription"
    return None, ""


def _dlq_fifo_match(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for dlq, senders in _dlq_sources(graph):
        dlq_fifo = _fifo(dlq.get("fifoQueue"))
        if dlq_fifo is None:
            continue
        for source in {s.urn: s for s in senders if s is not dlq}.values():
            source_fifo, what = _source_fifo(graph, source)
            if source_fifo is None or source_fifo == dlq_fifo:
                continue
            kinds = ("FIFO", "standard") if source_fifo else ("standard", "FIFO")
            yield Finding(
                f'{kinds[0]} {what} sends failures to {kinds[1]} DLQ "{dlq.name}"; AWS needs '
                "both of the same type",
                urn=source.urn,
                detail=dlq.name,
            )


_TOPIC_ARN = arn("sns", "orders.fifo")

register(
    Rule(
        id="STACK-006",
        name="dlq-fifo-match",
        title="FIFO sources use FIFO DLQs and standard sources standard ones",
        description=(
            "A FIFO queue or a subscription to a FIFO topic redrives to a FIFO DLQ; a standard "
            "source to a standard DLQ."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="stack",
        types=(QUEUE, REDRIVE_POLICY, TOPIC, SUBSCRIPTION),
        reads={
            QUEUE: ("fifoQueue", "redrivePolicy", "arn"),
            REDRIVE_POLICY: ("queueUrl", "redrivePolicy"),
            TOPIC: ("fifoTopic", "arn"),
            SUBSCRIPTION: ("topic", "redrivePolicy"),
        },
        anchors=anchors(),
        knob="",
        raw="fifo_queue",
        check=_dlq_fifo_match,
        remediation=(
            "Raw: aws.sqs.Queue('dlq', fifo_queue=True, name='<name>.fifo') as the DLQ of a "
            "FIFO source (and a standard queue for a standard source). Component: dlq."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape
                    Resource(QUEUE, "jobs-dlq", {"fifoQueue": True}),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"fifoQueue": True, "redrivePolicy": PENDING},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs",
                ),
                stack_case(  # fallback shape: standard topic, standard DLQ (absent flag)
                    Resource(QUEUE, "sub-dlq", {"arn": _DLQ_ARN}),
                    Resource(TOPIC, "events", {"arn": arn("sns", "events")}),
                    Resource(
                        SUBSCRIPTION,
                        "sub",
                        {"topic": arn("sns", "events"), "redrivePolicy": _redrive(_DLQ_ARN)},
                    ),
                    subject="sub",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape: FIFO queue, standard DLQ
                    Resource(QUEUE, "jobs-dlq", {}),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"fifoQueue": True, "redrivePolicy": PENDING},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs",
                ),
                stack_case(  # fallback shape: FIFO topic subscription, standard DLQ
                    Resource(QUEUE, "sub-dlq", {"arn": _DLQ_ARN, "fifoQueue": False}),
                    Resource(TOPIC, "orders", {"arn": _TOPIC_ARN, "fifoTopic": True}),
                    Resource(
                        SUBSCRIPTION,
                        "sub",
                        {"topic": _TOPIC_ARN, "redrivePolicy": _redrive(_DLQ_ARN)},
                    ),
                    subject="sub",
                ),
                stack_case(  # standard queue, FIFO DLQ, through a RedrivePolicy resource
                    Resource(QUEUE, "jobs-dlq", {"fifoQueue": True}),
                    Resource(QUEUE, "jobs", {}),
                    Resource(
                        REDRIVE_POLICY,
                        "jobs-redrive",
                        {"redrivePolicy": PENDING},
                        depends={"queueUrl": ("jobs",), "redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs",
                ),
            ),
        ),
    )
)


DEPTH_METRIC = ("AWS/SQS", "ApproximateNumberOfMessagesVisible")


def _metric_specs(alarm: Node) -> Iterator[tuple[Any, Any, Any, str]]:
    """(namespace, metric name, dimensions, dependency key) of the alarm's plain metric
    and of each metric inside `metricQueries`."""
    if known(alarm.get("metricName")) or alarm.get("metricName") is UNKNOWN:
        yield alarm.get("namespace"), alarm.get("metricName"), alarm.get("dimensions"), "dimensions"
    queries = alarm.get("metricQueries")
    if queries is UNKNOWN:
        yield UNKNOWN, UNKNOWN, UNKNOWN, "metricQueries"
    for query in queries if isinstance(queries, list) else []:
        metric = query.get("metric") if isinstance(query, Mapping) else None
        if isinstance(metric, Mapping):
            yield (
                metric.get("namespace", ABSENT),
                metric.get("metricName", ABSENT),
                metric.get("dimensions", ABSENT),
                "metricQueries",
            )
        elif metric is UNKNOWN:
            yield UNKNOWN, UNKNOWN, UNKNOWN, "metricQueries"


def _has_actions(alarm: Node) -> bool:
    actions = alarm.get("alarmActions")
    return actions is UNKNOWN or (isinstance(actions, list) and len(actions) > 0)


def _depth_alarm_index(graph: Graph) -> dict[str, Any]:
    """Depth alarms once per graph: by linked queue URN, by QueueName value, and the alarms
    that could watch any queue (unknown metric or dimension), as `_watches` decides them."""
    linked: dict[str, list[Node]] = {}
    by_name: dict[str, list[Node]] = {}
    undecided = False
    named = False
    for alarm in graph.of_type(METRIC_ALARM):
        for namespace, metric, dimensions, key in _metric_specs(alarm):
            if (known(namespace) and namespace != DEPTH_METRIC[0]) or (
                known(metric) and metric != DEPTH_METRIC[1]
            ):
                continue
            if not (known(namespace) and known(metric)):
                undecided = True
                continue
            queues = [n for n in alarm.deps.get(key, []) if n.type == QUEUE]
            if queues:
                for queue in queues:
                    linked.setdefault(queue.urn, []).append(alarm)
                continue
            name = (
                dimensions.get("QueueName", ABSENT) if isinstance(dimensions, Mapping) else ABSENT
            )
            if dimensions is UNKNOWN or name is UNKNOWN:
                undecided = True
            elif known(name):
                named = True
                by_name.setdefault(str(name), []).append(alarm)
    return {"linked": linked, "by_name": by_name, "undecided": undecided, "named": named}


def _dlq_depth_alarm(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    if config.get("alarms_external") is True:
        return
    require_actions = config.get("require_alarm_actions", True) is not False
    index = graph.memo("dlq-depth-alarms", _depth_alarm_index)
    for dlq, _ in _dlq_sources(graph):
        own = dlq.get("name")
        watching = {a.urn: a for a in index["linked"].get(dlq.urn, [])}
        if known(own):
            watching.update({a.urn: a for a in index["by_name"].get(str(own), [])})
        if not watching:
            if index["undecided"] or (not known(own) and index["named"]):
                continue
            yield Finding(
                "DLQ has no alarm on AWS/SQS ApproximateNumberOfMessagesVisible, so failed "
                "messages pile up unnoticed",
                urn=dlq.urn,
            )
        elif require_actions and not any(_has_actions(a) for a in watching.values()):
            yield Finding(
                f'DLQ depth alarm "{_names(list(watching.values()))}" has no alarmActions, '
                "so nobody is told",
                urn=dlq.urn,
                fix="alarm_actions (raw: alarm_actions)",
            )


def _depth_alarm(name: str, props: dict[str, Any], **depends: tuple[str, ...]) -> Resource:
    base = {"namespace": DEPTH_METRIC[0], "metricName": DEPTH_METRIC[1]}
    return Resource(METRIC_ALARM, name, {**base, **props}, depends=depends)


register(
    Rule(
        id="STACK-007",
        name="dlq-depth-alarm",
        title="Every DLQ has a depth alarm that notifies someone",
        description=(
            "Each queue in the DLQ set has an AWS/SQS ApproximateNumberOfMessagesVisible alarm "
            "on its QueueName (plain metric or in metricQueries) with non-empty alarmActions."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="stack",
        types=(QUEUE, METRIC_ALARM),
        reads={
            QUEUE: ("name", "redrivePolicy", "redriveAllowPolicy", "tags", "tagsAll"),
            METRIC_ALARM: (
                "namespace",
                "metricName",
                "dimensions",
                "metricQueries",
                "alarmActions",
            ),
        },
        anchors=anchors(),
        knob="alarm_actions",
        raw="aws.cloudwatch.MetricAlarm(dimensions={'QueueName': dlq.name}, alarm_actions)",
        check=_dlq_depth_alarm,
        config={
            "require_alarm_actions": {"type": "boolean", "default": True},
            "alarms_external": {"type": "boolean", "default": False},
        },
        remediation=(
            "Raw: aws.cloudwatch.MetricAlarm(namespace='AWS/SQS', "
            "metric_name='ApproximateNumberOfMessagesVisible', dimensions={'QueueName': "
            "dlq.name}, threshold=0, comparison_operator='GreaterThanThreshold', "
            "alarm_actions=[topic.arn]). Component: every DLQ has a depth alarm that notifies "
            "stack config `alarmTopicArn` (Settings.alarm_actions)."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape: the dimension and the action are unknown
                    Resource(TOPIC, "alarms", {}),
                    Resource(QUEUE, "jobs-dlq", {}),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"redrivePolicy": PENDING},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    _depth_alarm(
                        "depth",
                        {"dimensions": {"QueueName": PENDING}, "alarmActions": [PENDING]},
                        dimensions=("jobs-dlq",),
                        alarmActions=("alarms",),
                    ),
                    subject="jobs-dlq",
                ),
                stack_case(  # fallback shape: matched by QueueName, inside metricQueries
                    Resource(QUEUE, "jobs-dlq", {"name": "jobs-dlq", "tags": {"wa:dlq": "true"}}),
                    Resource(
                        METRIC_ALARM,
                        "depth",
                        {
                            "metricQueries": [
                                {
                                    "id": "m1",
                                    "metric": {
                                        "namespace": DEPTH_METRIC[0],
                                        "metricName": DEPTH_METRIC[1],
                                        "dimensions": {"QueueName": "jobs-dlq"},
                                        "period": 60,
                                        "stat": "Maximum",
                                    },
                                }
                            ],
                            "alarmActions": [arn("sns", "alarms")],
                        },
                    ),
                    subject="jobs-dlq",
                ),
                stack_case(
                    Resource(QUEUE, "jobs-dlq", {"tags": {"wa:dlq": "true"}}),
                    subject="jobs-dlq",
                    config={"alarms_external": True},
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape: only an age alarm on the DLQ
                    Resource(QUEUE, "jobs-dlq", {}),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"redrivePolicy": PENDING},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    Resource(
                        METRIC_ALARM,
                        "age",
                        {
                            "namespace": "AWS/SQS",
                            "metricName": "ApproximateAgeOfOldestMessage",
                            "dimensions": {"QueueName": PENDING},
                            "alarmActions": [PENDING],
                        },
                        depends={"dimensions": ("jobs-dlq",)},
                    ),
                    subject="jobs-dlq",
                ),
                stack_case(  # fallback shape: the depth alarm tells nobody
                    Resource(QUEUE, "jobs-dlq", {"arn": _JOBS_DLQ_ARN, "name": "jobs-dlq"}),
                    Resource(QUEUE, "jobs", {"redrivePolicy": _redrive(_JOBS_DLQ_ARN)}),
                    _depth_alarm("depth", {"dimensions": {"QueueName": "jobs-dlq"}}),
                    subject="jobs-dlq",
                ),
            ),
        ),
    )
)
