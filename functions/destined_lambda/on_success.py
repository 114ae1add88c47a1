"""`on_success`: logs each success record the bus's "success" rule routes here."""

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
    if record.condition != "Success":
        # Raising keeps it: EventBridge retries, then the target's DLQ holds the event.
        raise destiny.MalformedRecordError(
            f"a {record.condition} record reached on_success; check the success rule"
        )
    summary = {
        "requestId": record.request_id,
        "functionArn": record.function_arn,
        "attempts": record.attempts,
        "response": record.response_payload,
    }
    logger.info("Destined invocation succeeded", extra=summary)
    metrics.add_metric(name="DestinedSucceeded", unit=MetricUnit.Count, value=1)
    return summary
