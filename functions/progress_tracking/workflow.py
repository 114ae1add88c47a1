"""The messages of a tracked workflow: no AWS calls, tested directly.

Client -> `start` (the WebSocket message, checked here):
  {"action": "startWorkflow", "requestId": "<1-80 of A-Za-z0-9_->", "request": {...}}
`start` -> client:
  {"type": "started", "requestId", "executionArn"}     also for a resend of the same request
  {"type": "error", "error"}                             invalid message
  {"type": "error", "requestId", "error"}                the request id names another request
Report states (lambda and eventbridge modes) -> `report` -> client (`progress_report.py`):
  {"type": "progress", "executionArn", "step", "progress", "message"[, "error"]}

The start message is three fields, so it is checked by hand rather than by a pydantic model:
importing pydantic would add about a third of `import boto3` to `start`'s cold start. The
errors read as pydantic's (`requestId: Field required`), the first problem in field order.
Text a client sent is repeated (to it, and in logs) at most `ECHO_LIMIT` characters long.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from echo import bounded

# Step Functions execution names: 1-80 characters, no spaces or wildcards.
REQUEST_ID_PATTERN = "^[A-Za-z0-9_-]{1,80}$"
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")  # matched whole: no trailing newline


class InvalidMessageError(ValueError):
    """The client's message cannot start a workflow; the text says why and is safe to send."""


class RequestConflictError(Exception):
    """The request id already started a workflow for another request."""


@dataclass(frozen=True)
class StartRequest:
    """Field names are the wire names (camelCase), as in every message of this API."""

    action: str
    requestId: str
    request: dict[str, Any] = field(default_factory=dict)

    def message(self) -> dict[str, Any]:
        """The message as the client sent it, without unknown fields."""
        return {"action": self.action, "requestId": self.requestId, "request": self.request}


def _invalid(where: str, problem: str) -> InvalidMessageError:
    return InvalidMessageError(f"{bounded(where)}: {bounded(problem)}")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _fields(decoded: object) -> StartRequest:
    if not isinstance(decoded, dict):
        raise _invalid("message", "Input should be an object")
    for name in ("action", "requestId"):
        if name not in decoded:
            raise _invalid(name, "Field required")
        if not isinstance(decoded[name], str):
            raise _invalid(name, "Input should be a valid string")
        if name == "requestId" and not _REQUEST_ID.fullmatch(decoded[name]):
            raise _invalid(name, f"String should match pattern '{REQUEST_ID_PATTERN}'")
    request = decoded.get("request", {})
    if not isinstance(request, dict):
        raise _invalid("request", "Input should be an object")
    return StartRequest(action=decoded["action"], requestId=decoded["requestId"], request=request)


def connection_of(event: object) -> str | None:
    """The event's `requestContext.connectionId`, or None however malformed the event is."""
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    found = context.get("connectionId") if isinstance(context, Mapping) else None
    return found if isinstance(found, str) and found else None


def start_request(body: object, is_base64_encoded: bool = False) -> StartRequest:
    """The start message in a WebSocket event's body; InvalidMessageError says what is wrong."""
    if body is not None and not isinstance(body, str):
        raise InvalidMessageError("message: must be a JSON object")
    text = body or "{}"
    if is_base64_encoded:
        try:
            text = base64.b64decode(text, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidMessageError("message: must be a JSON object") from None
    try:
        decoded = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:  # json.JSONDecodeError, NaN or Infinity
        raise _invalid("message", f"Invalid JSON: {error}") from None
    return _fields(decoded)


def conflict_message(request_id: str) -> str:
    return (
        f"requestId {bounded(request_id)} already started a workflow for another request; "
        "use a new requestId"
    )


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives execution `name` of a standard state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def execution_input(connection_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
    return {"connectionId": connection_id, "request": dict(request)}
