"""Saga compensation `RefundPayment`: give back the trip's charge, at most once per trip id."""

from __future__ import annotations

import os
from typing import Any

import payments
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()

persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
config = IdempotencyConfig(event_key_jmespath="tripId", raise_on_no_idempotency_key=True)
gateway: payments.Gateway = payments.DemoGateway()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@idempotent(persistence_store=persistence, config=config)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = payments.refund(gateway, event)
    logger.info("Refund", extra={"tripId": event["tripId"], "status": result["status"]})
    return result
