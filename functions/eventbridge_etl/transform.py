"""Transforms each extracted row: a valid row becomes `RecordTransformed`, a bad one
`RecordFailed` (never an exception: a bad row does not improve with retries).

A message that is not a well-formed `RecordExtracted` event, or whose new event cannot be
put on the bus, is a batch item failure (SQS retries it, then dead-letters it).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import etl_events
import relay
import transformer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer
from models import ExtractedEvent, from_body

BUS_NAME = os.environ["EVENT_BUS_NAME"]
EVENT_SOURCE = os.environ["EVENT_SOURCE"]
ID_COLUMN = os.environ.get("ID_COLUMN", "id")
PUT_ATTEMPTS = int(os.environ.get("PUT_ATTEMPTS", "4"))

logger = Logger()
metrics = Metrics()

events = boto3.client("events")


def handle(body: str) -> list[etl_events.Entry]:
    event = from_body(body, ExtractedEvent)
    detail_type, detail = transformer.transform(event.detail, id_column=ID_COLUMN)
    if detail_type == etl_events.FAILED:
        logger.warning("Bad row", extra={k: detail[k] for k in ("fileKey", "row", "reason")})
        metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="RowsTransformed", unit=MetricUnit.Count, value=1)
    return [etl_events.entry(BUS_NAME, EVENT_SOURCE, detail_type, detail)]


def _log_failure(message_id: str, error: Exception) -> None:
    logger.error(
        "Message not transformed; SQS will redeliver it",
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
