"""Stack-level rules on event loops and stream readers: a stream
consumer that writes back filters its own writes (STACK-016), an S3 trigger never writes
where it is notified (STACK-017), and a table stream has at most two readers (STACK-018)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import UNKNOWN
from serverless_wa.registry import (
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
    PIPE,
    QUEUE,
    ROLE,
    STATE_MACHINE,
    TABLE,
    allow_policy,
    arn,
    mapping_function,
    source_kind,
    stack_case,
)
from serverless_wa.rules._iam import (
    ROLE_POLICY,
    action_matches,
    resource_matches,
    role_documents,
)

# STACK-016 ---------------------------------------------------------------------------------

WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "kinesis:PutRecord",
    "kinesis:PutRecords",
)
TABLE_OR_STREAM = ("aws:dynamodb/table:Table", "aws:kinesis/stream:Stream")


def _source_arn(graph: Graph, node: Node, prop: str) -> tuple[Node | None, str | None]:
    """(source table or stream, the ARN a writer would name) for a mapping or pipe."""
    value = node.get(prop)
    sources = graph.refs(node, prop, TABLE_OR_STREAM)
    if not sources and isinstance(value, str) and "/stream/" in value:
        sources = graph.refs(node, prop, TABLE_OR_STREAM, value.split("/stream/")[0])
    source = sources[0] if len(sources) == 1 else None
    target = source.get("arn") if source is not None else value
    if isinstance(target, str) and "/stream/" in target:
        target = target.split("/stream/")[0]
    return source, target if isinstance(target, str) else None


def _principals(graph: Graph, node: Node) -> list[Node]:
    if node.type == ESM:
        function = mapping_function(graph, node)
        return graph.refs(function, "role", (ROLE,)) if function else []
    roles = list(graph.refs(node, "roleArn", (ROLE,)))
    for target in graph.refs(node, "target", (FUNCTION, STATE_MACHINE)):
        roles += graph.refs(target, "role" if target.type == FUNCTION else "roleArn", (ROLE,))
    return roles


def _writes_back(graph: Graph, role: Node, arn_: str | None) -> bool | None:
    found, incomplete = role_documents(graph, role)
    for statement in found:
        if not statement.allow:
            continue
        if not any(action_matches(a, w) for a in statement.actions for w in WRITE_ACTIONS):
            continue
        for resource in statement.resources:
            if resource == "*" or (arn_ and resource_matches(resource, arn_)):
                return True
    return None if incomplete else False


def _stream_writeback_filtered(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    readers = [(m, "eventSourceArn", "filterCriteria.filters") for m in graph.of_type(ESM)]
    readers += [
        (p, "source", "sourceParameters.filterCriteria.filters") for p in graph.of_type(PIPE)
    ]
    for node, prop, filters_path in readers:
        kind = source_kind(graph, node, prop)
        if kind not in ("dynamodb", "kinesis"):
            continue
        filters = node.get(filters_path)
        if filters is UNKNOWN or (isinstance(filters, list) and filters):
            continue
        _, target = _source_arn(graph, node, prop)
        for role in _principals(graph, node):
            if _writes_back(graph, role, target):
                yield Finding(
                    f"reads a {kind} stream its role {role.name} can write to, with no filter "
                    "(add an event-name or marker-attribute filter against write-back loops)",
                    urn=node.urn,
                )
                break


register(
    Rule(
        id="STACK-016",
        name="stream-writeback-filtered",
        title="Stream consumers that can write to their source filter their events",
        description=(
            "A DynamoDB or Kinesis stream mapping or pipe whose principal can write to the "
            "source needs a non-empty filter list (recursion guard)."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(ESM, PIPE, *TABLE_OR_STREAM, ROLE, ROLE_POLICY, FUNCTION),
        reads={
            ESM: ("eventSourceArn", "functionName", "filterCriteria.filters"),
            PIPE: ("source", "roleArn", "target", "sourceParameters.filterCriteria.filters"),
            TABLE_OR_STREAM[0]: ("arn",),
            TABLE_OR_STREAM[1]: ("arn",),
            ROLE: ("inlinePolicies",),
            ROLE_POLICY: ("policy", "role"),
            FUNCTION: ("role",),
        },
        anchors=anchors(),
        knob="event_names / filter",
        raw="filter_criteria.filters",
        check=_stream_writeback_filtered,
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(TABLE_OR_STREAM[0], "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {"policy": allow_policy(["dynamodb:PutItem"], arn("dynamodb", "table/t"))},
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        ESM,
                        "mapping",
                        {"filterCriteria": {"filters": [{"pattern": '{"eventName": ["INSERT"]}'}]}},
                        depends={"eventSourceArn": ("table",), "functionName": ("fn",)},
                    ),
                    subject="mapping",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(TABLE_OR_STREAM[0], "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {
                            "policy": allow_policy(
                                ["dynamodb:UpdateItem"], arn("dynamodb", "table/t")
                            )
                        },
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        ESM,
                        "mapping",
                        {},
                        depends={"eventSourceArn": ("table",), "functionName": ("fn",)},
                    ),
                    subject="mapping",
                ),
            ),
        ),
    )
)


# STACK-017 ---------------------------------------------------------------------------------

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"


def _notified_functions(graph: Graph, notification: Node) -> list[tuple[Node, dict[str, Any]]]:
    """(function, the notification entry) for direct and queue-then-mapping triggers."""
    found: list[tuple[Node, dict[str, Any]]] = []
    entries = notification.get("lambdaFunctions")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            value = entry.get("lambdaFunctionArn")
            targets = graph.refs(notification, "lambdaFunctions", (FUNCTION,), value)
            if value is not UNKNOWN and len(targets) == 1:
                found.append((targets[0], entry))
    queues = notification.get("queues")
    for entry in queues if isinstance(queues, list) else []:
        if not isinstance(entry, dict):
            continue
        targets = graph.refs(notification, "queues", (QUEUE,), entry.get("queueArn"))
        if len(targets) != 1:
            continue
        for mapping in graph.memo("mappings-by-queue", _mappings_by_queue).get(targets[0].urn, []):
            function = mapping_function(graph, mapping)
            if function is not None:
                found.append((function, entry))
    return found


def _mappings_by_queue(graph: Graph) -> dict[str, list[Node]]:
    index: dict[str, list[Node]] = {}
    for mapping in graph.of_type(ESM):
        for queue in graph.refs(mapping, "eventSourceArn", (QUEUE,)):
            index.setdefault(queue.urn, []).append(mapping)
    return index


def _put_prefixes(graph: Graph, role: Node, bucket_arn: str) -> list[str] | None:
    """Key prefixes the role may s3:PutObject in the bucket ('' = anywhere); None unknown."""
    found, incomplete = role_documents(graph, role)
    prefixes = []
    for statement in found:
        if not statement.allow or not any(
            action_matches(a, "s3:PutObject") for a in statement.actions
        ):
            continue
        for resource in statement.resources:
            if resource == "*" or resource in (f"{bucket_arn}/*", f"{bucket_arn}*"):
                prefixes.append("")
            elif resource.startswith(f"{bucket_arn}/"):
                prefixes.append(resource[len(bucket_arn) + 1 :].rstrip("*"))
    return None if incomplete and not prefixes else prefixes


def _s3_trigger_no_self_write(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for notification in graph.of_type(NOTIFICATION):
        buckets = graph.refs(notification, "bucket", BUCKET_TYPES)
        bucket_arn = buckets[0].get("arn") if len(buckets) == 1 else None
        if not isinstance(bucket_arn, str):
            name = notification.get("bucket")
            bucket_arn = f"arn:aws:s3:::{name}" if isinstance(name, str) else None
        if bucket_arn is None:
            continue
        for function, entry in _notified_functions(graph, notification):
            for role in graph.refs(function, "role", (ROLE,)):
                prefixes = _put_prefixes(graph, role, bucket_arn)
                if not prefixes:
                    continue
                trigger = str(entry.get("filterPrefix") or "")
                suffix = entry.get("filterSuffix")
                if not trigger and not suffix:
                    yield Finding(
                        f"triggers {function.name}, which may write back to the same bucket, "
                        "with no filterPrefix or filterSuffix",
                        urn=notification.urn,
                    )
                elif trigger and any(
                    p.startswith(trigger) or trigger.startswith(p) for p in prefixes
                ):
                    yield Finding(
                        f"trigger prefix {trigger!r} overlaps where {function.name} may write",
                        urn=notification.urn,
                    )


register(
    Rule(
        id="STACK-017",
        name="s3-trigger-no-self-write",
        title="S3 triggers cannot fire on what their function writes back",
        description=(
            "A bucket notification to a function (directly or through SQS) whose role may "
            "PutObject into the same bucket needs a prefix/suffix filter that its writes miss."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(NOTIFICATION, *BUCKET_TYPES, FUNCTION, ROLE, ROLE_POLICY, ESM, QUEUE),
        reads={
            NOTIFICATION: ("bucket", "lambdaFunctions", "queues"),
            BUCKET_TYPES[0]: ("arn",),
            BUCKET_TYPES[1]: ("arn",),
            FUNCTION: ("role",),
            ROLE: ("inlinePolicies",),
            ROLE_POLICY: ("policy", "role"),
            ESM: ("eventSourceArn", "functionName"),
            QUEUE: ("arn",),
        },
        anchors=anchors(),
        knob="",
        raw="lambda_functions[].filter_prefix",
        check=_s3_trigger_no_self_write,
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(BUCKET_TYPES[0], "bucket", {"arn": "arn:aws:s3:::media"}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {"policy": allow_policy(["s3:PutObject"], "arn:aws:s3:::media/out/*")},
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        NOTIFICATION,
                        "notify",
                        {"lambdaFunctions": [{"lambdaFunctionArn": "x", "filterPrefix": "in/"}]},
                        depends={"bucket": ("bucket",), "lambdaFunctions": ("fn",)},
                    ),
                    subject="notify",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(BUCKET_TYPES[0], "bucket", {"arn": "arn:aws:s3:::media"}),
                    Resource(ROLE, "role", {}),
                    Resource(
                        ROLE_POLICY,
                        "grant",
                        {"policy": allow_policy(["s3:PutObject"], "arn:aws:s3:::media/*")},
                        depends={"role": ("role",)},
                    ),
                    Resource(FUNCTION, "fn", {}, depends={"role": ("role",)}),
                    Resource(
                        NOTIFICATION,
                        "notify",
                        {"lambdaFunctions": [{"lambdaFunctionArn": "x"}]},
                        depends={"bucket": ("bucket",), "lambdaFunctions": ("fn",)},
                    ),
                    subject="notify",
                ),
            ),
        ),
    )
)


# STACK-018 ---------------------------------------------------------------------------------


def _stream_reader_limit(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    limit = int(config.get("max_readers") or 2)
    readers: dict[str, list[Node]] = {}
    for node, prop in [(m, "eventSourceArn") for m in graph.of_type(ESM)] + [
        (p, "source") for p in graph.of_type(PIPE)
    ]:
        if source_kind(graph, node, prop) != "dynamodb":
            continue
        source, _ = _source_arn(graph, node, prop)
        if source is not None and source.type == TABLE:
            readers.setdefault(source.urn, []).append(node)
    for urn, nodes in readers.items():
        table = graph.by_urn(urn)
        if table is None:
            continue
        replicas = table.get("replicas")
        if replicas is UNKNOWN:
            continue  # the limit itself is not known
        allowed = 1 if isinstance(replicas, list) and replicas else limit
        if len(nodes) > allowed:
            names = ", ".join(sorted(n.name for n in nodes))
            yield Finding(
                f"its stream has {len(nodes)} readers ({names}); at most {allowed} per shard "
                "avoid throttling (fan out through one pipe into EventBridge)",
                urn=urn,
            )


register(
    Rule(
        id="STACK-018",
        name="dynamodb-stream-reader-limit",
        title="A DynamoDB stream has at most two readers",
        description="Lambda mappings plus pipes per table stream <= max_readers (1 with replicas).",
        severity="MEDIUM",
        pillar="PERF",
        scope="stack",
        types=(TABLE, ESM, PIPE),
        reads={TABLE: ("arn", "replicas"), ESM: ("eventSourceArn",), PIPE: ("source",)},
        anchors=anchors(),
        knob="",
        raw="event_source_arn",
        check=_stream_reader_limit,
        config={"max_readers": {"type": "integer", "default": 2}},
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(TABLE, "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ESM, "a", {}, depends={"eventSourceArn": ("table",)}),
                    Resource(PIPE, "b", {}, depends={"source": ("table",)}),
                    subject="table",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(TABLE, "table", {"arn": arn("dynamodb", "table/t")}),
                    Resource(ESM, "a", {}, depends={"eventSourceArn": ("table",)}),
                    Resource(ESM, "b", {}, depends={"eventSourceArn": ("table",)}),
                    Resource(PIPE, "c", {}, depends={"source": ("table",)}),
                    subject="table",
                ),
                stack_case(
                    Resource(
                        TABLE,
                        "table",
                        {
                            "arn": arn("dynamodb", "table/t"),
                            "replicas": [{"regionName": "us-east-1"}],
                        },
                    ),
                    Resource(
                        ESM,
                        "a",
                        {
                            "eventSourceArn": arn(
                                "dynamodb", "table/t/stream/2026-01-01T00:00:00.000"
                            )
                        },
                    ),
                    Resource(
                        ESM,
                        "b",
                        {
                            "eventSourceArn": arn(
                                "dynamodb", "table/t/stream/2026-01-01T00:00:00.000"
                            )
                        },
                    ),
                    subject="table",
                ),
            ),
        ),
    )
)
