"""Consumes the `second` topic: the end of the `sns` flow, annotated like every hop.

Invoked asynchronously: a message that is not a request path raises, so Lambda retries it
and then sends it to the on-failure queue.
"""

from __future__ import annotations

from typing import Any

import tracing
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

FLOW = "sns"

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    paths = list(tracing.sns_paths(tracer, event, flow=FLOW))
    for path in paths:
        logger.info("Path consumed", extra={"path": path})
    metrics.add_metric(name="PathConsumed", unit=MetricUnit.Count, value=len(paths))
    return {"paths": paths}
