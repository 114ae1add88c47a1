"""A work queue with its dead-letter queue, TLS-only policies and alarms.

Encrypted (SQS-managed SSE), redriven to a DLQ after `max_receive_count` receives, the DLQ
keeping messages 14 days, visibility at least 6x the consumer's timeout plus its batching
window, and alarms on DLQ depth and on the age of the oldest message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from . import aws_context, defaults
from .alarms import metric_alarm
from .pattern import Safeguard
from .scope import Scope
from .settings import Settings

# For the args of a pattern whose `consumer_concurrency` is a queue consumer's reserved
# concurrency, which its mapping's maximumConcurrency matches.
SERIAL_CONSUMER = Safeguard(
    "consumer_concurrency",
    ("a cap on the queue's pollers (maximumConcurrency cannot go below 2)",),
    "The pollers can outrun a reservation of 1: throttled batches go back to the queue and "
    "on to its DLQ (STACK-002, mandatory in prod). Use 2 or more.",
    off=1,
)


def check_consumer_concurrency(value: int, settings: Settings, *, floor: int = 1) -> None:
    """`consumer_concurrency` within `floor`..1000, and at least 2 in production, where a
    reservation of 1 (no cap on the pollers) fails the pack's STACK-002."""
    if settings.production:
        floor = max(floor, defaults.SQS_MIN_MAXIMUM_CONCURRENCY)
    ceiling = defaults.SQS_MAX_MAXIMUM_CONCURRENCY
    if not floor <= value <= ceiling:
        where = " with environment 'prod'" if settings.production and value < floor else ""
        raise ValueError(
            f"consumer_concurrency must be between {floor} and {ceiling}{where} (got {value})"
        )


def maximum_concurrency(consumer_concurrency: int) -> int | None:
    """A consumer's mapping cap: its reserved concurrency, absent below SQS's floor of 2."""
    if consumer_concurrency < defaults.SQS_MIN_MAXIMUM_CONCURRENCY:
        return None
    return consumer_concurrency


@dataclass(frozen=True, kw_only=True)
class QueueSpec:
    consumer_timeout_s: int
    batching_window_s: int = 0
    max_receive_count: int = defaults.DLQ_MAX_RECEIVE_COUNT
    retention_s: int = defaults.QUEUE_RETENTION_S
    age_alarm_s: int = defaults.QUEUE_AGE_ALARM_S

    def __post_init__(self) -> None:
        if not 1 <= self.max_receive_count <= 1000:
            raise ValueError(
                f"max_receive_count must be between 1 and 1000 (got {self.max_receive_count})"
            )
        if not 60 <= self.retention_s < defaults.DLQ_RETENTION_S:
            # The DLQ must keep messages longer than the source: redrive keeps the enqueue time.
            raise ValueError(
                f"retention_s must be between 60 and {defaults.DLQ_RETENTION_S - 1} "
                f"(got {self.retention_s})"
            )
        if not 1 <= self.consumer_timeout_s <= defaults.LAMBDA_MAX_TIMEOUT_S:
            raise ValueError(
                f"consumer_timeout_s must be between 1 and {defaults.LAMBDA_MAX_TIMEOUT_S} "
                f"(got {self.consumer_timeout_s})"
            )
        if not 0 <= self.batching_window_s <= 300:
            raise ValueError(
                f"batching_window_s must be between 0 and 300 (got {self.batching_window_s})"
            )

    @property
    def visibility_timeout_s(self) -> int:
        return defaults.VISIBILITY_TIMEOUT_FACTOR * self.consumer_timeout_s + self.batching_window_s


def deny_insecure_transport(queue_arn: str) -> dict[str, Any]:
    """The queue policy statement that refuses every request not made over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def tls_only_policy(queue_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(queue_arn).apply(
        lambda arn: json.dumps(
            {"Version": "2012-10-17", "Statement": [deny_insecure_transport(arn)]}
        )
    )


def sender_policy(
    queue_arn: str, senders: Sequence[tuple[str, str]], account: str | None = None
) -> str:
    """TLS only, plus `sqs:SendMessage` for each (service principal, source ARN) pair, pinned
    to that source (and to the account when given: an S3 bucket's ARN names no account)."""
    statements = [deny_insecure_transport(queue_arn)]
    for index, (service, source_arn) in enumerate(senders):
        condition: dict[str, Any] = {"ArnEquals": {"aws:SourceArn": source_arn}}
        if account is not None:
            condition["StringEquals"] = {"aws:SourceAccount": account}
        statements.append(
            {
                "Sid": f"AllowSender{index}",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": condition,
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def sender_policy_output(
    queue_arn: pulumi.Input[str],
    senders: Sequence[tuple[str, pulumi.Input[str]]],
    account: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    services = [service for service, _ in senders]
    return pulumi.Output.all(queue_arn, account, *[arn for _, arn in senders]).apply(
        lambda v: sender_policy(v[0], list(zip(services, v[2:], strict=True)), v[1])
    )


class DurableQueue:
    """Queue + DLQ + policies + alarms, children of the scope's component.

    service_senders: (service principal, source ARN) pairs that may send to the queue (an SNS
    topic, an EventBridge rule, an S3 bucket), each pinned to its source and to the account.
    """

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        spec: QueueSpec,
        *,
        service_senders: Sequence[tuple[str, pulumi.Input[str]]] = (),
    ) -> None:
        self.dlq = aws.sqs.Queue(
            scope.child(f"{suffix}-dlq"),
            name=scope.physical(f"{suffix}-dlq", max_length=80),
            sqs_managed_sse_enabled=True,
            message_retention_seconds=defaults.DLQ_RETENTION_S,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.queue = aws.sqs.Queue(
            scope.child(suffix),
            name=scope.physical(suffix, max_length=80),
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=spec.visibility_timeout_s,
            message_retention_seconds=spec.retention_s,
            redrive_policy=self.dlq.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": spec.max_receive_count}
                )
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.dlq_redrive_allow = aws.sqs.RedriveAllowPolicy(
            scope.child(f"{suffix}-dlq-allow"),
            queue_url=self.dlq.url,
            redrive_allow_policy=self.queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=scope.opts(),
        )
        queue_policy = (
            sender_policy_output(
                self.queue.arn, service_senders, aws_context.account_id(scope.component)
            )
            if service_senders
            else tls_only_policy(self.queue.arn)
        )
        self.policies = [
            aws.sqs.QueuePolicy(
                scope.child(f"{suffix}{kind}-policy"),
                queue_url=queue.url,
                policy=policy,
                opts=scope.opts(),
            )
            for kind, queue, policy in (
                ("", self.queue, queue_policy),
                ("-dlq", self.dlq, tls_only_policy(self.dlq.arn)),
            )
        ]
        self.dlq_alarm = metric_alarm(
            scope,
            f"{suffix}-dlq-depth",
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.dlq.name},
            threshold=0,
            description="Messages reached the dead-letter queue",
        )
        self.age_alarm = metric_alarm(
            scope,
            f"{suffix}-age",
            namespace="AWS/SQS",
            metric="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": self.queue.name},
            threshold=spec.age_alarm_s,
            evaluation_periods=5,
            description=f"The oldest message has waited over {spec.age_alarm_s} s",
        )
        self.arn = self.queue.arn
        self.url = self.queue.url
        self.name = self.queue.name
