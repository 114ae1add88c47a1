"""Saga compensation `RefundPayment`: give back the trip's charge, at most once per trip id.

A refund for a trip charged with another amount or currency raises `PaymentConflictError`
(that payment is not this execution's, so there is nothing of ours to give back); any other
failure raises for the compensation's retry. Each failure is logged once.
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
config = IdempotencyConfig(
    event_key_jmespath="tripId",
    payload_validation_jmespath="[amount, currency]",
    raise_on_no_idempotency_key=True,
)
gateway: payments.Gateway = payments.DemoGateway(dynamodb, os.environ["LEDGER_TABLE"])


@idempotent_function(data_keyword_argument="payment", persistence_store=persistence, config=config)
def refund_once(payment: dict[str, Any]) -> dict[str, Any]:
    return payments.refund(gateway, payment)


def refund(event: dict[str, Any]) -> dict[str, Any]:
    try:
        return refund_once(payment=event)
    except IdempotencyValidationError as error:
        raise payments.PaymentConflictError(
            f"trip {bounded(event.get('tripId'))} was refunded with another amount or currency"
        ) from error


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config.register_lambda_context(context)
    trip_id = bounded(event.get("tripId"))
    try:
        result = refund(event)
    except Exception:
        logger.exception("Refund failed", extra={"tripId": trip_id})
        raise
    logger.info("Refund", extra={"tripId": trip_id, "status": result["status"]})
    return result
