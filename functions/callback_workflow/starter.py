"""`start` queue consumer: start the run's job (once) and schedule its first status check.

A redelivered message finds the run's `jobId` and reuses it instead of starting a second
job. The task token travels on in the poll message; it is never stored.
"""

from __future__ import annotations

import os
from typing import Any

import batches
import boto3
import jobs
import runs
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from lambda_tracing import tracer

POLL_QUEUE_URL = os.environ["POLL_QUEUE_URL"]
POLL_INTERVAL_S = int(os.environ["POLL_INTERVAL_S"])

logger = Logger()

adapter = jobs.load_adapter(os.environ["JOB_ADAPTER"])
table = boto3.resource("dynamodb").Table(os.environ["RUNS_TABLE"])
sqs = boto3.client("sqs")
sfn = boto3.client("stepfunctions")
processor = batches.LoggedSqsBatchProcessor(logger)


def start(message: jobs.CallbackMessage) -> str | None:
    """The run's job id, starting the job if the run has none; None if it was rejected."""
    job_id = runs.job_id_of(table, message.job_name, message.run_id)
    if job_id is not None:
        logger.info("Run already has a job; reusing it", extra={"jobId": job_id})
        return job_id
    try:
        started = adapter.start(message.run_id, message.since)
    except jobs.JobRejectedError as error:
        try:
            sfn.send_task_failure(taskToken=message.token, error="JobRejected", cause=str(error))
        except ClientError as failure:
            if not jobs.workflow_has_moved_on(failure):
                raise
        logger.warning("Job rejected", extra={"runId": message.run_id, "reason": str(error)})
        return None
    return runs.keep_job_id(table, message.job_name, message.run_id, started)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    message = jobs.CallbackMessage.parse(record.body)
    job_id = start(message)
    if job_id is None:
        return
    sqs.send_message(
        QueueUrl=POLL_QUEUE_URL, MessageBody=message.poll_body(job_id), DelaySeconds=POLL_INTERVAL_S
    )
    logger.info("Job started", extra={"runId": message.run_id, "jobId": job_id})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
