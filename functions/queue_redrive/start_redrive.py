"""REST `POST /redrives/{queue}`: start a redrive of one registered DLQ; 202.

Unknown queues are a 404 and rates outside 1-500 a 400. A second request for the same
queue within the minute gets the same execution back: the name is deterministic, and
`ExecutionAlreadyExists` maps to it. The state machine itself refuses to start a second
move while one is running for the queue.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import redrives
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]
TARGETS = redrives.load_targets(os.environ["REDRIVE_TARGETS"])
DEFAULT_RATE = int(os.environ.get("DEFAULT_RATE", "10"))
POLL_SECONDS = int(os.environ.get("POLL_SECONDS", "30"))

logger = Logger()
tracer = Tracer()

sfn = boto3.client("stepfunctions")


def now() -> datetime:
    return datetime.now(UTC)


def _response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue = (event.get("pathParameters") or {}).get("queue")
    try:
        redrive = redrives.parse(
            TARGETS,
            queue,
            event.get("body"),
            default_rate=DEFAULT_RATE,
            poll_seconds=POLL_SECONDS,
        )
    except redrives.RedriveRequestError as error:
        logger.info("Redrive refused", extra={"queue": queue, "reason": str(error)})
        return _response(error.status, {"message": str(error)})
    name = redrive.execution_name(now())
    try:
        arn = sfn.start_execution(
            stateMachineArn=STATE_MACHINE_ARN, name=name, input=json.dumps(redrive.input)
        )["executionArn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        # This minute's redrive of the queue exists (finished, or asked with another rate).
        arn = redrives.execution_arn(STATE_MACHINE_ARN, name)
    logger.info("Redrive requested", extra={"queue": redrive.queue, "executionArn": arn})
    return _response(202, {"queue": redrive.queue, "rate": redrive.rate, "executionArn": arn})
