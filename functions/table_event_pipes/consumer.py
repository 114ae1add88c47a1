"""Example consumer of the domain events: processes each event once per `sourceEventId`.

EventBridge and Pipes deliver at least once, so the work is wrapped in Powertools
idempotency keyed on `detail.sourceEventId` (the stream record's eventID): a redelivered
event returns the stored result instead of repeating the work. The stored record keeps a
hash of `detail`, so an event that reuses a key with another detail is refused
(`IdempotencyValidationError`) instead of being answered with the first event's result.

Details carry the table's data (names, addresses): logs hold ids and shapes only.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

IDEMPOTENCY_TABLE_NAME = os.environ["IDEMPOTENCY_TABLE_NAME"]

logger = Logger()
metrics = Metrics()

# A client of the default session: Powertools would build a session of its own, which
# loads botocore's data files again at cold start.
persistence = DynamoDBPersistenceLayer(
    table_name=IDEMPOTENCY_TABLE_NAME, boto3_client=boto3.client("dynamodb")
)
config = IdempotencyConfig(
    event_key_jmespath="detail.sourceEventId",
    payload_validation_jmespath="detail",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=7 * 24 * 3600,
)


def shape(event: Any) -> dict[str, Any]:
    """What a log line may say about an event: its ids and the names of its detail's keys."""
    if not isinstance(event, dict):
        return {"eventType": type(event).__name__}
    detail = event.get("detail")
    return {
        "eventId": event.get("id"),
        "detailType": event.get("detail-type"),
        "source": event.get("source"),
        "sourceEventId": detail.get("sourceEventId") if isinstance(detail, dict) else None,
        "detailKeys": sorted(detail) if isinstance(detail, dict) else None,
    }


def process(event: dict[str, Any]) -> dict[str, Any]:
    """The domain work; here, a structured log line per event (replace with your own)."""
    logger.info("Domain event", extra=shape(event))
    metrics.add_metric(name="DomainEventProcessed", unit=MetricUnit.Count, value=1)
    return {"detailType": event["detail-type"], "sourceEventId": event["detail"]["sourceEventId"]}


@lambda_handler_decorator
def failures_logged(handler: Any, event: Any, context: LambdaContext) -> Any:
    """One ERROR line (with the exception's type) naming the event a failure is about."""
    try:
        return handler(event, context)
    except Exception:
        logger.exception("Domain event failed", extra=shape(event))
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@failures_logged
@idempotent(config=config, persistence_store=persistence)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event)
