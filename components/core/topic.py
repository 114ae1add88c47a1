"""An SNS topic as every pattern wants one, and its subscriptions.

The topic: SSE (SNS's AWS managed key, or the caller's CMK), Active tracing, and a topic
policy that refuses plaintext publishes and lets each named service (API Gateway, S3,
EventBridge...) publish only from its own source ARN in this account.

Active tracing needs an X-Ray resource policy that lets SNS write segments, and an account
holds at most five X-Ray resource policies per Region: so one policy per stack covers the
account's topics (`sns_tracing_policy`), registered at the stack's root by the first traced
topic of a run and by every one after it under the same URN, so it stays as long as any
traced topic does.

A subscription always has a redrive policy: a message SNS cannot deliver (the queue is
gone, the function is throttled past SNS's retries) goes to a DLQ that only this topic may
write, instead of being dropped.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pulumi.runtime import settings

from . import aws_context
from .dead_letter import DeadLetterQueue
from .function import LambdaFunction
from .naming import physical_name
from .queue import DurableQueue
from .scope import Scope

SNS_MANAGED_KEY = "alias/aws/sns"
SNS_TRACING = "sns-active-tracing"  # the stack's X-Ray resource policy for SNS
FilterScope = Literal["MessageAttributes", "MessageBody"]


def topic_policy(topic_arn: str, account: str, publishers: Sequence[tuple[str, str]] = ()) -> str:
    """TLS-only publishes; each (service principal, source ARN) may publish from this account."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    for index, (service, source_arn) in enumerate(publishers):
        statements.append(
            {
                "Sid": f"AllowPublisher{index}",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_arn},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def xray_policy(topic_arn: str, account: str) -> str:
    """Lets SNS write trace segments for the topics `topic_arn` matches, of this account."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "SnsActiveTracing",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": [
                        "xray:PutTraceSegments",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": topic_arn},
                    },
                }
            ],
        },
        sort_keys=True,
    )


_TRACING: weakref.WeakKeyDictionary[pulumi.Resource, aws.xray.ResourcePolicy] = (
    weakref.WeakKeyDictionary()
)


def sns_tracing_policy(scope: Scope) -> aws.xray.ResourcePolicy:
    """The stack's one X-Ray resource policy for SNS: the topics of this account in this
    Region may write trace segments. A child of the stack, not of a component, so removing
    one pattern keeps it for the others."""
    root = settings.get_root_resource()
    if root is not None and root in _TRACING:
        return _TRACING[root]
    account = aws_context.account_id(scope.component)
    topics = pulumi.Output.all(
        aws_context.partition(scope.component), aws_context.region(scope.component), account
    ).apply(lambda v: f"arn:{v[0]}:sns:{v[1]}:{v[2]}:*")
    policy = aws.xray.ResourcePolicy(
        SNS_TRACING,
        policy_name=physical_name(SNS_TRACING, max_length=128),
        policy_document=pulumi.Output.all(topics, account).apply(lambda v: xray_policy(v[0], v[1])),
        opts=pulumi.ResourceOptions(parent=root),
    )
    if root is not None:
        _TRACING[root] = policy
    return policy


def check_filter_policy(policy: Mapping[str, Any], argument: str) -> None:
    """The shape SNS accepts: attribute -> list of values or operator objects, nested for
    MessageBody scope; at most 5 keys at the top level (SNS's limit)."""
    if not isinstance(policy, Mapping) or not policy:
        raise ValueError(f"{argument} must be a non-empty mapping of attribute -> [conditions]")
    if len(policy) > 5:
        raise ValueError(f"{argument} may name at most 5 attributes (got {len(policy)})")
    for key, value in policy.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{argument} keys must be attribute names (got {key!r})")
        if isinstance(value, Mapping):
            check_filter_policy(value, f"{argument}.{key}")
        elif not isinstance(value, list | tuple) or not value:
            raise ValueError(
                f"{argument}.{key} must be a non-empty list of values or conditions (got {value!r})"
            )
        else:
            for item in value:
                if not isinstance(item, str | int | float | bool | Mapping) or item is None:
                    raise ValueError(
                        f"{argument}.{key} holds {item!r}: a string, number, boolean or "
                        "operator object (anything-but, prefix, numeric, exists) is allowed"
                    )


class TracedTopic:
    """SNS topic + policy + X-Ray resource policy, children of the scope's component.

    service_publishers: (service principal, source ARN) pairs that may publish (roles of the
    account publish through their own IAM policies and need nothing here).
    """

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        *,
        kms_key_arn: pulumi.Input[str] | None = None,
        service_publishers: Sequence[tuple[str, pulumi.Input[str]]] = (),
    ) -> None:
        self.scope = scope
        self.suffix = suffix
        account = aws_context.account_id(scope.component)
        self.topic = aws.sns.Topic(
            scope.child(suffix),
            name=scope.physical(suffix, max_length=256),
            kms_master_key_id=kms_key_arn or SNS_MANAGED_KEY,
            tracing_config="Active",
            tags=scope.tags,
            opts=scope.opts(),
        )
        services = [service for service, _ in service_publishers]
        self.policy = aws.sns.TopicPolicy(
            scope.child(f"{suffix}-policy"),
            arn=self.topic.arn,
            policy=pulumi.Output.all(
                self.topic.arn, account, *[arn for _, arn in service_publishers]
            ).apply(lambda v: topic_policy(v[0], v[1], list(zip(services, v[2:], strict=True)))),
            opts=scope.opts(),
        )
        self.xray_policy = sns_tracing_policy(scope)
        self.arn = self.topic.arn
        self.name = self.topic.name
        self.dead_letters: dict[str, DeadLetterQueue] = {}

    def _dead_letter(self, suffix: str) -> DeadLetterQueue:
        dlq = DeadLetterQueue(
            self.scope,
            f"{suffix}-redrive",
            description="SNS could not deliver messages to this subscription",
            service_senders=[("sns.amazonaws.com", self.topic.arn)],
        )
        self.dead_letters[suffix] = dlq
        return dlq

    @staticmethod
    def _redrive(dlq: DeadLetterQueue) -> pulumi.Output[str]:
        return dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn}))

    def subscribe_queue(
        self,
        suffix: str,
        queue: DurableQueue,
        *,
        filter_policy: Mapping[str, Any] | None = None,
        filter_scope: FilterScope = "MessageAttributes",
        raw: bool = True,
    ) -> aws.sns.TopicSubscription:
        """The queue must allow this topic to send (`DurableQueue(service_senders=...)`)."""
        if filter_policy is not None:
            check_filter_policy(filter_policy, f"{suffix}.filter_policy")
        dlq = self._dead_letter(suffix)
        return aws.sns.TopicSubscription(
            self.scope.child(f"{suffix}-subscription"),
            topic=self.topic.arn,
            protocol="sqs",
            endpoint=queue.arn,
            raw_message_delivery=raw,
            filter_policy=json.dumps(filter_policy, sort_keys=True) if filter_policy else None,
            filter_policy_scope=filter_scope if filter_policy else None,
            redrive_policy=self._redrive(dlq),
            opts=self.scope.opts(depends_on=[queue.policies[0], dlq.policy]),
        )

    def subscribe_function(
        self,
        suffix: str,
        function: LambdaFunction,
        *,
        filter_policy: Mapping[str, Any] | None = None,
        filter_scope: FilterScope = "MessageAttributes",
    ) -> aws.sns.TopicSubscription:
        """SNS invokes the function asynchronously: give its FunctionSpec an `AsyncInvoke`."""
        if filter_policy is not None:
            check_filter_policy(filter_policy, f"{suffix}.filter_policy")
        permission = aws.lambda_.Permission(
            self.scope.child(f"{suffix}-invoke"),
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal="sns.amazonaws.com",
            source_arn=self.topic.arn,
            opts=self.scope.opts(),
        )
        dlq = self._dead_letter(suffix)
        return aws.sns.TopicSubscription(
            self.scope.child(f"{suffix}-subscription"),
            topic=self.topic.arn,
            protocol="lambda",
            endpoint=function.arn,
            filter_policy=json.dumps(filter_policy, sort_keys=True) if filter_policy else None,
            filter_policy_scope=filter_scope if filter_policy else None,
            redrive_policy=self._redrive(dlq),
            opts=self.scope.opts(depends_on=[permission, dlq.policy]),
        )
