"""`poll` queue consumer: check the job and report to the waiting workflow.

RUNNING: heartbeat the task and check again after `POLL_INTERVAL_S`; COMPLETED: resume the
workflow with `{bucket, prefix, jobId}`; FAILED: fail the task with `JobFailed` and the
reason. When Step Functions answers that the task is gone (timed out, stopped), the message
is dropped: the workflow has moved on and nothing can resume it.
"""

from __future__ import annotations

import os
from typing import Any

import batches
import boto3
import jobs
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
sqs = boto3.client("sqs")
sfn = boto3.client("stepfunctions")
processor = batches.LoggedSqsBatchProcessor(logger)


def report(message: jobs.CallbackMessage, status: jobs.JobStatus) -> None:
    job_id = str(message.job_id)
    if status.state == "RUNNING":
        sfn.send_task_heartbeat(taskToken=message.token)
        sqs.send_message(
            QueueUrl=POLL_QUEUE_URL,
            MessageBody=message.poll_body(job_id),
            DelaySeconds=POLL_INTERVAL_S,
        )
    elif status.state == "COMPLETED":
        sfn.send_task_success(taskToken=message.token, output=jobs.success_output(status, job_id))
    else:
        sfn.send_task_failure(
            taskToken=message.token, error="JobFailed", cause=status.reason or "no reason given"
        )


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    message = jobs.CallbackMessage.parse(record.body)
    if message.job_id is None:
        raise jobs.InvalidMessageError("a poll message needs a jobId")
    status = adapter.status(message.job_id)
    log = {"runId": message.run_id, "jobId": message.job_id, "state": status.state}
    try:
        report(message, status)
    except ClientError as error:
        if not jobs.workflow_has_moved_on(error):
            raise
        logger.warning("The workflow has moved on; dropping the check", extra=log)
        return
    logger.info("Job checked", extra=log)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
