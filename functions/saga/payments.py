"""Payments through the provider: charge once per trip, refund what was charged.

`DemoGateway` stands in for the payment provider's client (replace it with the real one). Its
ledger is a DynamoDB table (`LEDGER_TABLE`, partition key `pk` = the trip id), so `charge`
and `refund`, separate functions, see the same payments. One item per trip:

  {"pk", "status": "charged",  "chargeId", "amount", "currency"}   the charge was taken
  {"pk", "status": "refunded", "chargeId", "amount", "currency"}   ... and given back
  {"pk", "status": "voided", "amount", "currency"}                 a refund came first

Every write is conditional, so replays and races keep one truth: a charge under a trip that
already has one returns it (same amount and currency) or is a `PaymentConflictError`; a
refund before any charge writes the `voided` marker, and a charge that arrives later (a
timed-out invocation still running while the saga compensates) finds it and is not taken
(`ChargeVoidedError`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError
from echo import bounded

DECLINE_ABOVE = Decimal("10000.00")
CONDITION_FAILED = "ConditionalCheckFailedException"


class PaymentDeclinedError(Exception):
    """The provider refused the charge; the saga compensates instead of retrying."""


class PaymentConflictError(Exception):
    """The trip already has a payment with another amount or currency: this request is not
    that payment, so it is neither charged nor allowed to refund the other one."""


class ChargeVoidedError(Exception):
    """The trip's payment was refunded (or a refund came before the charge): a charge that
    arrives now is not taken."""


class Gateway(Protocol):
    def charge(self, key: str, amount: Decimal, currency: str) -> dict[str, Any]: ...

    def refund(self, key: str, amount: Decimal, currency: str) -> dict[str, Any] | None: ...


def _plain(item: dict[str, Any]) -> dict[str, str]:
    """A ledger item (string attributes only) as plain values."""
    return {name: value["S"] for name, value in item.items()}


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == CONDITION_FAILED)


def _receipt(item: dict[str, str]) -> dict[str, str]:
    return {"chargeId": item["chargeId"], "amount": item["amount"], "currency": item["currency"]}


@dataclass
class DemoGateway:
    """The demo provider: its ledger in DynamoDB (`client` a boto3 DynamoDB client)."""

    client: Any
    table: str

    def _same_payment(self, key: str, item: dict[str, str], amount: str, currency: str) -> None:
        if (item.get("amount"), item.get("currency")) != (amount, currency):
            raise PaymentConflictError(
                f"trip {bounded(key)} has a payment of {item.get('amount')} "
                f"{item.get('currency')}, not {amount} {bounded(currency, 10)}"
            )

    def charge(self, key: str, amount: Decimal, currency: str) -> dict[str, Any]:
        if amount > DECLINE_ABOVE:
            raise PaymentDeclinedError(
                f"amount {amount:.2f} {bounded(currency, 10)} is over the card's limit"
            )
        receipt = {
            "chargeId": "ch_" + hashlib.sha256(key.encode()).hexdigest()[:16],
            "amount": f"{amount:.2f}",
            "currency": currency,
        }
        item = {"pk": key, "status": "charged", **receipt}
        try:
            self.client.put_item(
                TableName=self.table,
                Item={name: {"S": value} for name, value in item.items()},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return receipt
        except ClientError as error:
            if not _condition_failed(error):
                raise
            existing = _plain(error.response["Item"])
        if existing["status"] == "voided":
            raise ChargeVoidedError(
                f"a refund of trip {bounded(key)} came before its charge: the charge is void"
            )
        if existing["status"] == "refunded":
            raise ChargeVoidedError(f"the payment of trip {bounded(key)} was refunded")
        self._same_payment(key, existing, receipt["amount"], currency)
        return _receipt(existing)  # this charge, replayed

    def refund(self, key: str, amount: Decimal, currency: str) -> dict[str, Any] | None:
        """The refunded charge, or None when there was none (the trip's charge is then void)."""
        text = f"{amount:.2f}"
        values = {":amount": {"S": text}, ":currency": {"S": currency}}
        names = {"#status": "status", "#amount": "amount", "#currency": "currency"}
        # Two rounds at most: a charge may land between a failed refund and the void marker.
        for _ in range(2):
            try:
                refunded = self.client.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": key}},
                    UpdateExpression="SET #status = :refunded",
                    ConditionExpression=(
                        "#status = :charged AND #amount = :amount AND #currency = :currency"
                    ),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={
                        ":refunded": {"S": "refunded"},
                        ":charged": {"S": "charged"},
                        **values,
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return _receipt(_plain(refunded["Attributes"]))
            except ClientError as error:
                if not _condition_failed(error):
                    raise
                found = error.response.get("Item")
            if found is not None:
                existing = _plain(found)
                if existing["status"] == "voided":
                    return None
                self._same_payment(key, existing, text, currency)
                return _receipt(existing)  # refunded already: this refund, replayed
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={
                        "pk": {"S": key},
                        "status": {"S": "voided"},
                        "amount": {"S": text},
                        "currency": {"S": currency},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
                return None
            except ClientError as error:
                if not _condition_failed(error):
                    raise
        raise RuntimeError(f"the ledger of trip {bounded(key)} kept changing; retry the refund")


def charge(gateway: Gateway, event: dict[str, Any]) -> dict[str, Any]:
    amount = Decimal(str(event["amount"]))
    receipt = gateway.charge(event["tripId"], amount, str(event["currency"]))
    return {"tripId": event["tripId"], "status": "charged", **receipt}


def refund(gateway: Gateway, event: dict[str, Any]) -> dict[str, Any]:
    """Refunding a payment that never happened is a success: there is nothing to give back,
    and the ledger keeps the trip's charge from being taken later."""
    amount = Decimal(str(event["amount"]))
    refunded = gateway.refund(event["tripId"], amount, str(event["currency"]))
    if refunded is None:
        return {"tripId": event["tripId"], "status": "nothing-to-refund"}
    return {"tripId": event["tripId"], "status": "refunded", **refunded}
