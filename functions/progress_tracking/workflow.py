"""The messages of a tracked workflow: no AWS calls, tested directly.

Client -> `start` (the WebSocket message, validated with Powertools parser):
  {"action": "startWorkflow", "requestId": "<1-80 of A-Za-z0-9_->", "request": {...}}
`start` -> client:
  {"type": "started", "requestId", "executionArn"}     also for a resend of the same request
  {"type": "error", "error"}                             invalid message
  {"type": "error", "requestId", "error"}                the request id names another request
Report states (lambda and eventbridge modes) -> `report` -> client:
  {"type": "progress", "executionArn", "step", "progress", "message"[, "error"]}

Text a client sent is repeated (to it, and in logs) at most `ECHO_LIMIT` characters long.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from echo import bounded
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class InvalidMessageError(ValueError):
    """The client's message cannot start a workflow; the text says why and is safe to send."""


class RequestConflictError(Exception):
    """The request id already started a workflow for another request."""


class StartRequest(BaseModel):
    """Field names are the wire names (camelCase), as in every message of this API."""

    model_config = ConfigDict(extra="ignore")

    action: str
    # Step Functions execution names: 1-80 characters, no spaces or wildcards.
    requestId: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")
    request: dict[str, Any] = Field(default_factory=dict)


class ProgressReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    connectionId: str = Field(min_length=1)
    executionArn: str = Field(min_length=1)
    step: str
    progress: int = Field(ge=0, le=100)
    message: str = ""
    error: str | None = None

    def message_for_client(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "progress",
            "executionArn": self.executionArn,
            "step": self.step,
            "progress": self.progress,
            "message": self.message,
        }
        if self.error is not None:
            message["error"] = self.error
        return message


def validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    return f"{bounded(where)}: {bounded(first['msg'])}"


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
        # Powertools parses JSON text as well as a dict; its signature names only the dict.
        return parse(event=text, model=StartRequest)  # type: ignore[call-overload]
    except ValidationError as error:
        raise InvalidMessageError(validation_message(error)) from error


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
