"""Redrive requests: which queue, at what rate, under which execution name. No AWS calls.

REDRIVE_TARGETS (set by the component) is the allow-list: `{name: {dlqArn, dlqUrl,
destinationArn}}`. The execution name is the queue plus the UTC minute, so a repeated
request within the minute is the same execution. A request for a queue whose move task is
still active is a conflict: SQS runs one move per DLQ, at the rate it was started with.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from echo import bounded

MAX_RATE = 500  # StartMessageMoveTask's ceiling
# ListMessageMoveTasks statuses of a task that still holds the DLQ: a second start fails.
ACTIVE_STATUSES = ("RUNNING", "CANCELLING")


class RedriveRequestError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Redrive:
    queue: str
    rate: int
    input: dict[str, Any]

    def execution_name(self, now: datetime) -> str:
        return f"{self.queue}-{now:%Y%m%dT%H%MZ}"


def load_targets(raw: str) -> dict[str, dict[str, str]]:
    targets: dict[str, dict[str, str]] = json.loads(raw)
    return targets


def parse(
    targets: dict[str, dict[str, str]],
    queue: object,
    body: object,
    is_base64_encoded: bool = False,
    *,
    default_rate: int,
    poll_seconds: int,
) -> Redrive:
    """The redrive a request asks for; RedriveRequestError (404 or 400) when it cannot be."""
    if not isinstance(queue, str) or queue not in targets:
        named = None if queue is None else bounded(queue)
        raise RedriveRequestError(404, f"no redrivable queue named {named!r}")
    if body is not None and not isinstance(body, str):
        raise RedriveRequestError(400, "the body must be a JSON object")
    try:
        text = (
            base64.b64decode(body, validate=True).decode() if body and is_base64_encoded else body
        )
        options = json.loads(text) if text else {}
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise RedriveRequestError(400, "the body must be a JSON object") from error
    if not isinstance(options, dict) or set(options) - {"rate"}:
        raise RedriveRequestError(400, 'the body may only hold {"rate": <messages per second>}')
    rate = options.get("rate", default_rate)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= MAX_RATE:
        raise RedriveRequestError(
            400, f"rate must be a whole number of messages per second from 1 to {MAX_RATE}"
        )
    target = targets[queue]
    return Redrive(
        queue=queue,
        rate=rate,
        input={
            "queue": queue,
            "dlqArn": target["dlqArn"],
            "dlqUrl": target["dlqUrl"],
            "destinationArn": target["destinationArn"],
            "rate": rate,
            "pollSeconds": poll_seconds,
        },
    )


def execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def active_task(results: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The DLQ's move task still running, from `ListMessageMoveTasks` (newest first)."""
    if results and results[0].get("Status") in ACTIVE_STATUSES:
        return results[0]
    return None


def running_conflict(queue: str, task: Mapping[str, Any]) -> dict[str, Any]:
    """The 409 body for a request that came while `task` moves the queue's DLQ. `rate` is
    None when the task moves at the rate SQS chose (no MaxNumberOfMessagesPerSecond)."""
    rate = task.get("MaxNumberOfMessagesPerSecond")
    pace = f"at {rate} messages per second" if rate is not None else "at the rate SQS chose"
    return {
        "message": (
            f"a move of the {queue} DLQ is already {task['Status'].lower()} {pace}; "
            "a new rate applies only to the next move"
        ),
        "queue": queue,
        "status": task["Status"],
        "rate": rate,
        "taskHandle": task.get("TaskHandle"),
        "moved": task.get("ApproximateNumberOfMessagesMoved"),
        "toMove": task.get("ApproximateNumberOfMessagesToMove"),
    }


def other_rate_conflict(queue: str, rate: int, execution: str) -> dict[str, Any]:
    """The 409 body for a request within the minute of an execution started at `rate`."""
    return {
        "message": (
            f"this minute's redrive of {queue} was started at {rate} messages per second; "
            "ask again in the next minute for another rate"
        ),
        "queue": queue,
        "rate": rate,
        "executionArn": execution,
    }
