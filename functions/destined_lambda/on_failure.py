"""`on_failure`: logs each failure record with what it takes to replay the request."""

from __future__ import annotations

from typing import Any

import destiny
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    record = destiny.destination_record(event)
    if record.condition == "Success":
        raise destiny.MalformedRecordError("a Success record reached on_failure")
    summary = {
        "requestId": record.request_id,
        "functionArn": record.function_arn,
        "condition": record.condition,
        "attempts": record.attempts,
        "errorType": record.error_type,
        "errorMessage": record.error_message,
        "replay": record.replay(),
    }
    logger.error("Destined invocation failed; replay the request to retry it", extra=summary)
    metrics.add_metric(name="DestinedFailed", unit=MetricUnit.Count, value=1)
    return summary
