"""Example consumer of the domain events: processes each event once per `sourceEventId`.

EventBridge and Pipes deliver at least once, so the work is wrapped in Powertools
idempotency keyed on `detail.sourceEventId` (the stream record's eventID): a redelivered
event returns the stored result instead of repeating the work.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_TABLE_NAME = os.environ["IDEMPOTENCY_TABLE_NAME"]

logger = Logger()
tracer = Tracer()
metrics = Metrics()

persistence = DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE_NAME)
config = IdempotencyConfig(
    event_key_jmespath="detail.sourceEventId",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=7 * 24 * 3600,
)


def process(event: dict[str, Any]) -> dict[str, Any]:
    """The domain work; here, a structured log line per event (replace with your own)."""
    logger.info(
        "Domain event", extra={"detailType": event["detail-type"], "detail": event["detail"]}
    )
    metrics.add_metric(name="DomainEventProcessed", unit=MetricUnit.Count, value=1)
    return {"detailType": event["detail-type"], "sourceEventId": event["detail"]["sourceEventId"]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(config=config, persistence_store=persistence)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event)
