"""The progress report a workflow state sends to `report` (lambda and eventbridge modes),
validated with Powertools parser, and the message it becomes for the client:
  {"type": "progress", "executionArn", "step", "progress", "message"[, "error"]}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
