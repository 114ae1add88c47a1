"""Final results: one put per player's final score on a board (`final: true` records only,
the mapping's filter drops the rest before Lambda is invoked).

Each record is handled on its own through Powertools' batch processor: a record that is
not a score event, or whose put fails, is a batch item failure (one ERROR line each), the
others are written. The put is keyed by (board, player), so a replayed record rewrites the
same item. A record that slipped past the filter without `final: true` is skipped and
counted (`NotFinalRecords`), never written as a final result.
"""

from __future__ import annotations

import os
from typing import Any

import board_table
import boto3
import scores
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]

logger = Logger()
metrics = Metrics()

dynamodb = boto3.client("dynamodb")
# A batch whose every record fails is still answered with its failures, not an exception:
# the response names them, so Lambda resumes at the first instead of bisecting blindly.
processor = BatchProcessor(
    event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
)


def record_handler(record: KinesisStreamRecord) -> None:
    sequence = record.kinesis.sequence_number
    try:
        event = scores.decode(record.raw_event)
    except scores.MalformedRecordError as error:
        logger.error(
            "Record is not a score event; reported as a batch item failure",
            extra={"sequenceNumber": sequence, "reason": str(error)},
        )
        metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=1)
        raise
    if not event.final:
        metrics.add_metric(name="NotFinalRecords", unit=MetricUnit.Count, value=1)
        return
    board_table.put_item(dynamodb, TABLE_NAME, scores.final_item(event, sequence))
    metrics.add_metric(name="FinalResults", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not event.get("Records"):
        return {"batchItemFailures": []}  # Powertools refuses an empty batch
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
