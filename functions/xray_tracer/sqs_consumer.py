"""Consumes the hop queue: one subsegment per message, annotated with the flow and path.

X-Ray links this invocation to `sqs_flow`'s trace through each message's `AWSTraceHeader`
by itself; nothing here rebuilds segments. A message that is not a hop message is a batch
item failure: SQS redelivers it and, after the queue's receive count, moves it to the DLQ.
"""

from __future__ import annotations

from typing import Any

import hops
import tracing
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

FLOW = "sqs"

logger = Logger()
metrics = Metrics()

# A batch where every record fails still answers with the list, not an exception.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    try:
        path = hops.path_from_queue_body(record.body)
    except hops.InvalidMessage:
        logger.exception(
            "Not a hop message; reported as a batch item failure",
            extra={"messageId": record.message_id},
        )
        raise
    tracing.annotate(tracer, flow=FLOW, path=path)
    logger.info("Path consumed", extra={"path": path, "messageId": record.message_id})
    metrics.add_metric(name="PathConsumed", unit=MetricUnit.Count, value=1)
    return path


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    tracing.annotate(tracer, flow=FLOW)
    tracing.attach_event(tracer, event)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
