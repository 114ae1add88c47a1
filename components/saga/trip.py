"""The shipped example: book a trip (hotel, flight, payment) over one single-table store.

Items live under the trip (`pk` = trip id) with sort keys `HOTEL#<hotelId>`,
`FLIGHT#<flightId>` and `PAYMENT#<tripId>`. Reservations are direct DynamoDB writes that
never overwrite (`attribute_not_exists(sk)`) and stamp the execution id; confirmations and
cancellations touch only an item this execution wrote (`executionId = :me`), so a
compensation never undoes someone else's booking and a failed condition means there was
nothing of ours to undo. Payment goes through the `charge` and `refund` functions (the
external payment call, whose demo ledger is the component's `ledger` table) and is recorded
as its own item; a refund refused as `PaymentConflictError` (the trip was paid with other
details, by someone else) counts as done, like a failed "is it mine?" condition.

Execution input: `{"tripId", "hotelId", "flightId", "amount" (decimal string), "currency"}`.
"""

from __future__ import annotations

from typing import Any

import pulumi

from ..core import asl
from .builder import Action, Step

CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"
# `refund` finds the trip paid with another amount or currency: not this execution's payment.
PAYMENT_CONFLICT = "PaymentConflictError"
_ME = {":me": {"S.$": "$$.Execution.Id"}}


def _key(kind: str, id_path: str) -> dict[str, Any]:
    return {"pk": {"S.$": "$.tripId"}, "sk": {"S.$": f"States.Format('{kind}#{{}}', {id_path})"}}


def _reserve(name: str, table: pulumi.Input[str], kind: str, id_path: str) -> Action:
    return Action(
        name=name,
        resource=asl.integration("dynamodb", "putItem"),
        parameters={
            "TableName": table,
            "Item": {
                **_key(kind, id_path),
                "type": {"S": kind.lower()},
                "transaction_status": {"S": "pending"},
                "executionId": {"S.$": "$$.Execution.Id"},
                "reference": {"S.$": id_path},
            },
            "ConditionExpression": "attribute_not_exists(sk)",
        },
        retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
    )


def _confirm(name: str, table: pulumi.Input[str], kind: str, id_path: str) -> Action:
    return Action(
        name=name,
        resource=asl.integration("dynamodb", "updateItem"),
        parameters={
            "TableName": table,
            "Key": _key(kind, id_path),
            "UpdateExpression": "SET transaction_status = :confirmed",
            "ConditionExpression": "executionId = :me",
            "ExpressionAttributeValues": {":confirmed": {"S": "confirmed"}, **_ME},
        },
        retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
    )


def _cancel(name: str, table: pulumi.Input[str], kind: str, id_path: str) -> Action:
    return Action(
        name=name,
        resource=asl.integration("dynamodb", "deleteItem"),
        parameters={
            "TableName": table,
            "Key": _key(kind, id_path),
            "ConditionExpression": "executionId = :me",
            "ExpressionAttributeValues": _ME,
        },
        retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
        done_on=(CONDITION_FAILED,),
    )


def _invoke(
    name: str,
    function: pulumi.Input[str],
    result_path: str | None,
    done_on: tuple[str, ...] = (),
) -> Action:
    return Action(
        name=name,
        resource=asl.integration("lambda", "invoke"),
        parameters={
            "FunctionName": function,
            "Payload": {"tripId.$": "$.tripId", "amount.$": "$.amount", "currency.$": "$.currency"},
        },
        retry_on=asl.LAMBDA_TRANSIENT_ERRORS,
        result_selector={"receipt.$": "$.Payload"} if result_path else None,
        result_path=result_path,
        timeout_s=15,  # above the functions' 10 s, so Lambda's own timeout shows first
        done_on=done_on,
    )


def trip_steps(
    table: pulumi.Input[str], charge: pulumi.Input[str], refund: pulumi.Input[str]
) -> list[Step]:
    """ReserveHotel -> ReserveFlight -> TakePayment -> ConfirmHotel -> ConfirmFlight."""
    hotel, flight = "$.hotelId", "$.flightId"
    return [
        Step(
            name="ReserveHotel",
            action=[_reserve("ReserveHotel", table, "HOTEL", hotel)],
            compensation=[_cancel("CancelHotel", table, "HOTEL", hotel)],
        ),
        Step(
            name="ReserveFlight",
            action=[_reserve("ReserveFlight", table, "FLIGHT", flight)],
            compensation=[_cancel("CancelFlight", table, "FLIGHT", flight)],
        ),
        Step(
            name="TakePayment",
            action=[
                _invoke("TakePayment", charge, "$.payment"),
                Action(
                    name="RecordPayment",
                    resource=asl.integration("dynamodb", "putItem"),
                    parameters={
                        "TableName": table,
                        "Item": {
                            **_key("PAYMENT", "$.tripId"),
                            "type": {"S": "payment"},
                            "transaction_status": {"S": "confirmed"},
                            "executionId": {"S.$": "$$.Execution.Id"},
                            "amount": {"N.$": "$.amount"},
                            "currency": {"S.$": "$.currency"},
                            "receipt": {"S.$": "States.JsonToString($.payment.receipt)"},
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                    },
                    retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
                ),
            ],
            compensation=[
                _invoke("RefundPayment", refund, None, done_on=(PAYMENT_CONFLICT,)),
                _cancel("DeletePayment", table, "PAYMENT", "$.tripId"),
            ],
        ),
        Step(name="ConfirmHotel", action=[_confirm("ConfirmHotel", table, "HOTEL", hotel)]),
        Step(name="ConfirmFlight", action=[_confirm("ConfirmFlight", table, "FLIGHT", flight)]),
    ]
