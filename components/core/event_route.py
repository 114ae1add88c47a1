"""EventBridge buses and rules as every pattern wants them.

`event_bus`: a custom bus (optional CMK) with an optional archive for replay.
`EventRoute`: a rule on a bus and its target, built in two steps so that a target queue can
allow the rule by ARN before the target exists: `route = EventRoute(...)`, then the queue
with `DurableQueue(..., service_senders=[("events.amazonaws.com", route.rule.arn)])`, then
`route.target(queue.arn)`. Every target retries (bounded attempts and event age) and then
dead-letters into a queue only this rule may write, alarmed on depth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from . import defaults
from .dead_letter import DeadLetterQueue
from .scope import Scope

MAX_RETRY_ATTEMPTS = 185  # EventBridge's limits for a target's retry policy
MAX_EVENT_AGE_S = 86400


def event_bus(
    scope: Scope,
    suffix: str,
    *,
    kms_key_arn: pulumi.Input[str] | None = None,
    archive_retention_days: int | None = None,
    description: str = "Events, kept for replay",
) -> tuple[aws.cloudwatch.EventBus, aws.cloudwatch.EventArchive | None]:
    """A custom bus and, when `archive_retention_days` is given (0 = forever), its archive."""
    if archive_retention_days is not None and archive_retention_days < 0:
        raise ValueError(
            f"archive_retention_days must be 0 (forever) or more (got {archive_retention_days})"
        )
    bus = aws.cloudwatch.EventBus(
        scope.child(suffix),
        name=scope.physical(suffix, max_length=256),
        kms_key_identifier=kms_key_arn,
        tags=scope.tags,
        opts=scope.opts(),
    )
    archive = None
    if archive_retention_days is not None:
        archive = aws.cloudwatch.EventArchive(
            scope.child(f"{suffix}-archive"),
            name=scope.physical(f"{suffix}-archive", max_length=48),
            event_source_arn=bus.arn,
            retention_days=archive_retention_days,
            description=description,
            opts=scope.opts(),
        )
    return bus, archive


def check_retry(retry_attempts: int, max_event_age_s: int, argument: str = "") -> None:
    prefix = f"{argument}." if argument else ""
    if not 0 <= retry_attempts <= MAX_RETRY_ATTEMPTS:
        raise ValueError(
            f"{prefix}retry_attempts must be between 0 and {MAX_RETRY_ATTEMPTS} "
            f"(got {retry_attempts})"
        )
    if not 60 <= max_event_age_s <= MAX_EVENT_AGE_S:
        raise ValueError(
            f"{prefix}max_event_age_s must be between 60 and {MAX_EVENT_AGE_S} "
            f"(got {max_event_age_s})"
        )


class EventRoute:
    """A rule on `bus_name` matching `pattern`, its dead-letter queue, then `target(...)`."""

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        *,
        bus_name: pulumi.Input[str],
        pattern: Mapping[str, Any] | pulumi.Input[str],
        description: str,
        retry_attempts: int = defaults.EVENT_TARGET_RETRY_ATTEMPTS,
        max_event_age_s: int = defaults.EVENT_TARGET_MAX_EVENT_AGE_S,
    ) -> None:
        check_retry(retry_attempts, max_event_age_s, suffix)
        self.scope = scope
        self.suffix = suffix
        self.bus_name = bus_name
        self.retry_attempts = retry_attempts
        self.max_event_age_s = max_event_age_s
        self.rule = aws.cloudwatch.EventRule(
            scope.child(f"{suffix}-rule"),
            name=scope.physical(suffix, max_length=64),
            event_bus_name=bus_name,
            description=description,
            event_pattern=(
                json.dumps(pattern, sort_keys=True) if isinstance(pattern, Mapping) else pattern
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.dlq = DeadLetterQueue(
            scope,
            f"{suffix}-target-dlq",
            description=f"Events the {suffix} rule could not deliver",
            service_senders=[("events.amazonaws.com", self.rule.arn)],
        )
        self.targets: list[aws.cloudwatch.EventTarget] = []

    def target(
        self,
        arn: pulumi.Input[str],
        *,
        role_arn: pulumi.Input[str] | None = None,
        input_path: str | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> aws.cloudwatch.EventTarget:
        """`role_arn`: for targets that need one (a bus, a state machine); a queue or a
        function allows the rule by its resource policy instead."""
        name = self.suffix if not self.targets else f"{self.suffix}-{len(self.targets)}"
        target = aws.cloudwatch.EventTarget(
            self.scope.child(f"{name}-target"),
            rule=self.rule.name,
            event_bus_name=self.bus_name,
            arn=arn,
            role_arn=role_arn,
            input_path=input_path,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=self.retry_attempts,
                maximum_event_age_in_seconds=self.max_event_age_s,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=self.dlq.arn),
            opts=self.scope.opts(depends_on=[self.dlq.policy, *depends_on]),
        )
        self.targets.append(target)
        return target

    def invoke_permission(self, function_name: pulumi.Input[str]) -> aws.lambda_.Permission:
        """For a function target: lets this rule, and only it, invoke the function."""
        return aws.lambda_.Permission(
            self.scope.child(f"{self.suffix}-invoke"),
            action="lambda:InvokeFunction",
            function=function_name,
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
            opts=self.scope.opts(),
        )
