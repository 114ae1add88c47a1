"""What `destined` does with one request, and how destination records are read back.

No AWS calls here. The function itself never routes anything: it returns a result or raises,
and Lambda's asynchronous invocation config sends the outcome (a destination record) to the
event bus, whose rules pick `on_success` or `on_failure`.

The request contract (what the API's SNS integration publishes):
  {"mode": "succeed" | "fail", "requestId": "<API Gateway request id>"}
The result contract (what the bus's "success" rule matches on):
  {"source": <PAYLOAD_SOURCE>, "action": "message", "message": "...", "requestId": "..."}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MODES = ("fail", "succeed")
ACTION = "message"


class InvalidRequestError(ValueError):
    """The SNS event or its message does not follow the request contract."""


class DestinedFailure(RuntimeError):
    """The caller asked for a failure (`mode=fail`): the failure destination's proof."""


class MalformedRecordError(ValueError):
    """An EventBridge event that is not a Lambda destination record."""


@dataclass(frozen=True)
class Request:
    mode: str
    request_id: str
    message_id: str


def request_from_sns_event(event: Any) -> Request:
    """The one request in an SNS event (SNS delivers one record per invocation)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or len(records) != 1:
        count = len(records) if isinstance(records, list) else "no"
        raise InvalidRequestError(f"expected one SNS record, got {count}")
    sns = records[0].get("Sns") if isinstance(records[0], Mapping) else None
    if not isinstance(sns, Mapping) or not isinstance(sns.get("Message"), str):
        raise InvalidRequestError("the record has no Sns.Message string")
    try:
        body = json.loads(sns["Message"])
    except json.JSONDecodeError as error:
        raise InvalidRequestError(f"the message is not JSON: {error.msg}") from error
    if not isinstance(body, Mapping):
        raise InvalidRequestError("the message must be a JSON object")
    mode = body.get("mode")
    if mode not in MODES:
        raise InvalidRequestError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    request_id = body.get("requestId")
    return Request(
        mode=mode,
        request_id=request_id if isinstance(request_id, str) else "",
        message_id=str(sns.get("MessageId", "")),
    )


def outcome(request: Request, source: str) -> dict[str, str]:
    """The result for a `succeed` request; raises DestinedFailure for `fail`."""
    if request.mode == "fail":
        raise DestinedFailure(f"request {request.request_id or request.message_id} asked to fail")
    return {
        "source": source,
        "action": ACTION,
        "message": "hello from destined: routed by the invoke config, not by code",
        "requestId": request.request_id,
    }


@dataclass(frozen=True)
class DestinationRecord:
    """The parts of a destination record (`detail` of the EventBridge event) worth logging."""

    condition: str
    request_id: str
    function_arn: str
    attempts: int
    request_payload: Any
    response_payload: Any

    @property
    def error_type(self) -> str | None:
        payload = self.response_payload
        value = payload.get("errorType") if isinstance(payload, Mapping) else None
        return value if isinstance(value, str) else None

    @property
    def error_message(self) -> str | None:
        payload = self.response_payload
        value = payload.get("errorMessage") if isinstance(payload, Mapping) else None
        return value if isinstance(value, str) else None

    def replay(self) -> dict[str, Any]:
        """What it takes to send the request again: the SNS message and where it came from."""
        records = (
            self.request_payload.get("Records") if isinstance(self.request_payload, Mapping) else []
        )
        sns = records[0].get("Sns", {}) if isinstance(records, list) and records else {}
        if not isinstance(sns, Mapping):
            sns = {}
        return {
            "topicArn": sns.get("TopicArn"),
            "message": sns.get("Message"),
            "messageAttributes": sns.get("MessageAttributes") or {},
        }


def destination_record(event: Any) -> DestinationRecord:
    """Reads a Lambda destination record delivered by EventBridge (the record is `detail`)."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if not isinstance(detail, Mapping):
        raise MalformedRecordError("the event has no detail object")
    context = detail.get("requestContext")
    if not isinstance(context, Mapping):
        raise MalformedRecordError("detail has no requestContext: not a destination record")
    condition = context.get("condition")
    request_id = context.get("requestId")
    if not isinstance(condition, str) or not isinstance(request_id, str):
        raise MalformedRecordError("requestContext needs condition and requestId strings")
    attempts = context.get("approximateInvokeCount")
    return DestinationRecord(
        condition=condition,
        request_id=request_id,
        function_arn=str(context.get("functionArn", "")),
        attempts=attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0,
        request_payload=detail.get("requestPayload"),
        response_payload=detail.get("responsePayload"),
    )
