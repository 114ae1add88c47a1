"""A fan-out consumer: one per route, reading only the slice its subscription's filter lets in.

Each message is parsed and logged; a record that breaks the contract is a batch item
failure (logged with its message id), so SQS redelivers it and then parks it in the
queue's DLQ instead of losing it.
"""

from __future__ import annotations

import os
from typing import Any

import fanout
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

ROUTE = os.environ["ROUTE"]

logger = Logger()
metrics = Metrics()
metrics.set_default_dimensions(route=ROUTE)
logger.append_keys(route=ROUTE)

# An all-failed batch is reported record by record rather than raised, so every record
# counts towards the queue's redrive policy the same way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    try:
        message = fanout.message_from_sqs_record(record.raw_event)
    except fanout.InvalidMessageError:
        logger.exception(
            "Message breaks the contract; SQS will redeliver it, then park it in the DLQ",
            extra={"messageId": record.message_id},
        )
        raise
    logger.info(
        "Message received",
        extra={"messageId": message.message_id, "status": message.status, "body": message.body},
    )
    metrics.add_metric(name="MessageReceived", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    if event.get("Records") == []:  # nothing to lose; Powertools would reject it
        return {"batchItemFailures": []}
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
