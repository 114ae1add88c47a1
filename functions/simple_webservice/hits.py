"""The hit counter behind the API's catch-all route: `{"path": ..., "hits": N}`.

Works behind an HTTP API (payload 2.0) and a REST API (proxy integration) alike. A path
over the key limit is a 414 and an event without a path a 400, each with a message; a
DynamoDB failure is a 503 the caller may retry (one ERROR line), never a bare 502.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import counter
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]

logger = Logger()
metrics = Metrics()

dynamodb = boto3.client("dynamodb")


def _response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        path = counter.request_path(event)
    except counter.PathTooLongError as error:
        logger.warning("Request path refused", extra={"reason": str(error)})
        return _response(414, {"message": str(error)})
    except counter.InvalidPathError as error:
        logger.warning("Request refused", extra={"reason": str(error)})
        return _response(400, {"message": str(error)})
    try:
        hits = counter.increment(dynamodb, TABLE_NAME, path)
    except (ClientError, BotoCoreError):
        logger.exception("Hit not counted", extra={"path": path})
        return _response(503, {"message": "hit not counted; retry later"})
    metrics.add_metric(name="Hits", unit=MetricUnit.Count, value=1)
    logger.info("Hit counted", extra={"path": path, "hits": hits})
    return _response(200, {"path": path, "hits": hits})
