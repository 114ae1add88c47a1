"""`POST /tasks` (with `create_api`): queue one task, answer 201 with its id.

The body is `{"payload": <any JSON>, "taskId": "<optional id>"}`. A body that is not such
an object is a 400 (one ERROR line); a repeated `taskId` is a 409, never an overwrite.
Producers in code call `tasks.put_task` with the same rules instead.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import boto3
import tasks
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]
TASK_TTL_S = int(os.environ.get("TASK_TTL_S", "3600"))
MAX_PAYLOAD_BYTES = 350_000  # leaves room in DynamoDB's 400 KB item for the other attributes
_TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

logger = Logger()

table = boto3.resource("dynamodb").Table(TABLE_NAME)


def _response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


def parse(body: Any) -> tuple[Any, str | None]:
    """(payload, task id) from the request body; ValueError says what is wrong."""
    if not isinstance(body, str) or not body.strip():
        raise ValueError("request body is required")
    if len(body.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"request body is over {MAX_PAYLOAD_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise ValueError("request body must be JSON") from None
    if not isinstance(document, dict) or "payload" not in document:
        raise ValueError('request body must be an object with a "payload"')
    task_id = document.get("taskId")
    if task_id is not None and (not isinstance(task_id, str) or not _TASK_ID.match(task_id)):
        raise ValueError("taskId must be 1-128 letters, digits, '_', '.', ':' or '-'")
    return document["payload"], task_id


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        payload, task_id = parse(event.get("body"))
    except ValueError as error:
        logger.error("Task rejected", extra={"status": 400, "reason": str(error)})
        return _response(400, {"message": str(error)})
    try:
        created = tasks.put_task(
            table, payload, now_ms=int(time.time() * 1000), ttl_s=TASK_TTL_S, task_id=task_id
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            logger.info("Task id already queued", extra={"taskId": task_id})
            return _response(409, {"message": f"task {task_id} already exists"})
        # A bare 502 from API Gateway would hide which request failed.
        logger.exception("Task not queued")
        return _response(500, {"message": "task not queued; retry it later"})
    logger.info("Task queued", extra={"taskId": created})
    return _response(201, {"taskId": created})
