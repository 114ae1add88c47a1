"""`destined`: answers one SNS-delivered request, and leaves the routing to Lambda.

SNS invokes it asynchronously, so its function's invoke config applies: a returned result
becomes an on-success destination record and a raised error (after the configured retries)
an on-failure record, both sent to the pattern's event bus. Nothing here knows the bus.
"""

from __future__ import annotations

import os
from typing import Any

import destiny
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

PAYLOAD_SOURCE = os.environ["PAYLOAD_SOURCE"]

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    request = destiny.request_from_sns_event(event)
    logger.append_keys(mode=request.mode, requestId=request.request_id)
    metrics.add_metric(name=f"Requested_{request.mode}", unit=MetricUnit.Count, value=1)
    result = destiny.outcome(request, PAYLOAD_SOURCE)
    logger.info("Request served; the invoke config routes the result")
    return result
