"""The message contract of the fan-out, read back from a queue. No AWS calls here.

The API publishes the request body unchanged as the SNS message, with a `status` String
message attribute taken from the body's `status`; subscriptions deliver it raw, so an SQS
record's body is that JSON and its `status` message attribute is the one the subscription's
filter policy selected on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STATUS_ATTRIBUTE = "status"


class InvalidMessageError(ValueError):
    """A queued record that does not follow the message contract."""


@dataclass(frozen=True)
class Message:
    message_id: str
    status: str
    body: Mapping[str, Any]


def message_from_sqs_record(record: Mapping[str, Any]) -> Message:
    """Reads one raw-delivered SNS message from an SQS record; raises InvalidMessageError."""
    message_id = record.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidMessageError("the record has no messageId")
    raw = record.get("body")
    if not isinstance(raw, str):
        raise InvalidMessageError("the record has no body string")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidMessageError(f"the body is not JSON: {error.msg}") from error
    if not isinstance(body, Mapping):
        raise InvalidMessageError("the body must be a JSON object")
    attributes = record.get("messageAttributes") or {}
    attribute = attributes.get(STATUS_ATTRIBUTE) if isinstance(attributes, Mapping) else None
    status = attribute.get("stringValue") if isinstance(attribute, Mapping) else None
    if not isinstance(status, str) or not status:
        raise InvalidMessageError("the record has no status message attribute")
    if body.get("status") != status:
        raise InvalidMessageError(
            f"the status attribute ({status!r}) differs from the body's ({body.get('status')!r})"
        )
    return Message(message_id=message_id, status=status, body=body)
