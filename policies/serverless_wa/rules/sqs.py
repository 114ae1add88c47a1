"""SQS rules."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import EVENT_TARGET, REDRIVE_POLICY, dlq_set
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    QUEUE,
    arn,
    attached,
    case,
    stack_case,
)
from serverless_wa.rules._iam import denies_insecure_transport, public_grants, statements

QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
MIN_RECEIVE_COUNT = 5


def queue_url(name: str) -> str:
    return f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"


def _queue(name: str, **props: Any) -> Resource:
    """A queue with known identities (the fallback shape matches them)."""
    return Resource(QUEUE, name, {"arn": arn("sqs", name), "url": queue_url(name), **props})


def _redrive(target: str, count: int | None = 5) -> str:
    document: dict[str, Any] = {"deadLetterTargetArn": arn("sqs", target)}
    if count is not None:
        document["maxReceiveCount"] = count
    return json.dumps(document)


def _document(node: Node, prop: str) -> Any:
    """A JSON-string property parsed; an empty string (an unset output) counts as absent."""
    value = node.get(prop)
    return ABSENT if value == "" else parse_json(value)


def effective_documents(
    node: Node, splits: Mapping[str, list[Node]], split_prop: str, inline_prop: str
) -> list[Any]:
    """The split resources' documents when there are any, else the inline one (if set)."""
    documents = [_document(s, split_prop) for s in splits.get(node.urn, [])]
    if not documents:
        documents = [_document(node, inline_prop)]
    return [d for d in documents if d is not ABSENT]


def _redrive_documents(graph: Graph) -> tuple[dict[str, list[Any]], bool]:
    """Queue URN -> its effective redrive documents; whether a RedrivePolicy is unresolved."""
    splits, unresolved = attached(graph, REDRIVE_POLICY, "queueUrl", (QUEUE,))
    documents = {
        queue.urn: effective_documents(queue, splits, "redrivePolicy", "redrivePolicy")
        for queue in graph.of_type(QUEUE)
    }
    return documents, unresolved


# SQS-001 ------------------------------------------------------------------------------------


def _redrive_policy(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    dlqs = dlq_set(graph)
    documents, unresolved = _redrive_documents(graph)
    for queue in graph.of_type(QUEUE):
        if queue.urn in dlqs:
            continue
        found = documents[queue.urn]
        if not found:
            if not unresolved:
                yield Finding(
                    "queue has no redrive policy and is not a dead-letter queue of anything "
                    "in this stack",
                    urn=queue.urn,
                )
            continue
        if not all(isinstance(d, Mapping) for d in found):
            continue  # unknown at preview, or not JSON: never a finding
        missing = [
            key
            for key in ("deadLetterTargetArn", "maxReceiveCount")
            if not any(d.get(key) not in (None, "") for d in found)
        ]
        if missing:
            yield Finding(f"redrive policy has no {' or '.join(missing)}", urn=queue.urn)


register(
    Rule(
        id="SQS-001",
        name="sqs-redrive-policy",
        title="Queues that are not dead-letter queues redrive to a DLQ",
        description=(
            "Every queue outside the DLQ set has a redrive policy (inline redrivePolicy or an "
            "aws.sqs.RedrivePolicy) with deadLetterTargetArn and maxReceiveCount. A queue "
            "that is the DLQ of anything (a queue, a target, a function...) is exempt."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(QUEUE, REDRIVE_POLICY),
        reads={
            QUEUE: ("redrivePolicy", "redriveAllowPolicy", "tags", "tagsAll", "arn", "url"),
            REDRIVE_POLICY: ("queueUrl", "redrivePolicy"),
        },
        anchors=anchors(
            serverless_rules="ES6000",
            cdk_nag="Serverless-SQSRedrivePolicy, AwsSolutions-SQS3",
        ),
        knob="max_receive_count",
        raw="redrive_policy",
        remediation=(
            "Raw: aws.sqs.Queue(..., redrive_policy=dlq.arn.apply(lambda a: json.dumps("
            '{"deadLetterTargetArn": a, "maxReceiveCount": 5}))). '
            "Component: DurableQueue(scope, suffix, QueueSpec(..., max_receive_count=5)) "
            "creates the DLQ and the redrive policy."
        ),
        check=_redrive_policy,
        examples=Examples(
            compliant=(
                stack_case(
                    _queue("jobs-dlq"),
                    Resource(
                        QUEUE,
                        "jobs",
                        {"redrivePolicy": _redrive("jobs-dlq")},
                        depends={"redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs",
                ),
                # Fallback shape: known ARNs, no dependencies.
                stack_case(
                    _queue("jobs-dlq"),
                    _queue("jobs", redrivePolicy=_redrive("jobs-dlq")),
                    subject="jobs",
                ),
                # A split RedrivePolicy satisfies the rule like the inline property.
                stack_case(
                    _queue("jobs-dlq"),
                    _queue("jobs"),
                    Resource(
                        REDRIVE_POLICY,
                        "jobs-redrive",
                        {"queueUrl": queue_url("jobs"), "redrivePolicy": _redrive("jobs-dlq")},
                        depends={"queueUrl": ("jobs",), "redrivePolicy": ("jobs-dlq",)},
                    ),
                    subject="jobs",
                ),
                stack_case(_queue("external-dlq", tags={"wa:dlq": "true"}), subject="external-dlq"),
            ),
            non_compliant=(
                stack_case(_queue("jobs"), subject="jobs"),
                stack_case(
                    _queue("jobs-dlq"),
                    _queue("jobs", redrivePolicy=_redrive("jobs-dlq", count=None)),
                    subject="jobs",
                ),
                # Fallback shape: the target's DLQ is another queue, matched by ARN.
                stack_case(
                    _queue("target-dlq"),
                    _queue("jobs"),
                    Resource(
                        EVENT_TARGET,
                        "target",
                        {
                            "arn": arn("sqs", "jobs"),
                            "deadLetterConfig": {"arn": arn("sqs", "target-dlq")},
                        },
                    ),
                    subject="jobs",
                ),
            ),
        ),
    )
)


# SQS-002 ------------------------------------------------------------------------------------


def _encryption(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    sse = node.get("sqsManagedSseEnabled")
    key = node.get("kmsMasterKeyId")
    if sse is False and (key is ABSENT or key == ""):
        yield Finding("sqsManagedSseEnabled is false and no kmsMasterKeyId is set (unencrypted)")


register(
    Rule(
        id="SQS-002",
        name="sqs-encryption",
        title="Queues are encrypted at rest",
        description=(
            "A finding only when sqsManagedSseEnabled is false and kmsMasterKeyId is absent; "
            "absent means SSE-SQS, which AWS turns on for new queues."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(QUEUE,),
        reads={QUEUE: ("sqsManagedSseEnabled", "kmsMasterKeyId")},
        anchors=anchors(cdk_nag="AwsSolutions-SQS2", checkov="CKV_AWS_27"),
        knob="",
        raw="sqs_managed_sse_enabled=True / kms_master_key_id",
        remediation="Raw: aws.sqs.Queue(..., sqs_managed_sse_enabled=True).",
        check=_encryption,
        examples=Examples(
            compliant=(
                case(QUEUE, {}),
                case(QUEUE, {"sqsManagedSseEnabled": True}),
                case(QUEUE, {"sqsManagedSseEnabled": False, "kmsMasterKeyId": "alias/jobs"}),
            ),
            non_compliant=(case(QUEUE, {"sqsManagedSseEnabled": False}),),
        ),
    )
)


# SQS-003 ------------------------------------------------------------------------------------


def policy_not_public(node: Node, service: str) -> Iterator[Finding]:
    """SQS-003 and SNS-004: the resource policy in `policy` opens nothing to the world."""
    parsed = statements(_document(node, "policy"), node)
    for statement, problem in public_grants(parsed or [], service):
        yield Finding(f"policy statement {statement.label} {problem}", detail=statement.label)


def _sqs_policy_not_public(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    yield from policy_not_public(node, "sqs")


def _policy(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sqs:*",
    "Resource": arn("sqs", "jobs"),
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
SEND_FROM_RULE = {
    "Sid": "AllowEvents",
    "Effect": "Allow",
    "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sqs:SendMessage",
    "Resource": arn("sqs", "jobs"),
    "Condition": {"ArnEquals": {"aws:SourceArn": arn("events", "rule/nightly")}},
}

register(
    Rule(
        id="SQS-003",
        name="sqs-policy-not-public",
        title="Queue policies are not public",
        description=(
            "No Allow statement with Principal * (or AWS *) lacks an aws:SourceArn, "
            "aws:SourceAccount, aws:PrincipalOrgID or aws:SourceVpce condition; service "
            "principals need aws:SourceArn; no Allow of * or sqs:*."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(QUEUE_POLICY, QUEUE),
        reads={QUEUE_POLICY: ("policy",), QUEUE: ("policy",)},
        anchors=anchors(checkov="CKV_AWS_72, CKV_AWS_168, CKV_AWS_387"),
        knob="",
        raw="policy",
        remediation=(
            "Raw: scope each Allow with a Condition such as "
            '{"ArnEquals": {"aws:SourceArn": rule.arn}} and name the actions '
            "(sqs:SendMessage). Component: DeadLetterQueue(..., service_senders=[(service, "
            "source_arn)]) writes pinned statements."
        ),
        check=_sqs_policy_not_public,
        examples=Examples(
            compliant=(
                case(QUEUE_POLICY, {"policy": _policy(TLS_DENY, SEND_FROM_RULE)}),
                case(
                    QUEUE,
                    {
                        "policy": _policy(
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "*"},
                                "Action": ["sqs:SendMessage"],
                                "Resource": arn("sqs", "jobs"),
                                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
                            }
                        )
                    },
                ),
                case(QUEUE, {}),
            ),
            non_compliant=(
                case(
                    QUEUE_POLICY,
                    {
                        "policy": _policy(
                            TLS_DENY,
                            {
                                "Effect": "Allow",
                                "Principal": "*",
                                "Action": "sqs:SendMessage",
                                "Resource": "*",
                            },
                        )
                    },
                ),
                case(
                    QUEUE,
                    {
                        "policy": _policy(
                            {
                                "Sid": "Everything",
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                "Action": "sqs:*",
                                "Resource": arn("sqs", "jobs"),
                            }
                        )
                    },
                ),
                case(
                    QUEUE_POLICY,
                    {"policy": _policy({**SEND_FROM_RULE, "Condition": {}})},
                ),
            ),
        ),
    )
)


# SQS-004 ------------------------------------------------------------------------------------


def tls_only(
    graph: Graph, owner_type: str, split_type: str, split_prop: str, action: str
) -> Iterator[Finding]:
    """SQS-004 and SNS-005: the effective policy (split resources, else the inline `policy`)
    denies `action` to every principal when aws:SecureTransport is false."""
    noun = owner_type.rsplit(":", 1)[-1].lower()
    splits, unresolved = attached(graph, split_type, split_prop, (owner_type,))
    for owner in graph.of_type(owner_type):
        documents = effective_documents(owner, splits, "policy", "policy")
        if not documents:
            if not unresolved:
                yield Finding(
                    f"{noun} has no policy, so nothing denies requests without TLS", urn=owner.urn
                )
            continue
        parsed = [statements(d, owner) for d in documents]
        if any(p is None for p in parsed):
            continue  # unknown at preview, or not JSON
        if not any(denies_insecure_transport(p or [], action) for p in parsed):
            yield Finding(
                f"{noun} policy does not deny {action} to every principal when "
                "aws:SecureTransport is false",
                urn=owner.urn,
            )


def _sqs_tls_only(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    yield from tls_only(graph, QUEUE, QUEUE_POLICY, "queueUrl", "sqs:*")


register(
    Rule(
        id="SQS-004",
        name="sqs-tls-only",
        title="Queue policies deny requests without TLS",
        description=(
            "The effective queue policy (QueuePolicy, else the inline policy) denies every "
            "principal all SQS actions when aws:SecureTransport is false. No policy at all is "
            "a finding."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(QUEUE, QUEUE_POLICY),
        reads={QUEUE: ("policy", "url"), QUEUE_POLICY: ("policy", "queueUrl")},
        anchors=anchors(cdk_nag="AwsSolutions-SQS4"),
        knob="",
        raw="aws.sqs.QueuePolicy policy with a Deny on aws:SecureTransport=false",
        remediation=(
            "Raw: aws.sqs.QueuePolicy(..., queue_url=queue.url, policy=tls_only_policy("
            "queue.arn)) from components.core.queue (Deny sqs:* to * when "
            "aws:SecureTransport is false)."
        ),
        check=_sqs_tls_only,
        examples=Examples(
            compliant=(
                stack_case(
                    _queue("jobs"),
                    Resource(
                        QUEUE_POLICY,
                        "jobs-policy",
                        {"queueUrl": queue_url("jobs"), "policy": _policy(TLS_DENY)},
                        depends={"queueUrl": ("jobs",)},
                    ),
                    subject="jobs",
                ),
                # Fallback shape: the QueuePolicy found by the queue's URL.
                stack_case(
                    _queue("jobs"),
                    Resource(
                        QUEUE_POLICY,
                        "jobs-policy",
                        {"queueUrl": queue_url("jobs"), "policy": _policy(TLS_DENY)},
                    ),
                    subject="jobs",
                ),
                stack_case(_queue("jobs", policy=_policy(TLS_DENY)), subject="jobs"),
            ),
            non_compliant=(
                stack_case(_queue("jobs"), subject="jobs"),
                stack_case(
                    _queue("jobs"),
                    Resource(
                        QUEUE_POLICY,
                        "jobs-policy",
                        {"queueUrl": queue_url("jobs"), "policy": _policy(SEND_FROM_RULE)},
                        depends={"queueUrl": ("jobs",)},
                    ),
                    subject="jobs",
                ),
                stack_case(
                    _queue("jobs"),
                    Resource(
                        QUEUE_POLICY,
                        "jobs-policy",
                        {
                            "queueUrl": queue_url("jobs"),
                            "policy": _policy({**TLS_DENY, "Action": "sqs:SendMessage"}),
                        },
                    ),
                    subject="jobs",
                ),
            ),
        ),
    )
)


# SQS-005 ------------------------------------------------------------------------------------


def _count(value: Any) -> int | None:
    """maxReceiveCount as an int (JSON documents hold it as a number or a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _consumer_receive_count(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    minimum = _count(config.get("min_receive_count"))
    minimum = MIN_RECEIVE_COUNT if minimum is None else minimum
    documents, _ = _redrive_documents(graph)
    reported: set[str] = set()
    for mapping in graph.of_type(ESM):
        queues = graph.refs(mapping, "eventSourceArn", (QUEUE,))
        if len(queues) != 1 or queues[0].urn in reported:
            continue
        queue = queues[0]
        found = documents.get(queue.urn, [])
        if not found or not all(isinstance(d, Mapping) for d in found):
            continue  # no redrive policy is SQS-001's finding; unknown is never one
        counts = [_count(d.get("maxReceiveCount")) for d in found]
        known_counts = [c for c in counts if c is not None]
        if known_counts and len(known_counts) == len(counts) and min(known_counts) < minimum:
            reported.add(queue.urn)
            yield Finding(
                f"maxReceiveCount is {min(known_counts)} on a queue that feeds Lambda mapping "
                f'"{mapping.name}" (minimum {minimum})',
                urn=queue.urn,
            )


register(
    Rule(
        id="SQS-005",
        name="sqs-consumer-receive-count",
        title="Queues feeding Lambda allow enough receives before redrive",
        description=(
            "A queue that feeds a Lambda event source mapping has maxReceiveCount >= "
            "min_receive_count, so throttled or retried batches do not push healthy messages "
            "into the DLQ."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="stack",
        types=(QUEUE, REDRIVE_POLICY, ESM),
        reads={
            QUEUE: ("redrivePolicy", "arn"),
            REDRIVE_POLICY: ("queueUrl", "redrivePolicy"),
            ESM: ("eventSourceArn",),
        },
        anchors=anchors(),
        knob="max_receive_count",
        raw="redrive_policy.maxReceiveCount",
        remediation="Component: QueueSpec(..., max_receive_count=5) or higher.",
        check=_consumer_receive_count,
        config={"min_receive_count": {"type": "integer", "minimum": 1, "default": 5}},
        examples=Examples(
            compliant=(
                stack_case(
                    _queue("jobs-dlq"),
                    _queue("jobs", redrivePolicy=_redrive("jobs-dlq", count=5)),
                    Resource(FUNCTION, "worker", {"arn": arn("lambda", "function:worker")}),
                    Resource(
                        ESM,
                        "mapping",
                        {"eventSourceArn": arn("sqs", "jobs")},
                        depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
                    ),
                    subject="jobs",
                ),
                # A low count on a queue nobody consumes through a mapping is not applicable.
                stack_case(
                    _queue("jobs-dlq"),
                    _queue("jobs", redrivePolicy=_redrive("jobs-dlq", count=1)),
                    subject="jobs",
                ),
            ),
            non_compliant=(
                stack_case(
                    _queue("jobs-dlq"),
                    _queue("jobs", redrivePolicy=_redrive("jobs-dlq", count=2)),
                    Resource(
                        ESM,
                        "mapping",
                        {"eventSourceArn": arn("sqs", "jobs")},
                        depends={"eventSourceArn": ("jobs",)},
                    ),
                    subject="jobs",
                ),
                # Fallback shape, with a split RedrivePolicy holding the count as a string.
                stack_case(
                    _queue("jobs-dlq"),
                    _queue("jobs"),
                    Resource(
                        REDRIVE_POLICY,
                        "jobs-redrive",
                        {
                            "queueUrl": queue_url("jobs"),
                            "redrivePolicy": json.dumps(
                                {
                                    "deadLetterTargetArn": arn("sqs", "jobs-dlq"),
                                    "maxReceiveCount": "1",
                                }
                            ),
                        },
                    ),
                    Resource(ESM, "mapping", {"eventSourceArn": arn("sqs", "jobs")}),
                    subject="jobs",
                ),
            ),
        ),
    )
)


# SQS-006 ------------------------------------------------------------------------------------


def _cmk(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    key = node.get("kmsMasterKeyId")
    if key is UNKNOWN:
        return
    if key is ABSENT or key == "":
        yield Finding("no kmsMasterKeyId: the queue is not encrypted with a customer-managed key")
    elif key == "alias/aws/sqs":
        yield Finding("kmsMasterKeyId is the AWS managed key alias/aws/sqs, not a customer key")


register(
    Rule(
        id="SQS-006",
        name="sqs-cmk",
        title="Queues are encrypted with a customer-managed KMS key",
        description="kmsMasterKeyId absent or alias/aws/sqs is a finding (off by default).",
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(QUEUE,),
        reads={QUEUE: ("kmsMasterKeyId",)},
        anchors=anchors(checkov="CKV2_AWS_73"),
        knob="",
        raw="kms_master_key_id",
        remediation="Raw: aws.sqs.Queue(..., kms_master_key_id=key.arn).",
        check=_cmk,
        enabled=False,
        examples=Examples(
            compliant=(case(QUEUE, {"kmsMasterKeyId": arn("kms", "key/1234")}),),
            non_compliant=(
                case(QUEUE, {}),
                case(QUEUE, {"kmsMasterKeyId": "alias/aws/sqs"}),
            ),
        ),
    )
)
