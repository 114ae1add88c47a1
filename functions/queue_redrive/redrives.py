"""Redrive requests: which queue, at what rate, under which execution name. No AWS calls.

REDRIVE_TARGETS (set by the component) is the allow-list: `{name: {dlqArn, dlqUrl,
destinationArn}}`. The execution name is the queue plus the UTC minute, so a repeated
request within the minute is the same execution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_RATE = 500  # StartMessageMoveTask's ceiling


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
    queue: str | None,
    body: str | None,
    *,
    default_rate: int,
    poll_seconds: int,
) -> Redrive:
    """The redrive a request asks for; RedriveRequestError (404 or 400) when it cannot be."""
    if not queue or queue not in targets:
        raise RedriveRequestError(404, f"no redrivable queue named {queue!r}")
    try:
        options = json.loads(body) if body else {}
    except ValueError as error:
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
