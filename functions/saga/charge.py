"""Saga step `TakePayment`: charge the trip's payment, at most once per trip id."""

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
# Keyed on the trip alone: a retried invocation, or a redriven execution, returns the
# first charge instead of charging again.
config = IdempotencyConfig(event_key_jmespath="tripId", raise_on_no_idempotency_key=True)
gateway: payments.Gateway = payments.DemoGateway()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@idempotent(persistence_store=persistence, config=config)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    receipt = payments.charge(gateway, event)
    logger.info("Charged", extra={"tripId": event["tripId"], "chargeId": receipt["chargeId"]})
    return receipt
