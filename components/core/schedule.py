"""An EventBridge Scheduler schedule with a retry policy, a DLQ and a role of its own.

The expression is checked when the component is built (`validate_expression`), so
`rate(5 minute)` or a five-field cron stops the program instead of the deployment. The
role is trusted by `scheduler.amazonaws.com` for this account only and may do exactly the
target statement plus `sqs:SendMessage` on the schedule's DLQ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.core import aws_context, iam
from components.core.dead_letter import DeadLetterQueue
from components.core.scope import Scope

_RATE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")


def validate_expression(expression: str, argument: str = "schedule") -> None:
    """ValueError naming `argument` unless Scheduler accepts the expression's shape."""
    rate = _RATE.match(expression)
    if rate:
        singular = rate["n"] == "1"
        if singular == rate["unit"].endswith("s"):
            raise ValueError(
                f"{argument}: rate() takes a singular unit for 1 and a plural one otherwise "
                f"(got {expression!r})"
            )
        return
    cron = _CRON.match(expression)
    if cron:
        fields = cron["fields"].split()
        if len(fields) != 6:
            raise ValueError(
                f"{argument}: cron() needs six fields (minute hour day-of-month month "
                f"day-of-week year), got {len(fields)} in {expression!r}"
            )
        if (fields[2] == "?") == (fields[4] == "?"):
            raise ValueError(
                f"{argument}: cron() needs '?' in exactly one of day-of-month and day-of-week "
                f"(got {expression!r})"
            )
        return
    if _AT.match(expression):
        return
    raise ValueError(
        f"{argument} must be rate(N unit), cron(six fields) or at(yyyy-mm-ddThh:mm:ss) "
        f"(got {expression!r})"
    )


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """expression: rate(), cron() or at(); retries bound how long a missed run is retried."""

    expression: str
    timezone: str = "UTC"
    retry_attempts: int = 3
    max_event_age_s: int = 3600
    argument: str = "schedule"

    def __post_init__(self) -> None:
        validate_expression(self.expression, self.argument)
        if not 0 <= self.retry_attempts <= 185:
            raise ValueError(f"retry_attempts must be between 0 and 185 ({self.retry_attempts})")
        if not 60 <= self.max_event_age_s <= 86400:
            raise ValueError(
                f"max_event_age_s must be between 60 and 86400 ({self.max_event_age_s})"
            )


class TargetSchedule:
    """A schedule that delivers `input` to `target_arn` (a state machine, a function...)."""

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        spec: ScheduleSpec,
        *,
        target_arn: pulumi.Input[str],
        target_statement: iam.Statement,
        input: Mapping[str, pulumi.Input[Any]],
        description: str,
    ) -> None:
        self.dlq = DeadLetterQueue(
            scope, f"{suffix}-schedule-dlq", description=f"{description}: undeliverable runs"
        )
        self.role, self.policy = iam.service_role(
            scope,
            f"{suffix}-schedule",
            "scheduler.amazonaws.com",
            [target_statement, iam.sqs_send(self.dlq.arn)],
            source_account=aws_context.account_id(scope.component),
        )
        self.schedule = aws.scheduler.Schedule(
            scope.child(f"{suffix}-schedule"),
            name=scope.physical(suffix),
            description=description,
            schedule_expression=spec.expression,
            schedule_expression_timezone=spec.timezone,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            action_after_completion="DELETE" if spec.expression.startswith("at(") else None,
            target=aws.scheduler.ScheduleTargetArgs(
                arn=target_arn,
                role_arn=self.role.arn,
                input=pulumi.Output.from_input(dict(input)).apply(json.dumps),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=spec.retry_attempts,
                    maximum_event_age_in_seconds=spec.max_event_age_s,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(
                    arn=self.dlq.arn
                ),
            ),
            opts=scope.opts(depends_on=[r for r in [self.policy] if r is not None]),
        )
        self.arn = self.schedule.arn
