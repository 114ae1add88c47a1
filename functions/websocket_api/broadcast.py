"""Feature-toggle changes (toggles table stream) -> every live client."""

from __future__ import annotations

from typing import Any

import toggles
import ws_sender
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
metrics = Metrics()

sender = ws_sender.sender_from_environment()
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    try:
        _broadcast(record)
    except Exception:
        # The batch processor turns the exception into a batchItemFailure and keeps no trace.
        logger.exception("Toggle change not broadcast", extra={"eventID": record.event_id})
        raise


def _broadcast(record: DynamoDBRecord) -> None:
    message = toggles.change_message((record.raw_event.get("dynamodb") or {}).get("NewImage"))
    result = sender.broadcast(message)
    metrics.add_metric(name="ToggleMessagesSent", unit=MetricUnit.Count, value=result.sent)
    metrics.add_metric(name="ClientGone", unit=MetricUnit.Count, value=result.gone)
    logger.info(
        "Toggle broadcast",
        extra={
            "featureId": message["featureId"],
            "sent": result.sent,
            "gone": result.gone,
            "failed": result.failed,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
