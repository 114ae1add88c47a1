"""saga: the handlers against moto, and the definition executed in moto's interpreter.

The interpreter runs the DynamoDB and EventBridge tasks for real; its Lambda tasks only echo
their payload and never fail, so failures are driven by conditional writes against
pre-seeded items and by the demo fault injection (a Choice after each step).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from components.core import asl
from components.saga import Action, SagaArgs, Step, saga_definition
from components.saga.trip import trip_steps
from tests import workflows

PATTERN = "saga"
TABLE = "bookings"
IDEMPOTENCY = "idempotency"
LEDGER = "ledger"
ACCOUNT = "123456789012"
CHARGE = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:charge"
REFUND = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:refund"
SOURCE = "serverless-patterns.test"

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]

pytestmark = pytest.mark.disable_socket


def create_bookings() -> None:
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def items(trip_id: str) -> dict[str, dict[str, str]]:
    """The trip's items by sort key, as plain strings."""
    found = boto3.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :trip",
        ExpressionAttributeValues={":trip": {"S": trip_id}},
        ConsistentRead=True,
    )["Items"]
    return {
        item["sk"]["S"]: {key: next(iter(value.values())) for key, value in item.items()}
        for item in found
    }


def seed(trip_id: str, sort_key: str) -> None:
    """Someone else's item where this execution wants to write."""
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": trip_id},
            "sk": {"S": sort_key},
            "executionId": {"S": "arn:aws:states:eu-west-1:123456789012:execution:other:x"},
            "transaction_status": {"S": "confirmed"},
        },
    )


def trip(trip_id: str, **extra: str) -> dict[str, str]:
    return {
        "tripId": trip_id,
        "hotelId": "hotel-lisbon-12",
        "flightId": "TP1351",
        "amount": "450.00",
        "currency": "EUR",
        **extra,
    }


@pytest.fixture
def machine() -> Iterator[str]:
    """The component's trip definition (fault injection on) in moto, with the table."""
    with mock_aws(config=workflows.INTERPRETER):
        create_bookings()
        definition = saga_definition(
            SagaArgs(allow_fault_injection=True),
            trip_steps(TABLE, CHARGE, REFUND),
            source=SOURCE,
        )
        yield workflows.create_machine(definition, "trips")


# The definition executed ------------------------------------------------------------------


def test_happy_path_confirms_hotel_and_flight_and_records_the_payment(machine):
    result = workflows.run(machine, "trip-ok", trip("trip-ok"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    booked = items("trip-ok")
    assert set(booked) == {"HOTEL#hotel-lisbon-12", "FLIGHT#TP1351", "PAYMENT#trip-ok"}
    assert booked["HOTEL#hotel-lisbon-12"]["transaction_status"] == "confirmed"
    assert booked["FLIGHT#TP1351"]["transaction_status"] == "confirmed"
    payment = booked["PAYMENT#trip-ok"]
    assert (payment["amount"], payment["currency"]) == ("450.00", "EUR")
    assert {i["executionId"] for i in booked.values()} == {result["executionArn"]}
    # moto's Lambda echoes the payload, which is what the receipt records here.
    assert json.loads(payment["receipt"])["tripId"] == "trip-ok"


COMPENSATIONS = {
    "ReserveHotel": ["CancelHotel"],
    "ReserveFlight": ["CancelFlight", "CancelHotel"],
    "TakePayment": ["RefundPayment", "DeletePayment", "CancelFlight", "CancelHotel"],
    "ConfirmHotel": ["RefundPayment", "DeletePayment", "CancelFlight", "CancelHotel"],
    "ConfirmFlight": ["RefundPayment", "DeletePayment", "CancelFlight", "CancelHotel"],
}
UNDO = {"CancelHotel", "CancelFlight", "RefundPayment", "DeletePayment"}


@pytest.mark.parametrize("step", list(COMPENSATIONS))
def test_a_failure_at_each_step_undoes_exactly_what_was_done_in_reverse(machine, step):
    name = f"fail-{step.lower()}"
    result = workflows.run(machine, name, trip(name, run_type=f"fail{step}"))
    assert (result["status"], result["error"]) == ("FAILED", "BookingFailed")
    undone = [s for s in workflows.entered(result["executionArn"]) if s in UNDO]
    assert undone == COMPENSATIONS[step]
    assert items(name) == {}  # every item this execution wrote is gone


def test_a_payment_conflict_refunds_cancels_both_and_spares_the_other_item(machine):
    seed("trip-pay", "PAYMENT#trip-pay")
    result = workflows.run(machine, "trip-pay", trip("trip-pay"))
    assert (result["status"], result["error"]) == ("FAILED", "BookingFailed")
    states = workflows.entered(result["executionArn"])
    assert [s for s in states if s in UNDO] == COMPENSATIONS["TakePayment"]
    output = items("trip-pay")
    assert set(output) == {"PAYMENT#trip-pay"}  # the pre-seeded payment survives
    assert output["PAYMENT#trip-pay"]["executionId"].endswith(":other:x")


def test_a_flight_conflict_removes_only_this_executions_hotel(machine):
    seed("trip-fly", "FLIGHT#TP1351")
    result = workflows.run(machine, "trip-fly", trip("trip-fly"))
    assert (result["status"], result["error"]) == ("FAILED", "BookingFailed")
    states = workflows.entered(result["executionArn"])
    assert [s for s in states if s in UNDO] == ["CancelFlight", "CancelHotel"]
    assert "TakePayment" not in states
    assert set(items("trip-fly")) == {"FLIGHT#TP1351"}


def test_a_hotel_conflict_has_nothing_of_ours_to_undo(machine):
    seed("trip-inn", "HOTEL#hotel-lisbon-12")
    result = workflows.run(machine, "trip-inn", trip("trip-inn"))
    assert (result["status"], result["error"]) == ("FAILED", "BookingFailed")
    assert set(items("trip-inn")) == {"HOTEL#hotel-lisbon-12"}
    assert items("trip-inn")["HOTEL#hotel-lisbon-12"]["executionId"].endswith(":other:x")


def test_a_compensation_that_keeps_failing_is_announced_and_fails_the_execution():
    """A compensation writing to a table that does not exist cannot succeed: it must be
    reported on the bus (captured through a rule -> SQS target) and end CompensationFailed."""
    with mock_aws(config=workflows.INTERPRETER):
        create_bookings()
        sqs, events = boto3.client("sqs"), boto3.client("events")
        inbox = sqs.create_queue(QueueName="operators")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
        events.put_rule(
            Name="stuck",
            EventPattern=json.dumps(
                {"source": [SOURCE], "detail-type": ["SagaCompensationFailed"]}
            ),
        )
        events.put_targets(
            Rule="stuck", Targets=[{"Id": "inbox", "Arn": inbox_arn["Attributes"]["QueueArn"]}]
        )

        def put(table: str, name: str, **kwargs: Any) -> Action:
            return Action(
                name=name,
                resource=asl.integration("dynamodb", kwargs.pop("action", "putItem")),
                parameters={"TableName": table, **kwargs},
                retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
            )

        key = {"pk": {"S.$": "$.tripId"}, "sk": {"S": "HOLD"}}
        steps = [
            Step(
                name="Hold",
                action=[put(TABLE, "Hold", Item=key)],
                compensation=[put("missing-table", "Release", action="deleteItem", Key=key)],
            ),
            Step(
                name="Fail",
                action=[
                    put(TABLE, "Fail", Item=key, ConditionExpression="attribute_not_exists(sk)")
                ],
            ),
        ]
        custom = SagaArgs(steps=lambda table: steps)
        arn = workflows.create_machine(saga_definition(custom, steps, source=SOURCE), "stuck")
        result = workflows.run(arn, "stuck-1", {"tripId": "stuck-1"})

        assert (result["status"], result["error"]) == ("FAILED", "CompensationFailed")
        states = workflows.entered(result["executionArn"])
        assert states[-3:] == ["Release", "AnnounceStuck", "CompensationFailed"]
        (message,) = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
        detail = json.loads(message["Body"])["detail"]
        assert detail["execution"] == result["executionArn"]
        assert detail["input"] == {"tripId": "stuck-1"}
        assert "ResourceNotFoundException" in detail["stuck"]["Release"]["Error"]
        assert set(items("stuck-1")) == {"HOLD"}  # what could not be undone is still there


# Handlers ---------------------------------------------------------------------------------


@pytest.fixture
def start_handler(load_function: LoadFunction, monkeypatch: pytest.MonkeyPatch):
    """`start` wired to a real (moto) machine running the trip definition."""
    with mock_aws(config=workflows.INTERPRETER):
        create_bookings()
        definition = saga_definition(SagaArgs(), trip_steps(TABLE, CHARGE, REFUND), source=SOURCE)
        arn = workflows.create_machine(definition, "trips")
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        monkeypatch.setenv("ALLOW_FAULT_INJECTION", "false")
        yield load_function(PATTERN, "start"), arn


def log_to_this_test(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module loaded by a fixture logs to the stdout of the fixture's setup; capsys reads the
    test's."""
    monkeypatch.setattr(module.logger.registered_handler, "stream", sys.stdout)


def request(load_event: LoadEvent, **body: Any) -> dict[str, Any]:
    event = load_event(PATTERN, "api-post-trip")
    event["body"] = json.dumps({**json.loads(event["body"]), **body})
    return event


def test_start_starts_one_execution_named_after_the_trip(start_handler, load_event, lambda_context):
    start, _ = start_handler
    response = start.handler(load_event(PATTERN, "api-post-trip"), lambda_context)
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["executionArn"].endswith(":trips:trip-2026-0001")
    execution = workflows.wait(body["executionArn"])
    assert json.loads(execution["input"]) == {
        "amount": "450.00",
        "currency": "EUR",
        "flightId": "TP1351",
        "hotelId": "hotel-lisbon-12",
        "tripId": "trip-2026-0001",
    }


def test_a_repeated_request_returns_the_existing_execution(
    start_handler, load_event, lambda_context
):
    start, machine = start_handler
    first = start.handler(load_event(PATTERN, "api-post-trip"), lambda_context)
    workflows.wait(json.loads(first["body"])["executionArn"])
    again = start.handler(request(load_event, amount=450), lambda_context)  # same trip, as a number
    assert again["statusCode"] == 200
    assert json.loads(again["body"])["executionArn"] == json.loads(first["body"])["executionArn"]
    assert json.loads(again["body"])["status"] == "SUCCEEDED"
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert len(executions["executions"]) == 1


def test_the_same_trip_id_with_other_details_is_a_conflict(
    start_handler, load_event, lambda_context
):
    start, machine = start_handler
    start.handler(load_event(PATTERN, "api-post-trip"), lambda_context)
    clash = start.handler(request(load_event, hotelId="hotel-porto-3"), lambda_context)
    assert clash["statusCode"] == 409
    assert "already booked with other details" in json.loads(clash["body"])["message"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert len(executions["executions"]) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"currency": "euro"}, "currency"),
        ({"tripId": "has space"}, "tripId"),
        ({"surprise": 1}, "surprise"),
        ({"run_type": "failTakePayment"}, "fault injection is disabled"),
    ],
)
def test_start_rejects_bad_trips_with_a_400(
    start_handler, load_event, lambda_context, body, message
):
    start, machine = start_handler
    response = start.handler(request(load_event, **body), lambda_context)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["message"]
    assert (
        boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"] == []
    )


@pytest.mark.parametrize("body", [None, "", "[1]", "{not json"])
def test_start_rejects_a_missing_or_non_object_body(
    start_handler, load_event, lambda_context, body
):
    start, _ = start_handler
    event = load_event(PATTERN, "api-post-trip")
    event["body"] = body
    response = start.handler(event, lambda_context)
    assert response["statusCode"] == 400


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": None}, "request body is required"),
        ({"body": "{not json"}, "request body must be a JSON object"),
        ({"body": "[1, 2]"}, "request body must be a JSON object"),
        ({"body": "not base64!", "isBase64Encoded": True}, "request body must be a JSON object"),
        ({"body": "e30=", "isBase64Encoded": True}, "tripId: Field required"),
        ({"headers": None, "multiValueHeaders": None, "body": "{}"}, "tripId: Field required"),
        ({"requestContext": None, "body": "{}"}, "tripId: Field required"),
    ],
)
def test_malformed_requests_get_a_400_with_a_message(
    start_handler, load_event, lambda_context, change, message
):
    start, _ = start_handler
    event = {**load_event(PATTERN, "api-post-trip"), **change}
    if change.get("requestContext", "") is None:
        del event["requestContext"]
    response = start.handler(event, lambda_context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["message"].startswith(message)


def test_a_base64_encoded_trip_is_booked(start_handler, load_event, lambda_context):
    start, _ = start_handler
    event = load_event(PATTERN, "api-post-trip")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    response = start.handler(event, lambda_context)
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["tripId"] == "trip-2026-0001"


def test_echoed_input_is_bounded_in_the_answer_and_the_log(
    start_handler, load_event, lambda_context, capsys, monkeypatch
):
    start, _ = start_handler
    log_to_this_test(start, monkeypatch)
    long_names = {f"{n}{'x' * 5000}": 1 for n in range(8)}
    response = start.handler(request(load_event, **long_names), lambda_context)
    assert response["statusCode"] == 400
    message = json.loads(response["body"])["message"]
    problems = message.split("; ")
    assert len(problems) == 6 and problems[-1] == "and 3 more"
    assert all(len(p) <= 100 + len(": Extra inputs are not permitted") for p in problems)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (rejected,) = [line for line in logged if line["message"] == "Rejected trip"]
    assert rejected["reason"] == message


def test_a_failure_to_start_is_a_500_with_one_error_line(
    start_handler, load_event, lambda_context, capsys, monkeypatch
):
    start, machine = start_handler
    log_to_this_test(start, monkeypatch)
    monkeypatch.setattr(start, "STATE_MACHINE_ARN", machine.replace(":trips", ":deleted"))
    response = start.handler(load_event(PATTERN, "api-post-trip"), lambda_context)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {
        "message": "the booking could not be started; try again"
    }
    (error,) = errors(capsys.readouterr().out)
    assert error["message"] == "Trip booking failed"
    assert error["tripId"] == "trip-2026-0001"
    assert error["exception_name"] == "StateMachineDoesNotExist"
    assert error["correlation_id"] == "3c9a1f2e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"


@pytest.fixture
def payments_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The idempotency table and the demo provider's ledger, as the component makes them."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        for table, key in ((IDEMPOTENCY, "id"), (LEDGER, "pk")):
            dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        monkeypatch.setenv("IDEMPOTENCY_TABLE", IDEMPOTENCY)
        monkeypatch.setenv("LEDGER_TABLE", LEDGER)
        yield


def records() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=IDEMPOTENCY)["Items"]


def forget_records() -> None:
    """The idempotency records expire (1 h): what is left then is the ledger."""
    dynamodb = boto3.client("dynamodb")
    for record in records():
        dynamodb.delete_item(TableName=IDEMPOTENCY, Key={"id": record["id"]})


def ledger() -> dict[str, dict[str, str]]:
    """The provider's ledger by trip id, as plain strings."""
    found = boto3.client("dynamodb").scan(TableName=LEDGER, ConsistentRead=True)["Items"]
    return {
        item["pk"]["S"]: {name: value["S"] for name, value in item.items() if name != "pk"}
        for item in found
    }


def errors(out: str) -> list[dict[str, Any]]:
    """The ERROR records among the JSON log lines on stdout."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("level") == "ERROR"]


CHARGE_ID = "ch_" + hashlib.sha256(b"trip-2026-0001").hexdigest()[:16]
CHARGED = {"status": "charged", "chargeId": CHARGE_ID, "amount": "450.00", "currency": "EUR"}
RECEIPT = {"tripId": "trip-2026-0001", "chargeId": CHARGE_ID, "amount": "450.00", "currency": "EUR"}


def test_charge_twice_with_one_trip_id_charges_once(
    payments_table, load_function, load_event, lambda_context
):
    charge = load_function(PATTERN, "charge")
    first = charge.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    second = charge.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    assert first == second == {**RECEIPT, "status": "charged"}
    assert ledger() == {"trip-2026-0001": CHARGED}
    (record,) = records()
    assert record["status"]["S"] == "COMPLETED"


def test_charge_in_one_function_is_refunded_by_the_other(
    payments_table, load_function, load_event, lambda_context
):
    """Two functions, two gateways: only a shared ledger lets `refund` see the charge."""
    charge = load_function(PATTERN, "charge")
    charge.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    refund = load_function(PATTERN, "refund")
    assert refund.gateway is not charge.gateway
    result = refund.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    assert result == {**RECEIPT, "status": "refunded"}
    assert ledger() == {"trip-2026-0001": {**CHARGED, "status": "refunded"}}


def test_a_refund_before_its_charge_voids_the_late_charge(
    payments_table, load_function, load_event, lambda_context, capsys
):
    """The saga timed out waiting for `charge` and compensated; the charge then arrives."""
    refund = load_function(PATTERN, "refund")
    result = refund.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    assert result == {"tripId": "trip-2026-0001", "status": "nothing-to-refund"}
    voided = {"status": "voided", "amount": "450.00", "currency": "EUR"}
    assert ledger() == {"trip-2026-0001": voided}
    charge = load_function(PATTERN, "charge")
    with pytest.raises(charge.payments.ChargeVoidedError, match="came before its charge"):
        charge.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    assert ledger() == {"trip-2026-0001": voided}  # nothing was taken
    (error,) = errors(capsys.readouterr().out)
    assert (error["message"], error["tripId"], error["exception_name"]) == (
        "Charge failed",
        "trip-2026-0001",
        "ChargeVoidedError",
    )
    assert error["function_request_id"] == lambda_context.aws_request_id


def test_replays_are_idempotent_after_the_records_expire_too(
    payments_table, load_function, load_event, lambda_context
):
    charge = load_function(PATTERN, "charge")
    refund = load_function(PATTERN, "refund")
    payload = load_event(PATTERN, "payment-payload")
    charge.handler(dict(payload), lambda_context)
    forget_records()
    assert charge.handler(dict(payload), lambda_context) == {**RECEIPT, "status": "charged"}
    refunded = refund.handler(dict(payload), lambda_context)
    assert refund.handler(dict(payload), lambda_context) == refunded
    forget_records()
    assert refund.handler(dict(payload), lambda_context) == refunded
    with pytest.raises(charge.payments.ChargeVoidedError, match="was refunded"):
        charge.handler(dict(payload), lambda_context)  # a refunded payment is not taken again
    assert ledger() == {"trip-2026-0001": {**CHARGED, "status": "refunded"}}


@pytest.mark.parametrize("expired", [False, True], ids=["replayed", "after-expiry"])
def test_a_charge_with_another_amount_under_the_same_trip_is_a_conflict(
    payments_table, load_function, load_event, lambda_context, capsys, expired
):
    charge = load_function(PATTERN, "charge")
    charge.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    if expired:
        forget_records()
    changed = {**load_event(PATTERN, "payment-payload"), "amount": "500.00"}
    with pytest.raises(charge.payments.PaymentConflictError):
        charge.handler(changed, lambda_context)
    assert ledger() == {"trip-2026-0001": CHARGED}
    (error,) = errors(capsys.readouterr().out)
    assert (error["message"], error["tripId"], error["exception_name"]) == (
        "Charge failed",
        "trip-2026-0001",
        "PaymentConflictError",
    )


def test_a_refund_of_another_amount_leaves_the_charge_alone(
    payments_table, load_function, load_event, lambda_context
):
    charge = load_function(PATTERN, "charge")
    charge.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    refund = load_function(PATTERN, "refund")
    other = {**load_event(PATTERN, "payment-payload"), "amount": "90.00"}
    with pytest.raises(refund.payments.PaymentConflictError) as refused:
        refund.handler(other, lambda_context)
    assert str(refused.value) == "trip trip-2026-0001 has a payment of 450.00 EUR, not 90.00 EUR"
    assert ledger() == {"trip-2026-0001": CHARGED}


def test_a_declined_charge_raises_logs_and_leaves_no_record(
    payments_table, load_function, load_event, lambda_context, capsys
):
    charge = load_function(PATTERN, "charge")
    payload = {**load_event(PATTERN, "payment-payload"), "amount": "25000.00"}
    with pytest.raises(charge.payments.PaymentDeclinedError, match="over the card's limit"):
        charge.handler(payload, lambda_context)
    assert records() == []  # a later retry may charge again
    assert ledger() == {}
    (error,) = errors(capsys.readouterr().out)
    assert (error["message"], error["tripId"], error["exception_name"]) == (
        "Charge failed",
        "trip-2026-0001",
        "PaymentDeclinedError",
    )


def test_a_refund_that_fails_is_logged_once(
    payments_table, load_function, load_event, lambda_context, capsys
):
    refund = load_function(PATTERN, "refund")
    boto3.client("dynamodb").delete_table(TableName=LEDGER)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        refund.handler(load_event(PATTERN, "payment-payload"), lambda_context)
    (error,) = errors(capsys.readouterr().out)
    assert (error["message"], error["tripId"], error["exception_name"]) == (
        "Refund failed",
        "trip-2026-0001",
        "ResourceNotFoundException",
    )
