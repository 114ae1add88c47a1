"""Distributed Map item processor: load one result file into the records table.

Idempotent per file: items are keyed by record id, so processing a file again overwrites
the same items. A bad line raises `BadRecordError` (after one ERROR log line naming the
file), failing this child so the Map's tolerance decides.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import records
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
metrics = Metrics()

s3 = boto3.client("s3")
table = boto3.resource("dynamodb").Table(os.environ["RECORDS_TABLE"])


@lambda_handler_decorator
def failures_logged(handler: Any, event: Any, context: LambdaContext) -> Any:
    """One ERROR line (with the exception's type) naming the file that was not loaded."""
    try:
        return handler(event, context)
    except Exception:
        ids = event if isinstance(event, dict) else {}
        logger.exception(
            "File not loaded", extra={"key": ids.get("key"), "runId": ids.get("runId")}
        )
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@failures_logged
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bucket, key, run_id = event["bucket"], event["key"], event["runId"]
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    # Parse the whole file first: a bad line must not leave it half loaded.
    items = [records.item(r, key, run_id) for r in records.parse_lines(body, key)]
    with table.batch_writer(overwrite_by_pkeys=["id"]) as batch:
        for entry in items:
            batch.put_item(Item=entry)
    metrics.add_metric(name="RecordsLoaded", unit=MetricUnit.Count, value=len(items))
    logger.info("File loaded", extra={"key": key, "records": len(items)})
    return {"key": key, "records": len(items)}
