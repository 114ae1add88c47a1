"""Loads each transformed row into the sink table, then announces `RecordLoaded`.

The write is an unconditional PutItem keyed on the row's id, so a redelivered message or an
archive replay overwrites the same item. An item DynamoDB refuses (over 400 KB...) becomes
`RecordFailed`; any other failure (throttling, a malformed message, the bus) is a batch
item failure, retried by SQS and then dead-lettered.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import etl_events
import relay
import sink
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from lambda_tracing import tracer
from models import TransformedEvent, from_body

TABLE_NAME = os.environ["TABLE_NAME"]
BUS_NAME = os.environ["EVENT_BUS_NAME"]
EVENT_SOURCE = os.environ["EVENT_SOURCE"]
PUT_ATTEMPTS = int(os.environ.get("PUT_ATTEMPTS", "4"))
STAGE = "load"

logger = Logger()
metrics = Metrics()

events = boto3.client("events")
dynamodb = boto3.client("dynamodb")


def handle(body: str) -> list[etl_events.Entry]:
    detail = from_body(body, TransformedEvent).detail
    try:
        sink.put(dynamodb, TABLE_NAME, detail)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in sink.REFUSED:
            raise
        reason = f"DynamoDB refused the item: {error.response['Error'].get('Message', code)}"
        logger.warning("Row not loaded", extra={"fileKey": detail.fileKey, "row": detail.row})
        metrics.add_metric(name="RowsRefused", unit=MetricUnit.Count, value=1)
        failed = etl_events.failed_detail(
            detail.fileKey, detail.etag, detail.row, stage=STAGE, reason=reason
        )
        return [etl_events.entry(BUS_NAME, EVENT_SOURCE, etl_events.FAILED, failed)]
    metrics.add_metric(name="RowsLoaded", unit=MetricUnit.Count, value=1)
    loaded = {"fileKey": detail.fileKey, "etag": detail.etag, "row": detail.row, "id": detail.id}
    return [etl_events.entry(BUS_NAME, EVENT_SOURCE, etl_events.LOADED, loaded)]


def _log_failure(message_id: str, error: Exception) -> None:
    logger.error(
        "Message not loaded; SQS will redeliver it",
        extra={"messageId": message_id, "error": f"{type(error).__name__}: {error}"},
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = relay.relay(
        event.get("Records") or [],
        handle,
        client=events,
        attempts=PUT_ATTEMPTS,
        on_error=_log_failure,
    )
    return report.response()
