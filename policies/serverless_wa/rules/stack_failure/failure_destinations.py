"""STACK-008: failure destinations the sender may write to."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, as_list, known, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import EVENT_TARGET, SCHEDULE, SUBSCRIPTION
from serverless_wa.rules._common import (
    ESM,
    FUNCTION,
    INVOKE_CONFIG,
    PIPE,
    QUEUE,
    ROLE,
    TOPIC,
    arn,
    attached,
    mapping_function,
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
from serverless_wa.rules.stack_failure._shared import (
    _DLQ_ARN,
    _FN_ARN,
    BUCKETS,
    EVENT_BUS,
    PENDING,
    QUEUE_POLICY,
    _link,
    _redrive,
    _short,
    _single,
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
