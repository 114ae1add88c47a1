"""The library's one EventBridge Scheduler builder: a schedule with a time zone, a flexible
window, a retry policy, a DLQ and a role of its own.

Every scheduled thing in the library (`scheduled-job`, the WebSocket sweeper, the waiting
room's admitter and sweeper, `callback-workflow`'s runs, `lifo-queue`'s reclaim wake-up,
`queue-redrive`'s timed redrives) is a `TargetSchedule` built from a `ScheduleSpec`.

The expression is checked when the spec is built (`validate_expression`), so
`rate(5 minute)`, a five-field cron or `at(2030-02-30T00:00:00)` stops the program instead
of the deployment; the policy pack's EVENTS-006 keeps its own copy of the same grammar
(`policies/` never imports components), and a test holds the two to the same verdicts. The
role is trusted by `scheduler.amazonaws.com` for this account only and may do exactly the
target statement plus `sqs:SendMessage` on the schedule's DLQ (and `kms:Decrypt` on the
schedule's key, when it has one).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from . import aws_context, iam
from .dead_letter import DeadLetterQueue
from .scope import Scope

MAX_RETRY_ATTEMPTS = 185
MIN_EVENT_AGE_S = 60
MAX_EVENT_AGE_S = 86_400
MAX_FLEXIBLE_WINDOW_MIN = 1440

# What Scheduler substitutes into a target's input for each invocation.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
EXECUTION_ID = "<aws.scheduler.execution-id>"
ATTEMPT_NUMBER = "<aws.scheduler.attempt-number>"
SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"

_RATE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_AT = re.compile(r"^at\((?P<when>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")

# Cron fields: (name, lowest, highest, names for the values from `lowest` on, wildcards).
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    ("minutes", 0, 59, (), ",-*/"),
    ("hours", 0, 23, (), ",-*/"),
    ("day-of-month", 1, 31, (), ",-*?/LW"),
    ("month", 1, 12, _MONTHS, ",-*/"),
    ("day-of-week", 1, 7, _DAYS, ",-*?L#"),
    ("year", 1970, 2199, (), ",-*/"),
)


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    if text.upper() in names:
        return True
    return text.isdigit() and low <= int(text) <= high


def _cron_field_problem(index: int, text: str) -> str | None:
    """Why one cron field is not valid for Scheduler, or None when it is."""
    name, low, high, names, wildcards = _CRON_FIELDS[index]
    bad = f"{name} field {text!r} is not valid ({low}-{high}"
    bad += f" or {names[0]}-{names[-1]}" if names else ""
    bad += f", wildcards {' '.join(wildcards)})"
    if text == "?":
        return None if "?" in wildcards else bad
    if "L" in wildcards or "W" in wildcards:
        last = ("L",) if index == 4 else ("L", "LW")
        if text in last:
            return None
        if index == 2 and text.endswith("W") and _cron_value(text[:-1], low, high, names):
            return None  # the weekday nearest that day
        if index == 4 and text.endswith("L") and _cron_value(text[:-1], low, high, names):
            return None  # the last such weekday of the month
        if index == 4 and "#" in text:
            day, _, nth = text.partition("#")
            ok = _cron_value(day, low, high, names) and nth in ("1", "2", "3", "4", "5")
            return None if ok else bad
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash and ("/" not in wildcards or not step.isdigit() or int(step) < 1):
            return bad
        if base == "*":
            continue
        first, dash, last_value = base.partition("-")
        values = [first, last_value] if dash else [first]
        if dash and "-" not in wildcards:
            return bad
        if not all(_cron_value(v, low, high, names) for v in values):
            return bad
    return None


def expression_problem(expression: str) -> str | None:
    """Why `expression` is not a Scheduler expression Scheduler accepts, or None when it is.

    rate(1 minute|hour|day) or rate(N minutes|hours|days) with N > 1; cron() with six
    fields (minutes hours day-of-month month day-of-week year), each in its range with its
    wildcards, and `?` in exactly one of the two day fields; at(yyyy-mm-ddThh:mm:ss) naming
    a real date and time.
    """
    rate = _RATE.match(expression)
    if rate:
        if (rate["n"] == "1") == rate["unit"].endswith("s"):
            return (
                f"rate() takes a singular unit for 1 and a plural one otherwise "
                f"(got {expression!r})"
            )
        return None
    cron = _CRON.match(expression)
    if cron:
        fields = cron["fields"].split()
        if len(fields) != 6:
            return (
                f"cron() needs six fields (minutes hours day-of-month month day-of-week "
                f"year), got {len(fields)} in {expression!r}"
            )
        if (fields[2] == "?") == (fields[4] == "?"):
            return (
                f"cron() needs '?' in exactly one of day-of-month and day-of-week "
                f"(got {expression!r})"
            )
        for index, text in enumerate(fields):
            problem = _cron_field_problem(index, text)
            if problem:
                return f"cron() {problem} in {expression!r}"
        return None
    at = _AT.match(expression)
    if at:
        try:
            dt.datetime.fromisoformat(at["when"])
        except ValueError:
            return f"at() names no real date and time (got {expression!r})"
        return None
    return f"must be rate(N unit), cron(six fields) or at(yyyy-mm-ddThh:mm:ss) (got {expression!r})"


def validate_expression(expression: str, argument: str = "schedule") -> None:
    """ValueError naming `argument` unless Scheduler accepts the expression."""
    problem = expression_problem(expression)
    if problem:
        separator = " " if problem.startswith("must ") else ": "
        raise ValueError(f"{argument}{separator}{problem}")


def validate_timezone(timezone: str, argument: str = "timezone") -> None:
    """ValueError naming `argument` unless `timezone` is an IANA time zone (or UTC)."""
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{argument} must be an IANA time zone such as Europe/Lisbon or UTC (got {timezone!r})"
        ) from None


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """When a schedule fires and how long a run that could not be delivered is retried.

    expression: rate(), cron() or at() (see `expression_problem`); at() schedules delete
      themselves after their one run.
    timezone: the IANA zone cron() and at() are read in (rate() ignores it).
    flexible_window_min: 0 fires on time; N lets Scheduler start within N minutes (1-1440),
      spreading the load of many schedules.
    retry_attempts / max_event_age_s: how often and for how long Scheduler retries a run it
      could not deliver before the DLQ gets it.
    argument: the name errors about the expression use.
    """

    expression: str
    timezone: str = "UTC"
    flexible_window_min: int = 0
    retry_attempts: int = 3
    max_event_age_s: int = 3600
    argument: str = "schedule"

    def __post_init__(self) -> None:
        validate_expression(self.expression, self.argument)
        validate_timezone(self.timezone)
        if not 0 <= self.flexible_window_min <= MAX_FLEXIBLE_WINDOW_MIN:
            raise ValueError(
                f"flexible_window_min must be between 0 and {MAX_FLEXIBLE_WINDOW_MIN} "
                f"(got {self.flexible_window_min})"
            )
        if not 0 <= self.retry_attempts <= MAX_RETRY_ATTEMPTS:
            raise ValueError(
                f"retry_attempts must be between 0 and {MAX_RETRY_ATTEMPTS} "
                f"(got {self.retry_attempts})"
            )
        if not MIN_EVENT_AGE_S <= self.max_event_age_s <= MAX_EVENT_AGE_S:
            raise ValueError(
                f"max_event_age_s must be between {MIN_EVENT_AGE_S} and {MAX_EVENT_AGE_S} "
                f"(got {self.max_event_age_s})"
            )

    @property
    def one_off(self) -> bool:
        return self.expression.startswith("at(")

    def flexible_time_window(self) -> aws.scheduler.ScheduleFlexibleTimeWindowArgs:
        if self.flexible_window_min == 0:
            return aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF")
        return aws.scheduler.ScheduleFlexibleTimeWindowArgs(
            mode="FLEXIBLE", maximum_window_in_minutes=self.flexible_window_min
        )


def invoke_statement(function_arn: pulumi.Input[str]) -> iam.Statement:
    """What a schedule's role needs to run one function (and no other)."""
    return iam.Statement(["lambda:InvokeFunction"], [function_arn])


class TargetSchedule:
    """A schedule that delivers `input` to `target_arn` (a function, a state machine, a
    topic...) through a role that may do `target_statement` and nothing else.

    dlq_arn: an existing queue for runs Scheduler could not deliver (the role may send to
      it); None makes a `DeadLetterQueue` (`<suffix>-schedule-dlq`, alarmed on depth).
    group: an existing schedule group's name (None: the account's default group).
    state: DISABLED keeps the schedule without running it.
    kms_key_arn: a customer-managed key for the schedule's input (the role may decrypt
      with it); None uses the AWS owned key.
    """

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
        dlq_arn: pulumi.Input[str] | None = None,
        group: str | None = None,
        state: Literal["ENABLED", "DISABLED"] = "ENABLED",
        kms_key_arn: pulumi.Input[str] | None = None,
    ) -> None:
        self.dlq: DeadLetterQueue | None = None
        if dlq_arn is None:
            self.dlq = DeadLetterQueue(
                scope, f"{suffix}-schedule-dlq", description=f"{description}: undeliverable runs"
            )
            dlq_arn = self.dlq.arn
        self.dlq_arn: pulumi.Input[str] = dlq_arn
        statements = [target_statement, iam.sqs_send(dlq_arn)]
        if kms_key_arn is not None:
            statements.append(iam.Statement(["kms:Decrypt"], [kms_key_arn]))
        self.role, self.policy = iam.service_role(
            scope,
            f"{suffix}-schedule",
            "scheduler.amazonaws.com",
            statements,
            source_account=aws_context.account_id(scope.component),
        )
        self.name = scope.physical(suffix)
        self.schedule = aws.scheduler.Schedule(
            scope.child(f"{suffix}-schedule"),
            name=self.name,
            group_name=group,
            description=description,
            state=state if state != "ENABLED" else None,
            schedule_expression=spec.expression,
            schedule_expression_timezone=spec.timezone,
            flexible_time_window=spec.flexible_time_window(),
            action_after_completion="DELETE" if spec.one_off else None,
            kms_key_arn=kms_key_arn,
            target=aws.scheduler.ScheduleTargetArgs(
                arn=target_arn,
                role_arn=self.role.arn,
                input=pulumi.Output.from_input(dict(input)).apply(json.dumps),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=spec.retry_attempts,
                    maximum_event_age_in_seconds=spec.max_event_age_s,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dlq_arn),
            ),
            opts=scope.opts(depends_on=[r for r in [self.policy] if r is not None]),
        )
        self.arn = self.schedule.arn
