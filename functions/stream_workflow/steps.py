"""The example workflow's Lambda steps: `collect` usage, then `price` it.

Each step gets the workflow state, `{"record": <the pipe's transformed record>, "results":
{<earlier step>: {"output": ...}}}`, and returns JSON-ready results. Steps are idempotent
(the same input gives the same output): the pipe delivers at least once and cannot name the
execution, so a record can start two executions; the conditional write-back keeps one result.
"""

from __future__ import annotations

from typing import Any

import costs
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def collect(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return costs.usage(event["record"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def price(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    breakdown = costs.price(event["results"]["collect"]["output"])
    logger.info("Priced launch", extra={"launchId": event["record"].get("launchId"), **breakdown})
    return breakdown
