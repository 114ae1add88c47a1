"""REST `POST /redrives/{queue}`: start a redrive of one registered DLQ; 202.

Unknown queues are a 404 and rates outside 1-500 a 400. While a move task of the DLQ is
active the answer is 409 with that task's rate and handle: SQS allows one move per DLQ and
the running one keeps its rate. A second request for the same queue within the minute gets
the same execution back (the name is deterministic, and `ExecutionAlreadyExists` maps to
it), or 409 when it asks for another rate. The state machine checks again before it moves,
for a request that raced this check. Anything else that fails is a logged 500.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import redrives
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from echo import bounded
from lambda_tracing import tracer

STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]
TARGETS = redrives.load_targets(os.environ["REDRIVE_TARGETS"])
DEFAULT_RATE = int(os.environ.get("DEFAULT_RATE", "10"))
POLL_SECONDS = int(os.environ.get("POLL_SECONDS", "30"))

logger = Logger()

sfn = boto3.client("stepfunctions")
sqs = boto3.client("sqs")


def now() -> datetime:
    return datetime.now(UTC)


def _response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


def redrive(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    queue = (event.get("pathParameters") or {}).get("queue")
    try:
        request = redrives.parse(
            TARGETS,
            queue,
            event.get("body"),
            bool(event.get("isBase64Encoded")),
            default_rate=DEFAULT_RATE,
            poll_seconds=POLL_SECONDS,
        )
    except redrives.RedriveRequestError as error:
        logger.info("Redrive refused", extra={"queue": bounded(queue), "reason": str(error)})
        return error.status, {"message": str(error)}
    logger.append_keys(queue=request.queue)
    listed = sqs.list_message_move_tasks(SourceArn=request.input["dlqArn"], MaxResults=1)
    running = redrives.active_task(listed["Results"])
    if running is not None:
        conflict = redrives.running_conflict(request.queue, running)
        logger.info("Redrive refused: a move is active", extra={"task": conflict})
        return 409, conflict
    name = request.execution_name(now())
    try:
        arn = sfn.start_execution(
            stateMachineArn=STATE_MACHINE_ARN, name=name, input=json.dumps(request.input)
        )["executionArn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        # This minute's redrive of the queue exists (finished, or asked with another rate).
        arn = redrives.execution_arn(STATE_MACHINE_ARN, name)
        started = json.loads(sfn.describe_execution(executionArn=arn)["input"])
        if started["rate"] != request.rate:
            logger.info("Redrive refused: another rate this minute", extra={"executionArn": arn})
            return 409, redrives.other_rate_conflict(request.queue, started["rate"], arn)
    logger.info("Redrive requested", extra={"executionArn": arn})
    return 202, {"queue": request.queue, "rate": request.rate, "executionArn": arn}


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        status, body = redrive(event)
    except Exception:
        # Answered, not raised: API Gateway would turn an unhandled error into a bare 502.
        logger.exception("Redrive failed")
        return _response(500, {"message": "the redrive could not be started; try again"})
    return _response(status, body)
