"""Example business steps. Each takes `{"request": ..., "executionArn": ...}` and returns a
small result, or raises a typed error that fails the workflow (no retry cures it)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_QUANTITY = 10
PAYMENT_LIMIT = 1000

logger = Logger()
tracer = Tracer()


class InvalidOrderError(Exception):
    """The request has no items, or an item without a SKU or a positive quantity."""


class OutOfStockError(Exception):
    pass


class PaymentDeclinedError(Exception):
    pass


def check_inventory(request: dict[str, Any]) -> dict[str, Any]:
    items = request.get("items") or []
    if not items:
        raise InvalidOrderError("the order has no items")
    reserved = []
    for item in items:
        sku, quantity = item.get("sku"), item.get("quantity")
        if not isinstance(sku, str) or not isinstance(quantity, int) or quantity < 1:
            raise InvalidOrderError(f"bad item {item!r}")
        if quantity > MAX_QUANTITY:
            raise OutOfStockError(f"only {MAX_QUANTITY} of {sku} in stock")
        reserved.append({"sku": sku, "quantity": quantity})
    return {"reserved": reserved}


def charge(request: dict[str, Any]) -> dict[str, Any]:
    amount = request.get("amount")
    if not isinstance(amount, int | float) or amount <= 0:
        raise InvalidOrderError("amount must be a positive number")
    if amount > PAYMENT_LIMIT:
        raise PaymentDeclinedError(f"amount {amount} is over the limit of {PAYMENT_LIMIT}")
    return {"charged": amount}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def inventory_check(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check_inventory(event.get("request") or {})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def payment(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return charge(event.get("request") or {})
