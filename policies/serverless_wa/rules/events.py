"""EventBridge and Scheduler rules."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Node
from serverless_wa.props import ABSENT, UNKNOWN, known, parse_json
from serverless_wa.registry import Examples, Finding, Rule, anchors, register
from serverless_wa.rules._async import EVENT_TARGET, SCHEDULE
from serverless_wa.rules._common import arn, case
from serverless_wa.rules._iam import condition_keys, public_principal, statements

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
EVENT_PERMISSION = "aws:cloudwatch/eventPermission:EventPermission"
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_EVENT_AGE_S = 86400
DLQ = arn("sqs", "target-dlq")


def _present(value: Any) -> bool:
    """Presence check: unknown counts as present, an empty string as absent."""
    return value is UNKNOWN or (value is not ABSENT and value != "")


# EVENTS-001 / EVENTS-004: DLQs ----------------------------------------------------------


def _dlq_check(path: str) -> Any:
    def check(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
        if not _present(node.get(path)):
            yield Finding(f"no {path}: events that cannot be delivered are dropped")

    return check


register(
    Rule(
        id="EVENTS-001",
        name="eventbridge-target-dlq",
        title="EventBridge targets have a dead-letter queue",
        description=(
            "deadLetterConfig.arn absent is a finding. It covers delivery failures only; a "
            "Lambda target also needs its own failure destination (STACK-004)."
        ),
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(EVENT_TARGET,),
        reads={EVENT_TARGET: ("deadLetterConfig.arn",)},
        anchors=anchors(serverless_rules="ES4000", cdk_nag="Serverless-EventBusDLQ"),
        knob="",
        raw="dead_letter_config.arn",
        remediation=(
            "Raw: aws.cloudwatch.EventTarget(..., dead_letter_config="
            "aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.arn)); the DLQ policy must "
            "allow events.amazonaws.com (STACK-008)."
        ),
        check=_dlq_check("deadLetterConfig.arn"),
        examples=Examples(
            compliant=(case(EVENT_TARGET, {"deadLetterConfig": {"arn": DLQ}}),),
            non_compliant=(case(EVENT_TARGET, {}), case(EVENT_TARGET, {"deadLetterConfig": {}})),
        ),
    )
)

register(
    Rule(
        id="EVENTS-004",
        name="scheduler-target-dlq",
        title="Scheduler targets have a dead-letter queue",
        description="target.deadLetterConfig.arn absent is a finding.",
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(SCHEDULE,),
        reads={SCHEDULE: ("target.deadLetterConfig.arn",)},
        anchors=anchors(),
        knob="",
        raw="target.dead_letter_config.arn",
        remediation=(
            "Raw: aws.scheduler.ScheduleTargetArgs(..., dead_letter_config="
            "aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dlq.arn)); target.role_arn "
            "must be allowed sqs:SendMessage on it (STACK-008)."
        ),
        check=_dlq_check("target.deadLetterConfig.arn"),
        examples=Examples(
            compliant=(
                case(
                    SCHEDULE,
                    {
                        "target": {
                            "arn": arn("lambda", "function:f"),
                            "deadLetterConfig": {"arn": DLQ},
                        }
                    },
                ),
            ),
            non_compliant=(case(SCHEDULE, {"target": {"arn": arn("lambda", "function:f")}}),),
        ),
    )
)


# EVENTS-002 / EVENTS-005: retry policies ------------------------------------------------


def _number(value: Any, default: int) -> Any:
    """An int, the default when absent, UNKNOWN, or None for a value of the wrong type."""
    if value is ABSENT:
        return default
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def _retry_check(prefix: str) -> Any:
    def check(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
        policy = node.get(prefix)
        if policy is UNKNOWN:
            return
        if policy is ABSENT:
            yield Finding(
                f"no {prefix}: the defaults retry {DEFAULT_RETRY_ATTEMPTS} times for a day"
            )
            return
        attempts = _number(node.get(f"{prefix}.maximumRetryAttempts"), DEFAULT_RETRY_ATTEMPTS)
        age = _number(node.get(f"{prefix}.maximumEventAgeInSeconds"), DEFAULT_EVENT_AGE_S)
        if attempts == DEFAULT_RETRY_ATTEMPTS and age == DEFAULT_EVENT_AGE_S:
            yield Finding(
                f"{prefix} keeps the service defaults ({DEFAULT_RETRY_ATTEMPTS} attempts, "
                f"{DEFAULT_EVENT_AGE_S} s)"
            )

    return check


def _retry(attempts: int | None = None, age: int | None = None) -> dict[str, int]:
    policy = {}
    if attempts is not None:
        policy["maximumRetryAttempts"] = attempts
    if age is not None:
        policy["maximumEventAgeInSeconds"] = age
    return policy


register(
    Rule(
        id="EVENTS-002",
        name="eventbridge-target-retry-policy",
        title="EventBridge targets tune their retry policy",
        description=(
            "retryPolicy absent, or equal to the service defaults (185 attempts, 86400 s), is "
            "a finding: tune it to the target's idempotency and latency budget."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(EVENT_TARGET,),
        reads={
            EVENT_TARGET: (
                "retryPolicy.maximumRetryAttempts",
                "retryPolicy.maximumEventAgeInSeconds",
            )
        },
        anchors=anchors(),
        knob="report_retry_attempts / report_max_age_s",
        raw="retry_policy",
        remediation=(
            "Raw: aws.cloudwatch.EventTarget(..., retry_policy=aws.cloudwatch."
            "EventTargetRetryPolicyArgs(maximum_retry_attempts=3, "
            "maximum_event_age_in_seconds=3600))."
        ),
        check=_retry_check("retryPolicy"),
        examples=Examples(
            compliant=(
                case(EVENT_TARGET, {"retryPolicy": _retry(3, 3600)}),
                case(EVENT_TARGET, {"retryPolicy": _retry(attempts=10)}),
            ),
            non_compliant=(
                case(EVENT_TARGET, {}),
                case(EVENT_TARGET, {"retryPolicy": _retry(185, 86400)}),
                case(EVENT_TARGET, {"retryPolicy": _retry(age=86400)}),
            ),
        ),
    )
)

register(
    Rule(
        id="EVENTS-005",
        name="scheduler-target-retry-policy",
        title="Scheduler targets tune their retry policy",
        description=(
            "target.retryPolicy absent, or equal to the defaults (185 attempts, 86400 s), is a "
            "finding."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(SCHEDULE,),
        reads={
            SCHEDULE: (
                "target.retryPolicy.maximumRetryAttempts",
                "target.retryPolicy.maximumEventAgeInSeconds",
            )
        },
        anchors=anchors(),
        knob="retry_attempts / max_event_age_s",
        raw="target.retry_policy",
        remediation=(
            "Raw: aws.scheduler.ScheduleTargetArgs(..., retry_policy=aws.scheduler."
            "ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=3, "
            "maximum_event_age_in_seconds=3600))."
        ),
        check=_retry_check("target.retryPolicy"),
        examples=Examples(
            compliant=(case(SCHEDULE, {"target": {"retryPolicy": _retry(3, 3600)}}),),
            non_compliant=(
                case(SCHEDULE, {"target": {"arn": arn("lambda", "function:f")}}),
                case(SCHEDULE, {"target": {"retryPolicy": _retry(185, 86400)}}),
            ),
        ),
    )
)


# EVENTS-003 -------------------------------------------------------------------------------


def _bus_not_open(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.type == EVENT_PERMISSION:
        principal = node.get("principal")
        key = node.get("condition.key")
        if principal == "*" and key is not UNKNOWN and str(key).lower() != "aws:principalorgid":
            yield Finding("principal is * without an aws:PrincipalOrgID condition")
        return
    value = node.get("policy")
    for statement in statements(ABSENT if value == "" else parse_json(value), node) or []:
        if (
            statement.allow
            and public_principal(statement.principal)
            and "aws:principalorgid" not in condition_keys(statement)
        ):
            yield Finding(
                f"policy statement {statement.label} grants * without an aws:PrincipalOrgID "
                "condition",
                detail=statement.label,
            )


def _bus_policy(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


PUT_EVENTS = {
    "Sid": "PutEvents",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "events:PutEvents",
    "Resource": arn("events", "event-bus/orders"),
}

register(
    Rule(
        id="EVENTS-003",
        name="eventbridge-bus-not-open",
        title="Event buses are not open to everyone",
        description=(
            "A bus policy statement, or an EventPermission principal, that grants * without "
            "an aws:PrincipalOrgID condition is a finding."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(BUS_POLICY, EVENT_PERMISSION),
        reads={BUS_POLICY: ("policy",), EVENT_PERMISSION: ("principal", "condition.key")},
        anchors=anchors(cdk_nag="AwsSolutions-EVB1"),
        knob="",
        raw="policy Condition aws:PrincipalOrgID / condition",
        remediation=(
            "Raw: aws.cloudwatch.EventPermission(..., principal='*', condition=aws.cloudwatch."
            "EventPermissionConditionArgs(key='aws:PrincipalOrgID', type='StringEquals', "
            "value=org_id)), or name the accounts."
        ),
        check=_bus_not_open,
        examples=Examples(
            compliant=(
                case(
                    BUS_POLICY,
                    {
                        "policy": _bus_policy(
                            {
                                **PUT_EVENTS,
                                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
                            }
                        )
                    },
                ),
                case(
                    BUS_POLICY,
                    {"policy": _bus_policy({**PUT_EVENTS, "Principal": {"AWS": "210987654321"}})},
                ),
                case(
                    EVENT_PERMISSION,
                    {
                        "principal": "*",
                        "statementId": "org",
                        "condition": {
                            "key": "aws:PrincipalOrgID",
                            "type": "StringEquals",
                            "value": "o-abc",
                        },
                    },
                ),
                case(EVENT_PERMISSION, {"principal": "210987654321", "statementId": "partner"}),
            ),
            non_compliant=(
                case(BUS_POLICY, {"policy": _bus_policy(PUT_EVENTS)}),
                case(
                    BUS_POLICY,
                    {"policy": _bus_policy({**PUT_EVENTS, "Principal": {"AWS": "*"}})},
                ),
                case(EVENT_PERMISSION, {"principal": "*", "statementId": "anyone"}),
            ),
        ),
    )
)


# EVENTS-006 -------------------------------------------------------------------------------

# The grammar components/core/schedule.py checks when a component is built, copied here
# because the pack never imports components; tests/policies/test_schedule_expressions.py
# holds the two copies to the same verdicts.
_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_CRON = re.compile(r"^cron\(([^()]+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNITS = ("minute", "hour", "day")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names, wildcards) of the six cron fields, in order.
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    ("minutes", 0, 59, (), ",-*/"),
    ("hours", 0, 23, (), ",-*/"),
    ("day-of-month", 1, 31, (), ",-*?/LW"),
    ("month", 1, 12, _MONTHS, ",-*/"),
    ("day-of-week", 1, 7, _DAYS, ",-*?L#"),
    ("year", 1970, 2199, (), ",-*/"),
)


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    return text.upper() in names or (text.isdigit() and low <= int(text) <= high)


def _cron_field_ok(index: int, text: str) -> bool:
    _, low, high, names, wildcards = _CRON_FIELDS[index]
    if text == "?":
        return "?" in wildcards
    if index == 2 and (
        text in ("L", "LW") or (text[-1:] == "W" and _cron_value(text[:-1], low, high, names))
    ):
        return True
    if index == 4:
        if text == "L" or (text[-1:] == "L" and _cron_value(text[:-1], low, high, names)):
            return True
        if "#" in text:
            day, _, nth = text.partition("#")
            return _cron_value(day, low, high, names) and nth in ("1", "2", "3", "4", "5")
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash and ("/" not in wildcards or not step.isdigit() or int(step) < 1):
            return False
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        if not all(_cron_value(v, low, high, names) for v in ([first, last] if dash else [first])):
            return False
    return True


def schedule_expression_problem(expression: str, scheduler: bool) -> str | None:
    """Why `expression` is not a valid schedule expression, or None when it is.

    Valid: `rate(1 minute|hour|day)`, `rate(N minutes|hours|days)` with N > 1 (no leading
    zero), `cron(...)` with six fields, each in its range with its wildcards, and `?` in
    exactly one of day-of-month and day-of-week, and, for EventBridge Scheduler only,
    `at(yyyy-mm-ddThh:mm:ss)` naming a real date and time. Nothing around the expression.
    """
    text = expression
    rate = _RATE.match(text)
    if rate:
        digits, unit = rate.group(1), rate.group(2)
        value = int(digits)
        singular = unit.removesuffix("s")
        if singular not in _UNITS:
            return f"{text}: the unit must be minute(s), hour(s) or day(s)"
        if value < 1:
            return f"{text}: the rate must be at least 1"
        if digits != str(value):
            return f"{text}: the rate is written without leading zeros, rate({value} {unit})"
        if value == 1 and unit != singular:
            return f"{text}: a rate of 1 takes the singular, rate(1 {singular})"
        if value > 1 and unit == singular:
            return f"{text}: a rate above 1 takes the plural, rate({value} {singular}s)"
        return None
    cron = _CRON.match(text)
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            return (
                f"{text}: cron needs six fields (minutes hours day-of-month month "
                f"day-of-week year), got {len(fields)}"
            )
        if (fields[2] == "?") == (fields[4] == "?"):
            return f"{text}: cron needs '?' in exactly one of day-of-month and day-of-week"
        for index, field in enumerate(fields):
            if not _cron_field_ok(index, field):
                name, low, high, names, _ = _CRON_FIELDS[index]
                span = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
                return f"{text}: the {name} field {field!r} is not valid ({span})"
        return None
    at = _AT.match(text)
    if at:
        if not scheduler:
            return f"{text}: one-time at() schedules exist only in EventBridge Scheduler"
        try:
            dt.datetime.fromisoformat(at.group(1))
        except ValueError:
            return f"{text}: not a valid date and time"
        return None
    allowed = "rate(...), cron(...) or at(...)" if scheduler else "rate(...) or cron(...)"
    return f"{text}: not {allowed}"


def _expression_valid(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    expression = node.get("scheduleExpression")
    if not isinstance(expression, str) or not expression:
        return  # unknown, absent (a pattern rule) or of the wrong type
    problem = schedule_expression_problem(expression, scheduler=node.type == SCHEDULE)
    if problem:
        yield Finding(f"invalid scheduleExpression {problem}")


register(
    Rule(
        id="EVENTS-006",
        name="schedule-expression-valid",
        title="Schedule expressions are valid",
        description=(
            "scheduleExpression is rate(1 minute|hour|day), rate(N minutes|hours|days) with "
            "N > 1, cron(...) with six fields in range and '?' in exactly one day field, or "
            "(Scheduler only) at(yyyy-mm-ddThh:mm:ss) naming a real date and time."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(SCHEDULE, EVENT_RULE),
        reads={SCHEDULE: ("scheduleExpression",), EVENT_RULE: ("scheduleExpression",)},
        anchors=anchors(),
        knob="schedule",
        raw="schedule_expression",
        remediation="Raw: schedule_expression='rate(5 minutes)' or 'cron(15 19 * * ? *)'.",
        check=_expression_valid,
        examples=Examples(
            compliant=(
                case(SCHEDULE, {"scheduleExpression": "rate(5 minutes)"}),
                case(SCHEDULE, {"scheduleExpression": "at(2030-01-01T00:00:00)"}),
                case(EVENT_RULE, {"scheduleExpression": "cron(15 19 * * ? *)"}),
                case(EVENT_RULE, {"eventPattern": json.dumps({"source": ["orders"]})}),
            ),
            non_compliant=(
                case(SCHEDULE, {"scheduleExpression": "rate(5 minute)"}),
                case(EVENT_RULE, {"scheduleExpression": "cron(15 19 * * ?)"}),
                case(EVENT_RULE, {"scheduleExpression": "at(2030-01-01T00:00:00)"}),
                case(SCHEDULE, {"scheduleExpression": "cron(0 12 * * * *)"}),
                case(SCHEDULE, {"scheduleExpression": "at(2030-02-30T00:00:00)"}),
            ),
        ),
    )
)


# EVENTS-007 -------------------------------------------------------------------------------


def _prefer_scheduler(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    expression = node.get("scheduleExpression")
    if known(expression) and expression != "":
        yield Finding(
            f"EventBridge rule runs on schedule {expression}; EventBridge Scheduler has a "
            "per-target DLQ and retry policy, time zones and one-off schedules"
        )


register(
    Rule(
        id="EVENTS-007",
        name="eventbridge-prefer-scheduler",
        title="Scheduled work uses EventBridge Scheduler, not scheduled rules",
        description="Any EventBridge rule with a scheduleExpression is a finding.",
        severity="LOW",
        pillar="OPS",
        scope="resource",
        types=(EVENT_RULE,),
        reads={EVENT_RULE: ("scheduleExpression",)},
        anchors=anchors(),
        knob="",
        raw="aws.scheduler.Schedule(schedule_expression=...)",
        remediation=(
            "Raw: replace the rule and its target with aws.scheduler.Schedule(..., "
            "schedule_expression=..., target=aws.scheduler.ScheduleTargetArgs(...))."
        ),
        check=_prefer_scheduler,
        examples=Examples(
            compliant=(case(EVENT_RULE, {"eventPattern": json.dumps({"source": ["orders"]})}),),
            non_compliant=(case(EVENT_RULE, {"scheduleExpression": "rate(1 hour)"}),),
        ),
    )
)


# EVENTS-008 -------------------------------------------------------------------------------


def _scheduler_cmk(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if not _present(node.get("kmsKeyArn")):
        yield Finding("no kmsKeyArn: the schedule is encrypted with an AWS owned key")


register(
    Rule(
        id="EVENTS-008",
        name="scheduler-cmk",
        title="Schedules are encrypted with a customer-managed KMS key",
        description="kmsKeyArn absent is a finding (off by default).",
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(SCHEDULE,),
        reads={SCHEDULE: ("kmsKeyArn",)},
        anchors=anchors(checkov="CKV_AWS_297"),
        knob="",
        raw="kms_key_arn",
        remediation="Raw: aws.scheduler.Schedule(..., kms_key_arn=key.arn).",
        check=_scheduler_cmk,
        enabled=False,
        examples=Examples(
            compliant=(case(SCHEDULE, {"kmsKeyArn": arn("kms", "key/1234")}),),
            non_compliant=(case(SCHEDULE, {}),),
        ),
    )
)
