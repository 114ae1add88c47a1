"""Payments through the provider: charge once per trip, refund what was charged.

`DemoGateway` stands in for the payment provider's client (replace it with the real one):
it keeps its ledger in memory and keys every call on the trip id, as a provider's
idempotency key would, so this logic is testable without a network.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

DECLINE_ABOVE = Decimal("10000.00")


class PaymentDeclinedError(Exception):
    """The provider refused the charge; the saga compensates instead of retrying."""


class Gateway(Protocol):
    def charge(self, key: str, amount: Decimal, currency: str) -> dict[str, Any]: ...

    def refund(self, key: str) -> dict[str, Any] | None: ...


@dataclass
class DemoGateway:
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0

    def charge(self, key: str, amount: Decimal, currency: str) -> dict[str, Any]:
        self.calls += 1
        if amount > DECLINE_ABOVE:
            raise PaymentDeclinedError(f"amount {amount} {currency} is over the card's limit")
        charge_id = "ch_" + hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.charges.setdefault(
            key, {"chargeId": charge_id, "amount": f"{amount:.2f}", "currency": currency}
        )

    def refund(self, key: str) -> dict[str, Any] | None:
        self.calls += 1
        return self.charges.pop(key, None)


def charge(gateway: Gateway, event: dict[str, Any]) -> dict[str, Any]:
    amount = Decimal(str(event["amount"]))
    receipt = gateway.charge(event["tripId"], amount, str(event["currency"]))
    return {"tripId": event["tripId"], "status": "charged", **receipt}


def refund(gateway: Gateway, event: dict[str, Any]) -> dict[str, Any]:
    """Refunding a payment that never happened is a success: there is nothing to give back."""
    refunded = gateway.refund(event["tripId"])
    if refunded is None:
        return {"tripId": event["tripId"], "status": "nothing-to-refund"}
    return {"tripId": event["tripId"], "status": "refunded", **refunded}
