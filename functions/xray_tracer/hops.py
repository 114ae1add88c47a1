"""What travels between the hops of the traced fan-out, and how each hop reads it.

The API publishes the request path as the `fanout` message; every flow reads it back from
its SNS record, the SQS hop wraps it in a small JSON body, and the second topic carries it
as is. Anything else is a poison message: a typed error, so SNS-invoked functions retry and
then park it in their on-failure queue, and the SQS consumer reports it as a batch item
failure.
"""

from __future__ import annotations

import json
from typing import Any

MAX_PATH_LENGTH = 1024  # far above any real route; keeps annotations and keys small
QUEUE_MESSAGE_VERSION = 1


class InvalidMessage(ValueError):
    """A message that is not a request path (or a queue body that does not carry one)."""


class InjectedFault(RuntimeError):
    """The fault `failure_rate` injects into http_flow, so it shows on the service map."""


class DownstreamError(RuntimeError):
    """The external URL answered with a server error."""


def request_path(message: Any) -> str:
    """The request path a message carries: `/` followed by printable characters."""
    if not isinstance(message, str) or not message.startswith("/"):
        raise InvalidMessage(f"expected a request path starting with '/' (got {message!r:.80})")
    if len(message) > MAX_PATH_LENGTH:
        raise InvalidMessage(f"request path longer than {MAX_PATH_LENGTH} characters")
    if not message.isprintable():
        raise InvalidMessage("request path holds control characters")
    return message


def sns_path(record: Any) -> str:
    """The request path of one SNS record (`Records[n]` of an SNS invocation)."""
    sns = record.get("Sns") if isinstance(record, dict) else None
    if not isinstance(sns, dict) or "Message" not in sns:
        raise InvalidMessage("not an SNS record: no Sns.Message")
    return request_path(sns["Message"])


def sns_records(event: Any) -> list[dict[str, Any]]:
    """The records of an SNS invocation; SNS sends exactly one, never none."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        raise InvalidMessage("an SNS invocation without records")
    return records


def queue_body(path: str) -> str:
    """The SQS hop's message body."""
    return json.dumps({"v": QUEUE_MESSAGE_VERSION, "path": request_path(path)})


def path_from_queue_body(body: Any) -> str:
    """The request path of an SQS hop message body."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError) as error:
        raise InvalidMessage(f"queue message body is not JSON: {error}") from error
    if not isinstance(message, dict) or message.get("v") != QUEUE_MESSAGE_VERSION:
        raise InvalidMessage(f"queue message is not version {QUEUE_MESSAGE_VERSION} of the hop")
    return request_path(message.get("path"))


def should_inject(failure_rate: float, draw: float) -> bool:
    """Whether this call fails on purpose: `draw` is uniform in [0, 1)."""
    return draw < failure_rate


def trace_header(root: str, parent: str, sampled: bool) -> str:
    """An X-Ray trace header (`AWSTraceHeader`, `X-Amzn-Trace-Id`) naming `parent` as the
    caller, so the next service's segment hangs under it."""
    return f"Root={root};Parent={parent};Sampled={1 if sampled else 0}"


def failure_rate(value: str) -> float:
    """`FAILURE_RATE` as a fraction in [0, 1]."""
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"FAILURE_RATE must be between 0 and 1 (got {value})")
    return rate
