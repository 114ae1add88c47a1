"""The example workflow's Lambda steps: `collect` usage, then `price` it.

Each step gets the workflow state, `{"record": <the pipe's transformed record>, "results":
{<earlier step>: {"output": ...}}}`, and returns JSON-ready results. Steps are idempotent
(the same input gives the same output): the pipe delivers at least once and cannot name the
execution, so a record can start two executions; the conditional write-back keeps one result.
A step that fails raises its typed error (the state machine's Retry and Catch match its
name) after one ERROR log line naming the record by its keys.
"""

from __future__ import annotations

from typing import Any

import costs
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
metrics = Metrics()


def record_ids(event: Any) -> dict[str, Any]:
    """The record's identity for a log line: its table keys and launch id, no other data."""
    record = event.get("record") if isinstance(event, dict) else None
    if not isinstance(record, dict):
        return {"keys": None, "launchId": None}
    return {"keys": record.get("Keys"), "launchId": record.get("launchId")}


@lambda_handler_decorator
def failures_logged(handler: Any, event: Any, context: LambdaContext) -> Any:
    try:
        return handler(event, context)
    except Exception:
        logger.exception("Step failed", extra=record_ids(event))
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@failures_logged
def collect(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return costs.usage(event["record"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@failures_logged
def price(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    breakdown = costs.price(event["results"]["collect"]["output"])
    logger.info("Priced launch", extra={"launchId": event["record"].get("launchId"), **breakdown})
    return breakdown
