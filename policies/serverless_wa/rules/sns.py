"""SNS rules."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, known, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import SUBSCRIPTION
from serverless_wa.rules._common import TOPIC, arn, case, stack_case
from serverless_wa.rules.sqs import policy_not_public, tls_only

TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
REDRIVE_PROTOCOLS = ("lambda", "sqs", "http", "https", "firehose")
TRACEABLE_PROTOCOLS = frozenset({"lambda", "sqs", "firehose", "http", "https"})


def _topic(name: str, **props: Any) -> Resource:
    return Resource(TOPIC, name, {"arn": arn("sns", name), **props})


def _subscription(name: str, topic: str, protocol: str, *, wired: bool = True) -> Resource:
    return Resource(
        SUBSCRIPTION,
        name,
        {"topic": arn("sns", topic), "protocol": protocol, "endpoint": arn("sqs", name)},
        depends={"topic": (topic,)} if wired else {},
    )


def _policy(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


# SNS-001 ------------------------------------------------------------------------------------


def _subscription_redrive(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    protocol = node.get("protocol")
    protocols = config.get("redrive_protocols") or REDRIVE_PROTOCOLS
    if not isinstance(protocol, str) or protocol not in protocols:
        return
    value = node.get("redrivePolicy")
    redrive = ABSENT if value == "" else parse_json(value)
    if redrive is ABSENT:
        yield Finding(f"{protocol} subscription has no redrive policy (failed deliveries are lost)")
    elif isinstance(redrive, Mapping) and redrive.get("deadLetterTargetArn") in (None, ""):
        yield Finding("redrive policy has no deadLetterTargetArn")


register(
    Rule(
        id="SNS-001",
        name="sns-subscription-redrive",
        title="SNS subscriptions redrive failed deliveries to a DLQ",
        description=(
            "Subscriptions whose protocol is in redrive_protocols have a redrivePolicy with "
            "deadLetterTargetArn."
        ),
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(SUBSCRIPTION,),
        reads={SUBSCRIPTION: ("protocol", "redrivePolicy")},
        anchors=anchors(serverless_rules="ES7000", cdk_nag="Serverless-SNSRedrivePolicy"),
        knob="",
        raw="redrive_policy",
        remediation=(
            "Raw: aws.sns.TopicSubscription(..., redrive_policy=dlq.arn.apply(lambda a: "
            'json.dumps({"deadLetterTargetArn": a}))); the DLQ policy must allow '
            "sns.amazonaws.com (STACK-008)."
        ),
        check=_subscription_redrive,
        config={
            "redrive_protocols": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(REDRIVE_PROTOCOLS),
            }
        },
        examples=Examples(
            compliant=(
                case(
                    SUBSCRIPTION,
                    {
                        "protocol": "lambda",
                        "redrivePolicy": json.dumps({"deadLetterTargetArn": arn("sqs", "dlq")}),
                    },
                ),
                case(SUBSCRIPTION, {"protocol": "email"}),
            ),
            non_compliant=(
                case(SUBSCRIPTION, {"protocol": "sqs"}),
                case(SUBSCRIPTION, {"protocol": "https", "redrivePolicy": json.dumps({})}),
            ),
        ),
    )
)


# SNS-002 ------------------------------------------------------------------------------------


def _topic_tracing(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    traced: dict[str, list[str]] = {}
    for subscription in graph.of_type(SUBSCRIPTION):
        topics = graph.refs(subscription, "topic", (TOPIC,))
        protocol = subscription.get("protocol")
        if len(topics) == 1 and isinstance(protocol, str) and protocol in TRACEABLE_PROTOCOLS:
            traced.setdefault(topics[0].urn, []).append(f"{subscription.name} ({protocol})")
    for topic in graph.of_type(TOPIC):
        mode = topic.get("tracingConfig")
        if mode is UNKNOWN or mode == "Active":
            continue
        subscribers = traced.get(topic.urn)
        if not subscribers and not config.get("require_for_all_topics"):
            continue
        shown = mode if known(mode) else "absent (PassThrough)"
        why = f"; subscribers {', '.join(sorted(subscribers))} follow traces" if subscribers else ""
        yield Finding(f"tracingConfig is {shown}, not Active{why}", urn=topic.urn)


register(
    Rule(
        id="SNS-002",
        name="sns-topic-active-tracing",
        title="Topics with traceable subscribers use Active tracing",
        description=(
            "A topic with a lambda, sqs, firehose, http or https subscription needs "
            "tracingConfig Active (absent means PassThrough); other topics only with "
            "require_for_all_topics."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="stack",
        types=(TOPIC, SUBSCRIPTION),
        reads={TOPIC: ("tracingConfig", "arn"), SUBSCRIPTION: ("protocol", "topic")},
        anchors=anchors(),
        knob="",
        raw="tracing_config='Active'",
        remediation=(
            "Raw: aws.sns.Topic(..., tracing_config='Active'), plus an X-Ray resource policy "
            "for sns.amazonaws.com (STACK-013)."
        ),
        check=_topic_tracing,
        config={"require_for_all_topics": {"type": "boolean", "default": False}},
        examples=Examples(
            compliant=(
                stack_case(
                    _topic("orders", tracingConfig="Active"),
                    _subscription("orders-queue", "orders", "sqs"),
                    subject="orders",
                ),
                # Only an email subscriber: not applicable.
                stack_case(
                    _topic("alerts"),
                    _subscription("alerts-mail", "alerts", "email"),
                    subject="alerts",
                ),
            ),
            non_compliant=(
                stack_case(
                    _topic("orders"),
                    _subscription("orders-fn", "orders", "lambda"),
                    subject="orders",
                ),
                # Fallback shape: the subscription found by the topic ARN; the default set.
                stack_case(
                    _topic("orders", tracingConfig="PassThrough"),
                    _subscription("orders-queue", "orders", "sqs", wired=False),
                    subject="orders",
                ),
                stack_case(
                    _topic("alerts"),
                    subject="alerts",
                    config={"require_for_all_topics": True},
                ),
            ),
        ),
    )
)


# SNS-003 ------------------------------------------------------------------------------------


def _encryption(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    key = node.get("kmsMasterKeyId")
    if key is ABSENT or key == "":
        yield Finding("no kmsMasterKeyId: the topic is not encrypted (SNS has no default)")


register(
    Rule(
        id="SNS-003",
        name="sns-encryption",
        title="Topics are encrypted with KMS",
        description="kmsMasterKeyId absent is a finding; SNS has no default encryption.",
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(TOPIC,),
        reads={TOPIC: ("kmsMasterKeyId",)},
        anchors=anchors(cdk_nag="SNSEncryptedKMS", checkov="CKV_AWS_26"),
        knob="",
        raw="kms_master_key_id",
        remediation=(
            "Raw: aws.sns.Topic(..., kms_master_key_id=key.arn). Topics that S3, EventBridge "
            "or CloudWatch alarms publish to need a customer-managed key that lets them in."
        ),
        check=_encryption,
        examples=Examples(
            compliant=(
                case(TOPIC, {"kmsMasterKeyId": arn("kms", "key/1234")}),
                case(TOPIC, {"kmsMasterKeyId": "alias/aws/sns"}),
            ),
            non_compliant=(case(TOPIC, {}),),
        ),
    )
)


# SNS-004 ------------------------------------------------------------------------------------


def _sns_policy_not_public(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    yield from policy_not_public(node, "sns")


PUBLISH_FROM_BUCKET = {
    "Sid": "AllowS3",
    "Effect": "Allow",
    "Principal": {"Service": "s3.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": arn("sns", "orders"),
    "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads"}},
}
TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sns:Publish",
    "Resource": arn("sns", "orders"),
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}

register(
    Rule(
        id="SNS-004",
        name="sns-policy-not-public",
        title="Topic policies are not public",
        description=(
            "No Allow statement with Principal * (or AWS *) lacks an aws:SourceArn, "
            "aws:SourceAccount, aws:PrincipalOrgID or aws:SourceVpce condition; service "
            "principals need aws:SourceArn; no Allow of * or sns:*."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(TOPIC_POLICY, TOPIC),
        reads={TOPIC_POLICY: ("policy",), TOPIC: ("policy",)},
        anchors=anchors(checkov="CKV_AWS_169, CKV_AWS_385"),
        knob="",
        raw="policy",
        remediation=(
            "Raw: scope each Allow with a Condition such as "
            '{"ArnLike": {"aws:SourceArn": bucket.arn}} and name the actions (sns:Publish).'
        ),
        check=_sns_policy_not_public,
        examples=Examples(
            compliant=(
                case(TOPIC_POLICY, {"policy": _policy(TLS_DENY, PUBLISH_FROM_BUCKET)}),
                case(
                    TOPIC,
                    {
                        "policy": _policy(
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "*"},
                                "Action": "sns:Publish",
                                "Resource": arn("sns", "orders"),
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": "123456789012"}
                                },
                            }
                        )
                    },
                ),
            ),
            non_compliant=(
                case(
                    TOPIC_POLICY,
                    {
                        "policy": _policy(
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": ["*"]},
                                "Action": ["sns:Publish", "sns:Subscribe"],
                                "Resource": arn("sns", "orders"),
                            }
                        )
                    },
                ),
                case(
                    TOPIC,
                    {
                        "policy": _policy(
                            {
                                "Sid": "Admin",
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                "Action": "*",
                                "Resource": arn("sns", "orders"),
                            }
                        )
                    },
                ),
                case(TOPIC_POLICY, {"policy": _policy({**PUBLISH_FROM_BUCKET, "Condition": {}})}),
            ),
        ),
    )
)


# SNS-005 ------------------------------------------------------------------------------------


def _sns_tls_only(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    yield from tls_only(graph, TOPIC, TOPIC_POLICY, "arn", "sns:Publish")


register(
    Rule(
        id="SNS-005",
        name="sns-tls-only",
        title="Topic policies deny publishing without TLS",
        description=(
            "The effective topic policy (TopicPolicy, else the inline policy) denies "
            "sns:Publish to every principal when aws:SecureTransport is false."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(TOPIC, TOPIC_POLICY),
        reads={TOPIC: ("policy", "arn"), TOPIC_POLICY: ("policy", "arn")},
        anchors=anchors(cdk_nag="AwsSolutions-SNS3"),
        knob="",
        raw="aws.sns.TopicPolicy policy with a Deny on aws:SecureTransport=false",
        remediation=(
            "Raw: aws.sns.TopicPolicy(..., arn=topic.arn, policy=...) with a Deny of "
            "sns:Publish to * when aws:SecureTransport is false."
        ),
        check=_sns_tls_only,
        examples=Examples(
            compliant=(
                stack_case(
                    _topic("orders"),
                    Resource(
                        TOPIC_POLICY,
                        "orders-policy",
                        {"arn": arn("sns", "orders"), "policy": _policy(TLS_DENY)},
                        depends={"arn": ("orders",)},
                    ),
                    subject="orders",
                ),
                # Fallback shape: the TopicPolicy found by the topic ARN.
                stack_case(
                    _topic("orders"),
                    Resource(
                        TOPIC_POLICY,
                        "orders-policy",
                        {
                            "arn": arn("sns", "orders"),
                            "policy": _policy({**TLS_DENY, "Action": "sns:*"}),
                        },
                    ),
                    subject="orders",
                ),
                stack_case(_topic("orders", policy=_policy(TLS_DENY)), subject="orders"),
            ),
            non_compliant=(
                stack_case(_topic("orders"), subject="orders"),
                stack_case(
                    _topic("orders"),
                    Resource(
                        TOPIC_POLICY,
                        "orders-policy",
                        {"arn": arn("sns", "orders"), "policy": _policy(PUBLISH_FROM_BUCKET)},
                        depends={"arn": ("orders",)},
                    ),
                    subject="orders",
                ),
            ),
        ),
    )
)
