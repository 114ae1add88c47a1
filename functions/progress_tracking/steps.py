"""Example business steps. Each takes `{"request": ..., "executionArn": ...}` and returns a
small result, or raises a typed error that fails the workflow (no retry cures it), logged
once with the execution it failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from echo import bounded
from lambda_tracing import tracer

MAX_QUANTITY = 10
PAYMENT_LIMIT = 1000

logger = Logger()


class InvalidOrderError(Exception):
    """The request has no items, or an item without a SKU or a positive quantity."""


class OutOfStockError(Exception):
    pass


class PaymentDeclinedError(Exception):
    pass


def check_inventory(request: dict[str, Any]) -> dict[str, Any]:
    items = request.get("items") or []
    if not items or not isinstance(items, list):
        raise InvalidOrderError("the order has no items")
    reserved = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidOrderError(f"bad item {bounded(repr(item))}")
        sku, quantity = item.get("sku"), item.get("quantity")
        if not isinstance(sku, str) or not isinstance(quantity, int) or quantity < 1:
            raise InvalidOrderError(f"bad item {bounded(repr(item))}")
        if quantity > MAX_QUANTITY:
            raise OutOfStockError(f"only {MAX_QUANTITY} of {bounded(sku)} in stock")
        reserved.append({"sku": sku, "quantity": quantity})
    return {"reserved": reserved}


def charge(request: dict[str, Any]) -> dict[str, Any]:
    amount = request.get("amount")
    if not isinstance(amount, int | float) or amount <= 0:
        raise InvalidOrderError("amount must be a positive number")
    if amount > PAYMENT_LIMIT:
        raise PaymentDeclinedError(f"amount {bounded(amount)} is over the limit of {PAYMENT_LIMIT}")
    return {"charged": amount}


def run(step: str, work: Callable[[dict[str, Any]], dict[str, Any]], event: Any) -> dict[str, Any]:
    try:
        request = (event.get("request") or {}) if isinstance(event, dict) else None
        if not isinstance(request, dict):
            raise InvalidOrderError("the request must be a JSON object")
        return work(request)
    except Exception:
        execution = event.get("executionArn") if isinstance(event, dict) else None
        logger.exception("Step failed", extra={"step": step, "executionArn": bounded(execution)})
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def inventory_check(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run("inventory_check", check_inventory, event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def payment(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run("payment", charge, event)
