"""What one scheduled run is: the schedule, the slot's time, the attempt and the input.

The schedule's input (set by the `ScheduledJob` component) carries Scheduler's context
attributes, substituted for each invocation:

    {"schedule": "<schedule name>", "scheduledTime": "<aws.scheduler.scheduled-time>",
     "executionId": "<aws.scheduler.execution-id>",
     "attemptNumber": "<aws.scheduler.attempt-number>", "input": {...}}

A slot is (schedule, scheduled time): every retry of a slot, by Scheduler or by Lambda,
carries the same two, while the execution id and the attempt number change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


class InvalidScheduledEvent(ValueError):
    """The event is not a scheduled run: a field is missing, of the wrong type or unsubstituted
    (a console test event that still says `<aws.scheduler.scheduled-time>`)."""


@dataclass(frozen=True)
class ScheduledRun:
    schedule: str
    scheduled_time: str  # UTC, second precision, `2030-01-01T19:15:00Z`
    execution_id: str | None = None
    attempt: int = 1
    input: dict[str, Any] = field(default_factory=dict)

    @property
    def slot(self) -> str:
        """The idempotency key's text: one per schedule and scheduled time."""
        return f"{self.schedule}@{self.scheduled_time}"


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidScheduledEvent(f"{key} must be a non-empty string (got {value!r})")
    if value.startswith("<aws.scheduler."):
        raise InvalidScheduledEvent(f"{key} was not substituted by Scheduler (got {value!r})")
    return value


def normalise_time(text: str) -> str:
    """An ISO 8601 time with an offset (Scheduler sends `...Z`), as UTC `...Z` text, so one
    slot has one key however its time is written."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        message = f"scheduledTime is not an ISO 8601 time (got {text!r})"
        raise InvalidScheduledEvent(message) from None
    if when.tzinfo is None:
        raise InvalidScheduledEvent(f"scheduledTime needs a UTC offset or Z (got {text!r})")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _attempt(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidScheduledEvent(f"attemptNumber must be a number (got {value!r})")
    text = str(value)
    if not text.isdigit() or int(text) < 1:
        raise InvalidScheduledEvent(f"attemptNumber must be a number from 1 (got {value!r})")
    return int(text)


def parse_event(event: Any) -> ScheduledRun:
    """The run an invocation is about, or InvalidScheduledEvent saying what is wrong."""
    if not isinstance(event, dict):
        raise InvalidScheduledEvent(f"the event must be a JSON object (got {type(event).__name__})")
    payload = event.get("input", {})
    if not isinstance(payload, dict):
        raise InvalidScheduledEvent(f"input must be a JSON object (got {type(payload).__name__})")
    execution_id = event.get("executionId")
    if execution_id is not None and not isinstance(execution_id, str):
        raise InvalidScheduledEvent(f"executionId must be a string (got {execution_id!r})")
    return ScheduledRun(
        schedule=_text(event, "schedule"),
        scheduled_time=normalise_time(_text(event, "scheduledTime")),
        execution_id=execution_id,
        attempt=_attempt(event.get("attemptNumber")),
        input=payload,
    )
