"""A fake job adapter for tests and demos: an "export" that finishes after a few checks.

Its state lives in the results bucket (`jobs/<jobId>.json`), so it behaves the same across
Lambda instances; `start` writes the output files under `exports/<jobId>/` straight away.
The job id derives from the run id, so starting a run twice is one job.

FAKE_JOB_POLLS: checks answered RUNNING before the outcome (default 1).
FAKE_JOB_OUTCOME: COMPLETED (default) or FAILED.
FAKE_JOB_FILES / FAKE_JOB_RECORDS: output files, and records per file.
"""

from __future__ import annotations

import hashlib
import json
import os

import boto3
from jobs import JobStatus

BUCKET = os.environ["RESULTS_BUCKET"]
s3 = boto3.client("s3")


def _settings() -> tuple[int, str, int, int]:
    return (
        int(os.environ.get("FAKE_JOB_POLLS", "1")),
        os.environ.get("FAKE_JOB_OUTCOME", "COMPLETED"),
        int(os.environ.get("FAKE_JOB_FILES", "2")),
        int(os.environ.get("FAKE_JOB_RECORDS", "3")),
    )


def start(run_id: str, since: str | None) -> str:
    polls, outcome, files, records = _settings()
    job_id = "fake-" + hashlib.sha256(run_id.encode()).hexdigest()[:12]
    for index in range(files):
        lines = [
            json.dumps({"id": f"{job_id}-{index}-{n}", "since": since, "value": n})
            for n in range(records)
        ]
        s3.put_object(
            Bucket=BUCKET,
            Key=f"exports/{job_id}/part-{index:04d}.ndjson",
            Body="\n".join(lines).encode(),
        )
    state = {"pollsLeft": polls, "outcome": outcome, "since": since}
    s3.put_object(Bucket=BUCKET, Key=f"jobs/{job_id}.json", Body=json.dumps(state).encode())
    return job_id


def status(job_id: str) -> JobStatus:
    key = f"jobs/{job_id}.json"
    state = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    if state["pollsLeft"] > 0:
        state["pollsLeft"] -= 1
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(state).encode())
        return JobStatus.running()
    if state["outcome"] == "FAILED":
        return JobStatus.failed("the fake export failed, as configured")
    return JobStatus.completed(BUCKET, f"exports/{job_id}/")
