"""The runs table: one item per run (`jobName`, `runId`); the workflow owns its status."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def job_id_of(table: Any, job_name: str, run_id: str) -> str | None:
    item = table.get_item(Key={"jobName": job_name, "runId": run_id}, ConsistentRead=True).get(
        "Item"
    )
    return item.get("jobId") if item else None


def keep_job_id(table: Any, job_name: str, run_id: str, job_id: str) -> str:
    """Store `job_id` on the run unless one is there already; the run's job id either way.

    Two deliveries of one start message racing each other both start a job; the first one
    stored wins, so the workflow follows a single job.
    """
    try:
        table.update_item(
            Key={"jobName": job_name, "runId": run_id},
            UpdateExpression="SET jobId = :job",
            ConditionExpression="attribute_exists(runId) AND attribute_not_exists(jobId)",
            ExpressionAttributeValues={":job": job_id},
        )
        return job_id
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    stored = job_id_of(table, job_name, run_id)
    if stored is None:
        raise LookupError(f"run {job_name}/{run_id} is not recorded")
    return stored
