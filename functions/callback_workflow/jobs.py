"""The job adapter contract, and the callback rules shared by `starter` and `poller`.

An adapter is a module with `start(run_id, since) -> job_id` and `status(job_id) ->
JobStatus`; `JOB_ADAPTER` names it. `start` must be idempotent per run id where the job's
API allows (a client token), and raise `JobRejectedError` for a request that can never
succeed, so the workflow fails at once instead of waiting for its heartbeat to lapse.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from botocore.exceptions import ClientError

# Step Functions' answers when the workflow has moved on (timed out, stopped, finished).
GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class JobRejectedError(Exception):
    """The job cannot be started with this request; retrying will not help."""


class InvalidMessageError(ValueError):
    """A queue message that does not follow the contract below."""


@dataclass(frozen=True)
class JobStatus:
    state: Literal["RUNNING", "COMPLETED", "FAILED"]
    bucket: str | None = None
    prefix: str | None = None
    reason: str | None = None

    @classmethod
    def running(cls) -> JobStatus:
        return cls("RUNNING")

    @classmethod
    def completed(cls, bucket: str, prefix: str) -> JobStatus:
        return cls("COMPLETED", bucket=bucket, prefix=prefix)

    @classmethod
    def failed(cls, reason: str) -> JobStatus:
        return cls("FAILED", reason=reason)


@dataclass(frozen=True)
class CallbackMessage:
    """A start message `{token, jobName, runId, since}` or a poll message (+ `jobId`)."""

    token: str
    job_name: str
    run_id: str
    since: str | None = None
    job_id: str | None = None

    @classmethod
    def parse(cls, body: str) -> CallbackMessage:
        try:
            document = json.loads(body)
            return cls(
                token=_text(document, "token"),
                job_name=_text(document, "jobName"),
                run_id=_text(document, "runId"),
                since=document.get("since"),
                job_id=document.get("jobId"),
            )
        except (ValueError, TypeError, AttributeError) as error:
            raise InvalidMessageError(f"not a callback message: {error}") from error

    def poll_body(self, job_id: str) -> str:
        return json.dumps(
            {"token": self.token, "jobName": self.job_name, "runId": self.run_id, "jobId": job_id}
        )


def _text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def load_adapter(name: str) -> ModuleType:
    adapter = importlib.import_module(name)
    for function in ("start", "status"):
        if not callable(getattr(adapter, function, None)):
            raise ValueError(f"job adapter {name!r} has no {function}() function")
    return adapter


def success_output(status: JobStatus, job_id: str) -> str:
    return json.dumps({"bucket": status.bucket, "prefix": status.prefix, "jobId": job_id})


def workflow_has_moved_on(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in GONE
