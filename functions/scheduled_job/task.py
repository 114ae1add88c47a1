"""The work a scheduled run does: the template's stand-in. Replace `run` with your job.

`run(job, secret)` is called at most once to completion per slot (schedule + scheduled
time); it must raise when the work failed, so the slot is retried, and return a small
JSON-serialisable summary, which is stored as the slot's result. `secret` is the job's
third-party key read from Secrets Manager (`secret_arn`), or None when it has none.

Keep the work idempotent per slot where you can (write results under the slot's time): a
run that fails half-way is retried from the start.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from slots import ScheduledRun

logger = Logger(child=True)


def run(job: ScheduledRun, secret: str | None) -> dict[str, Any]:
    logger.info(
        "Scheduled work ran",
        extra={"inputKeys": sorted(job.input), "withSecret": secret is not None},
    )
    return {"slot": job.slot, "inputKeys": sorted(job.input)}
