"""A standalone dead-letter queue for an asynchronous path that is not an SQS queue:
Scheduler and EventBridge target DLQs and Lambda on-failure destinations.

Encrypted, 14 days of retention (the SQS maximum), TLS-only, alarmed on depth. Role
senders (a schedule's role, a function's role) need `iam.sqs_send(dlq.arn)`; service
senders (an EventBridge rule's target DLQ) are allowed here by the queue policy, each
pinned to its source ARN.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from . import defaults
from .alarms import metric_alarm
from .queue import sender_policy_output
from .scope import Scope


class DeadLetterQueue:
    def __init__(
        self,
        scope: Scope,
        suffix: str,
        *,
        description: str,
        service_senders: Sequence[tuple[str, pulumi.Input[str]]] = (),
        written_by_code: bool = False,
    ) -> None:
        """service_senders: (service principal, source ARN) pairs allowed to send.
        written_by_code: a function's own code parks failures here (no redrive policy or
        destination names the queue), so it is tagged `wa:dlq` for the policy pack."""
        tags = scope.tags
        if written_by_code:
            tags[defaults.TAG_DLQ] = "true"
        self.queue = aws.sqs.Queue(
            scope.child(suffix),
            name=scope.physical(suffix, max_length=80),
            sqs_managed_sse_enabled=True,
            message_retention_seconds=defaults.DLQ_RETENTION_S,
            tags=tags,
            opts=scope.opts(),
        )
        self.policy = aws.sqs.QueuePolicy(
            scope.child(f"{suffix}-policy"),
            queue_url=self.queue.url,
            policy=sender_policy_output(self.queue.arn, service_senders),
            opts=scope.opts(),
        )
        self.alarm = metric_alarm(
            scope,
            f"{suffix}-depth",
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.queue.name},
            threshold=0,
            description=description,
        )
        self.arn = self.queue.arn
        self.url = self.queue.url
        self.name = self.queue.name
