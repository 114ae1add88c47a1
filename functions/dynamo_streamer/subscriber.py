"""Handles each item the API stored, read from the table's stream (INSERT only).

Records are processed one by one with Powertools' `BatchProcessor`: a record that is not an
item the API stored is that record's batch item failure (its sequence number, one ERROR
line), so the mapping bisects and retries from it and finally parks it in the failure
queue; the records before it are done and never re-run.
"""

from __future__ import annotations

import os
from typing import Any

import items
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from echo import bounded
from lambda_tracing import tracer

KEY_NAME = os.environ.get("KEY_NAME", "message")

logger = Logger()
metrics = Metrics()

# Listing every failed record, even when all fail, keeps one response shape: the shard
# resumes at the lowest failed sequence number either way.
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    try:
        item = items.stored_item(record.raw_event, KEY_NAME)
    except items.InvalidRecordError as error:
        logger.error(
            "Stream record is not a stored item; reported as a batch item failure",
            extra={"eventId": record.raw_event.get("eventID"), "reason": str(error)},
        )
        metrics.add_metric(name="InvalidRecords", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "Item received",
        extra={
            "requestId": item.request_id,
            "sequenceNumber": item.sequence_number,
            "characters": len(item.text),
            "preview": bounded(item.text),
        },
    )
    metrics.add_metric(name="ItemsReceived", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    if not event.get("Records"):
        # Powertools refuses an empty batch; Lambda never sends one, a test or replay might.
        return {"batchItemFailures": []}
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
