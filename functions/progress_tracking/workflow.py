"""The messages of a tracked workflow: no AWS calls, tested directly.

Client -> `start` (the WebSocket message, validated with Powertools parser):
  {"action": "startWorkflow", "requestId": "<1-80 of A-Za-z0-9_->", "request": {...}}
`start` -> client:
  {"type": "started", "requestId", "executionArn"}     also for a resend of the same request
  {"type": "error", "error"}                             invalid message
Report states (lambda and eventbridge modes) -> `report` -> client:
  {"type": "progress", "executionArn", "step", "progress", "message"[, "error"]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


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
    return f"{where}: {first['msg']}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives execution `name` of a standard state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def execution_input(connection_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
    return {"connectionId": connection_id, "request": dict(request)}
