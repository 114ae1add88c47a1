"""Saga step `TakePayment`: charge the trip's payment, at most once per trip id.

Failures raise for the state machine to catch, each logged once: `PaymentDeclinedError`,
`PaymentConflictError` (the trip id was charged with another amount or currency),
`ChargeVoidedError` (the trip's payment was refunded first).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import payments
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from echo import bounded
from lambda_tracing import tracer

logger = Logger()

dynamodb = boto3.client("dynamodb")
# A client of the default session: Powertools would build a session of its own, which
# loads botocore's data files again at cold start.
persistence = DynamoDBPersistenceLayer(
    table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=dynamodb
)
# Keyed on the trip alone: a retried invocation, or a redriven execution, returns the first
# charge instead of charging again; the same trip with another amount or currency is refused.
config = IdempotencyConfig(
    event_key_jmespath="tripId",
    payload_validation_jmespath="[amount, currency]",
    raise_on_no_idempotency_key=True,
)
gateway: payments.Gateway = payments.DemoGateway(dynamodb, os.environ["LEDGER_TABLE"])


@idempotent_function(data_keyword_argument="payment", persistence_store=persistence, config=config)
def charge_once(payment: dict[str, Any]) -> dict[str, Any]:
    return payments.charge(gateway, payment)


def charge(event: dict[str, Any]) -> dict[str, Any]:
    try:
        return charge_once(payment=event)
    except IdempotencyValidationError as error:
        raise payments.PaymentConflictError(
            f"trip {bounded(event.get('tripId'))} was charged with another amount or currency"
        ) from error


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config.register_lambda_context(context)
    trip_id = bounded(event.get("tripId"))
    try:
        receipt = charge(event)
    except Exception:
        logger.exception("Charge failed", extra={"tripId": trip_id})
        raise
    logger.info("Charged", extra={"tripId": trip_id, "chargeId": receipt["chargeId"]})
    return receipt
