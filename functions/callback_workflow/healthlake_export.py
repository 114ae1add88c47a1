"""Job adapter for the seed's example: an AWS HealthLake FHIR export.

The export writes to `s3://<RESULTS_BUCKET>/exports/<runId>/` with the data store's
`EXPORT_ROLE_ARN` and `EXPORT_KMS_KEY_ARN`; the run id is the client token, so a repeated
start is one job. HealthLake exports the whole data store: `since` is the workflow's window
start, for the item processor to filter on `meta.lastUpdated`.

Grant it through `JobAdapterSpec(module="healthlake_export", statements=[...])`:
`healthlake:StartFHIRExportJob` and `healthlake:DescribeFHIRExportJob` on the data store,
`iam:PassRole` on the export role.
"""

from __future__ import annotations

import os

import boto3
from jobs import JobRejectedError, JobStatus

BUCKET = os.environ["RESULTS_BUCKET"]
DATASTORE_ID = os.environ["DATASTORE_ID"]
EXPORT_ROLE_ARN = os.environ["EXPORT_ROLE_ARN"]
EXPORT_KMS_KEY_ARN = os.environ["EXPORT_KMS_KEY_ARN"]
RUNNING = frozenset({"SUBMITTED", "QUEUED", "IN_PROGRESS"})
COMPLETED = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS"})

healthlake = boto3.client("healthlake")


def start(run_id: str, since: str | None) -> str:
    token = "".join(c for c in run_id if c.isalnum())[:64] or "run"
    try:
        response = healthlake.start_fhir_export_job(
            JobName=f"export-{token}"[:64],
            OutputDataConfig={
                "S3Configuration": {
                    "S3Uri": f"s3://{BUCKET}/exports/{token}/",
                    "KmsKeyId": EXPORT_KMS_KEY_ARN,
                }
            },
            DatastoreId=DATASTORE_ID,
            DataAccessRoleArn=EXPORT_ROLE_ARN,
            ClientToken=token,
        )
    except healthlake.exceptions.ValidationException as error:
        raise JobRejectedError(str(error)) from error
    job_id: str = response["JobId"]
    return job_id


def status(job_id: str) -> JobStatus:
    job = healthlake.describe_fhir_export_job(DatastoreId=DATASTORE_ID, JobId=job_id)[
        "ExportJobProperties"
    ]
    state = job["JobStatus"]
    if state in RUNNING:
        return JobStatus.running()
    if state in COMPLETED:
        uri = job["OutputDataConfig"]["S3Configuration"]["S3Uri"].removeprefix(f"s3://{BUCKET}/")
        # HealthLake writes into a folder named after the data store and the job.
        return JobStatus.completed(
            BUCKET, f"{uri.rstrip('/')}/{DATASTORE_ID}-FHIR_EXPORT-{job_id}/"
        )
    return JobStatus.failed(job.get("Message") or f"export ended {state}")
