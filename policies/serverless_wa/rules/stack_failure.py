"""Stack-level rules on concurrency, failure handling, timeouts and tracing paths
(POLICY-RULES.md 3.15, STACK-003 to STACK-012).

Every check reads the shared graph: links come from property dependencies first, then from
known values (ARN, URL, name). An unknown value or a link that stays unresolved or ambiguous
never produces a finding.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from serverless_wa import asl
from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, as_list, known, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import (
    BUCKET_NOTIFICATION,
    DEFAULT_ASYNC_PRINCIPALS,
    EVENT_TARGET,
    IOT_RULE,
    LOG_SUBSCRIPTION,
    REDRIVE_POLICY,
    RESOURCE_POLICY,
    SCHEDULE,
    SUBSCRIPTION,
    async_functions,
    dlq_references,
    dlq_set,
)
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    INVOKE_CONFIG,
    KINESIS_CONSUMER,
    KINESIS_STREAM,
    MSK,
    PERMISSION,
    PIPE,
    QUEUE,
    REST_STAGE,
    ROLE,
    STATE_MACHINE,
    TABLE,
    TOPIC,
    V2_STAGE,
    arn,
    attached,
    mapping_function,
    reserved,
    shared_config,
    stack_case,
)
from serverless_wa.rules._iam import (
    ATTACHMENTS_EXCLUSIVE,
    POLICY,
    POLICY_ATTACHMENT,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    Statement,
    action_matches,
    allows,
    managed_policy_arns,
    resource_matches,
    role_documents,
    statements,
)

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
    return f"{value:g} s ({days:g} days)" if days >= 1 and days == int(days) else f"{value:g} s"


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


# STACK-003 ---------------------------------------------------------------------------------


def _account_concurrency_budget(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    limit = _setting(config, "account_concurrency_limit", 1000)
    budget = limit - UNRESERVED_MINIMUM - _setting(config, "reserved_elsewhere", 0)
    reserving: list[tuple[int, Node]] = []
    unknown: list[Node] = []
    for function in graph.of_type(FUNCTION):
        value = reserved(function)
        if value is UNKNOWN:
            unknown.append(function)
        elif isinstance(value, int) and value >= 1:
            reserving.append((value, function))
    total = sum(value for value, _ in reserving)
    if not reserving or total <= budget:
        return
    largest, subject = max(reserving, key=lambda pair: (pair[0], pair[1].name))
    left_out = f"; left out as unknown: {_names(unknown)}" if unknown else ""
    count = f"{len(reserving)} function{'s' if len(reserving) > 1 else ''}"
    yield Finding(
        f"reserved concurrency totals {total} over {count} (this one "
        f"reserves {largest}), above the {budget:g} the account limit leaves after the "
        f"{UNRESERVED_MINIMUM} unreserved executions AWS requires{left_out}",
        urn=subject.urn,
    )


register(
    Rule(
        id="STACK-003",
        name="account-concurrency-budget",
        title="Reserved concurrency fits the account's concurrency budget",
        description=(
            "The sum of reservedConcurrentExecutions over the stack's functions stays within "
            "account_concurrency_limit - 100 (AWS's unreserved minimum) - reserved_elsewhere."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(FUNCTION,),
        reads={FUNCTION: ("reservedConcurrentExecutions",)},
        anchors=anchors(),
        knob="reserved_concurrency",
        raw="reserved_concurrent_executions",
        check=_account_concurrency_budget,
        config=shared_config("account_concurrency_limit", "reserved_elsewhere"),
        remediation=(
            "Lower the reservations, or raise the account limit and set "
            "account_concurrency_limit. Raw: aws.lambda_.Function(..., "
            "reserved_concurrent_executions=N). Component: reserved_concurrency=N."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 450}),
                    Resource(FUNCTION, "b", {"reservedConcurrentExecutions": 450}),
                    Resource(FUNCTION, "c", {"reservedConcurrentExecutions": -1}),
                    Resource(FUNCTION, "d", {}),
                    subject="a",
                ),
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 2000}),
                    subject="a",
                    config={"account_concurrency_limit": 3000},
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 850}),
                    Resource(FUNCTION, "b", {"reservedConcurrentExecutions": 100}),
                    Resource(FUNCTION, "c", {}),
                    subject="a",
                ),
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 450}),
                    subject="a",
                    config={"reserved_elsewhere": 500},
                ),
            ),
        ),
    )
)


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


_FN_ARN = arn("lambda", "function:worker")
_DLQ_ARN = arn("sqs", "worker-dlq")

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


def _redrive(target: str) -> str:
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": 5})


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


# STACK-008 ---------------------------------------------------------------------------------

# AWS-managed policies that grant none of the send actions, so a role that holds only these
# (besides the stack's own documents) can be judged.
NARROW_MANAGED = frozenset(
    {
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaVPCAccessExecutionRole",
        "AWSLambdaDynamoDBExecutionRole",
        "AWSLambdaKinesisExecutionRole",
        "AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaMSKExecutionRole",
        "AWSXRayDaemonWriteAccess",
        "AWSXrayWriteOnlyAccess",
        "CloudWatchLambdaInsightsExecutionRolePolicy",
    }
)
SEND_ACTIONS = {
    "sqs": "sqs:SendMessage",
    "sns": "sns:Publish",
    "lambda": "lambda:InvokeFunction",
    "events": "events:PutEvents",
    "s3": "s3:PutObject",
}
DESTINATION_TYPES = (QUEUE, TOPIC, FUNCTION, EVENT_BUS, *BUCKETS)
_SERVICE_OF_TYPE = {QUEUE: "sqs", TOPIC: "sns", FUNCTION: "lambda", EVENT_BUS: "events"}
POLICY_SOURCES = (
    ROLE_POLICY,
    POLICY,
    ROLE_POLICY_ATTACHMENT,
    POLICY_ATTACHMENT,
    ATTACHMENTS_EXCLUSIVE,
)


def _service_of(destination: Node | None, value: Any) -> str | None:
    if destination is not None:
        return "s3" if destination.type in BUCKETS else _SERVICE_OF_TYPE.get(destination.type)
    if isinstance(value, str) and value.startswith("arn:"):
        service = value.split(":")[2] if value.count(":") >= 2 else ""
        return service if service in SEND_ACTIONS else None
    return None


def _function_role(graph: Graph, function: Node | None) -> Node | None:
    return _single(graph.refs(function, "role", (ROLE,))) if function is not None else None


def _role_failure_paths(
    graph: Graph,
) -> Iterator[tuple[Node, str, Any, Sequence[str], Node | None]]:
    """(owner, dependency key, destination value, destination types, role) of every
    failure path whose sender is a role."""
    for fn in graph.of_type(FUNCTION):
        role = _function_role(graph, fn)
        yield fn, "deadLetterConfig", fn.get("deadLetterConfig.targetArn"), (QUEUE, TOPIC), role
    for node in graph.of_type(INVOKE_CONFIG):
        role = _function_role(graph, _single(graph.refs(node, "functionName", (FUNCTION,))))
        value = node.get("destinationConfig.onFailure.destination")
        yield node, "destinationConfig", value, DESTINATION_TYPES, role
    for node in graph.of_type(ESM):
        role = _function_role(graph, mapping_function(graph, node))
        value = node.get("destinationConfig.onFailure.destinationArn")
        yield node, "destinationConfig", value, (QUEUE, TOPIC, *BUCKETS), role
    for node in graph.of_type(SCHEDULE):
        role = _link(graph, node, "target", (ROLE,), node.get("target.roleArn"))
        yield node, "target", node.get("target.deadLetterConfig.arn"), (QUEUE,), role
    for node in graph.of_type(PIPE):
        role = _single(graph.refs(node, "roleArn", (ROLE,)))
        params = node.get("sourceParameters")
        for block in params.values() if isinstance(params, Mapping) else []:
            dead_letter = block.get("deadLetterConfig") if isinstance(block, Mapping) else None
            if isinstance(dead_letter, Mapping) and "arn" in dead_letter:
                yield node, "sourceParameters", dead_letter["arn"], (QUEUE,), role


def _role_may_send(graph: Graph, role: Node, action: str, target: Any) -> bool | None:
    """Whether the role is allowed `action` on the destination ARN `target`; None when a
    policy source cannot be read (or the ARN is unknown and some grant might cover it)."""
    found, incomplete = role_documents(graph, role)
    if known(target) and isinstance(target, str):
        resource = f"{target}/*" if action == "s3:PutObject" else target
        if allows(found, action, resource):
            return True
    elif allows(found, action):
        return None  # a grant exists, but the destination's ARN is not known yet
    if incomplete or any(s.allow and s.not_actions for s in found):
        return None
    for value in managed_policy_arns(graph, role):
        narrow = isinstance(value, str) and value.rsplit("/", 1)[-1] in NARROW_MANAGED
        if not narrow and graph.find(value, (POLICY,)) is None:
            return None  # an unknown or AWS-managed policy might grant it
    return False


SERVICE_SENDERS = {EVENT_TARGET: "events.amazonaws.com", SUBSCRIPTION: "sns.amazonaws.com"}


def _service_failure_paths(graph: Graph) -> Iterator[tuple[Node, Node, str]]:
    """(sender, DLQ, service principal) for EventBridge target and SNS subscription DLQs."""
    for node in graph.of_type(EVENT_TARGET):
        dlq = _link(graph, node, "deadLetterConfig", (QUEUE,), node.get("deadLetterConfig.arn"))
        if dlq is not None:
            yield node, dlq, SERVICE_SENDERS[EVENT_TARGET]
    for node in graph.of_type(SUBSCRIPTION):
        redrive = parse_json(node.get("redrivePolicy"))
        target = redrive.get("deadLetterTargetArn") if isinstance(redrive, Mapping) else ABSENT
        if redrive is ABSENT:
            continue
        dlq = _link(graph, node, "redrivePolicy", (QUEUE,), target)
        if dlq is not None:
            yield node, dlq, SERVICE_SENDERS[SUBSCRIPTION]


def _grants_service(statement: Statement, service: str, queue_arn: Any) -> bool:
    if not statement.allow or not any(
        action_matches(a, "sqs:SendMessage") for a in statement.actions
    ):
        return False
    principal = statement.principal
    if principal == "*":
        pass
    elif isinstance(principal, Mapping):
        named = [*as_list(principal.get("Service")), *as_list(principal.get("AWS"))]
        if service not in named and "*" not in named:
            return False
    else:
        return False
    if isinstance(queue_arn, str) and known(queue_arn) and statement.resources:
        return any(resource_matches(r, queue_arn) for r in statement.resources)
    return True


def _scoped(statement: Statement) -> bool:
    return any(
        isinstance(block, Mapping) and any(str(k).lower() == "aws:sourcearn" for k in block)
        for block in statement.condition.values()
    )


def _queue_policy_verdict(
    queue: Node, policies: list[Node], unresolved: bool, service: str
) -> str | None:
    """`ok`, `unscoped` or `missing`; None when some policy cannot be read or placed."""
    documents = [parse_json(p.get("policy")) for p in policies]
    inline = queue.get("policy")
    if inline is not ABSENT and inline != "":  # outputs carry "" when there is none
        documents.append(parse_json(inline))
    grants: list[Statement] = []
    for document in documents:
        parsed = statements(document, queue)
        if parsed is None:
            return None
        grants += [s for s in parsed if _grants_service(s, service, queue.get("arn"))]
    if any(_scoped(s) for s in grants):
        return "ok"
    if grants:
        return "unscoped"
    return None if unresolved else "missing"


def _aws_managed_sqs_key(value: Any) -> bool:
    return isinstance(value, str) and (value == "alias/aws/sqs" or value.endswith(":alias/aws/sqs"))


def _failure_destination_writable(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for owner, prop, value, types, role in _role_failure_paths(graph):
        if role is None or value is ABSENT or (value is UNKNOWN and not owner.deps.get(prop)):
            continue
        destination = _link(graph, owner, prop, types, value)
        if destination is None and not known(value):
            continue
        action = SEND_ACTIONS.get(_service_of(destination, value) or "")
        target = destination.get("arn") if destination is not None else value
        if action is None or _role_may_send(graph, role, action, target) is not False:
            continue
        name = destination.name if destination is not None else str(value)
        yield Finding(
            f'its failure destination "{name}" is not writable: role "{role.name}" is not '
            f"allowed {action} on it, so failed events are dropped",
            urn=owner.urn,
            detail=name,
            fix=f"an aws.iam.RolePolicy on the sender role that allows {action}",
        )
    policies_by_queue, unresolved = attached(graph, QUEUE_POLICY, "queueUrl", (QUEUE,))
    seen: set[tuple[str, str]] = set()
    for sender, dlq, service in _service_failure_paths(graph):
        if (dlq.urn, service) in seen:
            continue
        seen.add((dlq.urn, service))
        fix = f"an aws.sqs.QueuePolicy statement that lets {service} send"
        verdict = _queue_policy_verdict(
            dlq, policies_by_queue.get(dlq.urn, []), unresolved, service
        )
        if verdict == "missing":
            yield Finding(
                f"no queue policy lets {service} send to this DLQ of {_short(sender.type)} "
                f'"{sender.name}", so failed events are dropped',
                urn=dlq.urn,
                detail=service,
                fix=fix,
            )
        elif verdict == "unscoped":
            yield Finding(
                f"the queue policy lets {service} send without an aws:SourceArn condition",
                urn=dlq.urn,
                detail=service,
                fix=fix,
            )
        if _aws_managed_sqs_key(dlq.get("kmsMasterKeyId")):
            yield Finding(
                f"DLQ is encrypted with the AWS-managed key alias/aws/sqs, which {service} "
                "cannot use",
                urn=dlq.urn,
                detail=f"{service} kms",
                fix="kms_master_key_id=<a customer-managed KMS key>",
            )


def _document(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


def _allow(action: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


_ROLE_ARN = "arn:aws:iam::123456789012:role/worker-role"
_RULE_ARN = arn("events", "rule/nightly")
_EVENTS_SEND = _allow(
    "sqs:SendMessage",
    "*",
    Principal={"Service": "events.amazonaws.com"},
    Condition={"ArnEquals": {"aws:SourceArn": _RULE_ARN}},
)

register(
    Rule(
        id="STACK-008",
        name="failure-destination-writable",
        title="Failure destinations are writable by whatever sends to them",
        description=(
            "Service senders (EventBridge target and SNS subscription DLQs) need a queue policy "
            "scoped by aws:SourceArn and no alias/aws/sqs key; role senders need the send action."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(
            QUEUE,
            QUEUE_POLICY,
            ROLE,
            *POLICY_SOURCES,
            EVENT_TARGET,
            SUBSCRIPTION,
            FUNCTION,
            ESM,
            INVOKE_CONFIG,
            SCHEDULE,
            PIPE,
        ),
        reads={
            QUEUE: ("arn", "policy", "kmsMasterKeyId"),
            QUEUE_POLICY: ("queueUrl", "policy"),
            ROLE: ("arn", "inlinePolicies", "managedPolicyArns"),
            ROLE_POLICY: ("role", "policy"),
            POLICY: ("arn", "policy"),
            ROLE_POLICY_ATTACHMENT: ("role", "policyArn"),
            POLICY_ATTACHMENT: ("roles", "policyArn"),
            ATTACHMENTS_EXCLUSIVE: ("roleName", "policyArns"),
            EVENT_TARGET: ("deadLetterConfig.arn",),
            SUBSCRIPTION: ("redrivePolicy",),
            FUNCTION: ("deadLetterConfig.targetArn", "role", "arn"),
            ESM: ("destinationConfig.onFailure.destinationArn", "functionName"),
            INVOKE_CONFIG: ("destinationConfig.onFailure.destination", "functionName"),
            SCHEDULE: ("target.deadLetterConfig.arn", "target.roleArn"),
            PIPE: ("sourceParameters", "roleArn"),
        },
        anchors=anchors(),
        knob="",
        raw="aws.sqs.QueuePolicy / aws.iam.RolePolicy",
        check=_failure_destination_writable,
        remediation=(
            "Service sender: aws.sqs.QueuePolicy(queue_url=dlq.url, policy=<Allow "
            "sqs:SendMessage to events.amazonaws.com with ArnEquals aws:SourceArn=rule.arn>). "
            "Role sender: aws.iam.RolePolicy(role=role.id, policy=<Allow sqs:SendMessage on "
            "dlq.arn>). Components do both when given dlq=..."
        ),
        examples=Examples(
            compliant=(
                stack_case(  # preview shape: EventBridge target DLQ with a scoped policy
                    Resource(QUEUE, "target-dlq", {}),
                    Resource(
                        EVENT_TARGET,
                        "target",
                        {"deadLetterConfig": {"arn": PENDING}},
                        depends={"deadLetterConfig": ("target-dlq",)},
                    ),
                    Resource(
                        QUEUE_POLICY,
                        "target-dlq-policy",
                        {"queueUrl": PENDING, "policy": _document(_EVENTS_SEND)},
                        depends={"queueUrl": ("target-dlq",)},
                    ),
                    subject="target-dlq",
                ),
                stack_case(  # fallback shape: a function DLQ its role may send to
                    Resource(QUEUE, "worker-dlq", {"arn": _DLQ_ARN}),
                    Resource(ROLE, "worker-role", {"arn": _ROLE_ARN, "name": "worker-role"}),
                    Resource(
                        ROLE_POLICY,
                        "worker-policy",
                        {
                            "role": "worker-role",
                            "policy": _document(_allow("sqs:SendMessage", _DLQ_ARN)),
                        },
                    ),
                    Resource(
                        FUNCTION,
                        "worker",
                        {"role": _ROLE_ARN, "deadLetterConfig": {"targetArn": _DLQ_ARN}},
                    ),
                    subject="worker",
                ),
                stack_case(  # a schedule's role, through a wildcard
                    Resource(QUEUE, "schedule-dlq", {"arn": _DLQ_ARN}),
                    Resource(
                        ROLE,
                        "schedule-role",
                        {
                            "arn": _ROLE_ARN,
                            "inlinePolicies": [
                                {
                                    "name": "send",
                                    "policy": _document(_allow("sqs:Send*", arn("sqs", "*-dlq"))),
                                }
                            ],
                        },
                    ),
                    Resource(
                        SCHEDULE,
                        "nightly",
                        {
                            "target": {
                                "arn": _FN_ARN,
                                "roleArn": _ROLE_ARN,
                                "deadLetterConfig": {"arn": _DLQ_ARN},
                            }
                        },
                    ),
                    subject="nightly",
                ),
            ),
            non_compliant=(
                stack_case(  # preview shape: the DLQ policy only denies insecure transport
                    Resource(QUEUE, "target-dlq", {}),
                    Resource(
                        EVENT_TARGET,
                        "target",
                        {"deadLetterConfig": {"arn": PENDING}},
                        depends={"deadLetterConfig": ("target-dlq",)},
                    ),
                    Resource(
                        QUEUE_POLICY,
                        "target-dlq-policy",
                        {
                            "queueUrl": PENDING,
                            "policy": _document(
                                {
                                    "Effect": "Deny",
                                    "Principal": "*",
                                    "Action": "sqs:*",
                                    "Resource": "*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            ),
                        },
                        depends={"queueUrl": ("target-dlq",)},
                    ),
                    subject="target-dlq",
                ),
                stack_case(  # fallback shape: SNS may send, but unscoped
                    Resource(
                        QUEUE,
                        "sub-dlq",
                        {
                            "arn": _DLQ_ARN,
                            "policy": _document(
                                _allow(
                                    "sqs:SendMessage",
                                    _DLQ_ARN,
                                    Principal={"Service": "sns.amazonaws.com"},
                                )
                            ),
                        },
                    ),
                    Resource(
                        SUBSCRIPTION,
                        "sub",
                        {"protocol": "lambda", "redrivePolicy": _redrive(_DLQ_ARN)},
                    ),
                    subject="sub-dlq",
                ),
                stack_case(  # the AWS-managed SQS key locks EventBridge out
                    Resource(QUEUE, "target-dlq", {"kmsMasterKeyId": "alias/aws/sqs"}),
                    Resource(
                        EVENT_TARGET,
                        "target",
                        {"deadLetterConfig": {"arn": PENDING}},
                        depends={"deadLetterConfig": ("target-dlq",)},
                    ),
                    Resource(
                        QUEUE_POLICY,
                        "target-dlq-policy",
                        {"queueUrl": PENDING, "policy": _document(_EVENTS_SEND)},
                        depends={"queueUrl": ("target-dlq",)},
                    ),
                    subject="target-dlq",
                ),
                stack_case(  # preview shape: the function role has no send grant at all
                    Resource(QUEUE, "worker-dlq", {}),
                    Resource(ROLE, "worker-role", {}),
                    Resource(
                        ROLE_POLICY,
                        "worker-policy",
                        {"policy": _document(_allow("dynamodb:PutItem", "*"))},
                        depends={"role": ("worker-role",)},
                    ),
                    Resource(
                        FUNCTION,
                        "worker",
                        {"deadLetterConfig": {"targetArn": PENDING}},
                        depends={"role": ("worker-role",), "deadLetterConfig": ("worker-dlq",)},
                    ),
                    subject="worker",
                ),
                stack_case(  # fallback shape: a mapping's destination topic, wrong grant
                    Resource(TOPIC, "failures", {"arn": arn("sns", "failures")}),
                    Resource(ROLE, "worker-role", {"arn": _ROLE_ARN, "name": "worker-role"}),
                    Resource(
                        ROLE_POLICY,
                        "worker-policy",
                        {
                            "role": "worker-role",
                            "policy": _document(_allow("sns:Publish", arn("sns", "other"))),
                        },
                    ),
                    Resource(FUNCTION, "worker", {"arn": _FN_ARN, "role": _ROLE_ARN}),
                    Resource(
                        ESM,
                        "mapping",
                        {
                            "eventSourceArn": arn("kinesis", "stream/clicks"),
                            "functionName": _FN_ARN,
                            "destinationConfig": {
                                "onFailure": {"destinationArn": arn("sns", "failures")}
                            },
                        },
                    ),
                    subject="mapping",
                ),
            ),
        ),
    )
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
                f"visibility timeout {visibility:g} s is below 6 x function timeout {timeout:g} s "
                f'+ batching window {window:g} s = {need:g} s (mapping "{mapping.name}"), so '
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
            f'timeout {timeout:g} s outlasts API integration "{integration.name}" '
            f"({limit / 1000:g} s), so clients get a 504 while the function keeps running",
            urn=function.urn,
            detail=integration.name,
        )


def _invoke_uri(function_arn: str) -> str:
    return (
        f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"
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


def _sfn_task_timeout_chain(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for machine in graph.of_type(STATE_MACHINE):
        for ref, function in _lambda_tasks(graph, machine):
            task_timeout = _number(ref.state.get("TimeoutSeconds", ABSENT))
            timeout = _lambda_timeout(function)
            if task_timeout is None or timeout is None or task_timeout >= timeout:
                continue
            yield Finding(
                f"Lambda task {ref.path} times out after {task_timeout:g} s, before function "
                f'"{function.name}" ({timeout:g} s), so it retries while the first call runs',
                urn=machine.urn,
                detail=ref.path,
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
    uri = "uri" if integration.type == REST_INTEGRATION else "integrationUri"
    extra = "requestTemplates" if integration.type == REST_INTEGRATION else "requestParameters"
    found = [t for t in integration.deps.get(uri, []) if t.type in INTEGRATION_TARGETS]
    found += [t for t in integration.deps.get(extra, []) if t.type == STATE_MACHINE]
    if not found and not integration.deps.get(uri):
        value = integration.get(uri)
        match = graph.find(value, (FUNCTION,)) if known(value) else None
        found = [match] if match is not None else []
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
_PASS_THROUGH = {"tracingConfig": {"mode": "PassThrough"}}

register(
    Rule(
        id="STACK-012",
        name="tracing-path-continuous",
        title="Every node on a traced invocation path traces",
        description=(
            "Along invocation edges (API integration, state machine task, topic subscription, "
            "mapping source, AppSync data source), a path with a traced node traces throughout."
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
            REST_INTEGRATION: ("restApi", "uri"),
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
                    Resource(REST_API, "api", {}),
                    Resource(
                        REST_STAGE,
                        "stage",
                        {"xrayTracingEnabled": True},
                        depends={"restApi": ("api",)},
                    ),
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
                    Resource(REST_API, "api", {}),
                    Resource(
                        REST_STAGE,
                        "stage",
                        {"xrayTracingEnabled": True},
                        depends={"restApi": ("api",)},
                    ),
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
                    Resource(REST_API, "api", {}),
                    Resource(
                        REST_STAGE,
                        "stage",
                        {"xrayTracingEnabled": True},
                        depends={"restApi": ("api",)},
                    ),
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
