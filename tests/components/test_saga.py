"""Saga under mocks: the STANDARD machine, its role, the table, the API and the builder."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from statelint.linter import Linter

from components.core import asl
from components.core.settings import Settings
from components.saga import Action, Saga, SagaArgs, Step
from components.saga.builder import Announcement, build_definition
from components.saga.trip import trip_steps
from serverless_wa.asl import check
from tests.helpers import scoped_grants

SM = "aws:sfn/stateMachine:StateMachine"
FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"


def saga(**kwargs):
    return lambda: Saga("trips", SagaArgs(**kwargs))


def trip_definition(**kwargs) -> dict:
    return build_definition(
        trip_steps("bookings", "charge", "refund"),
        comment="trip",
        timeout_s=300,
        compensation_retry_attempts=3,
        announcement=Announcement(source="test"),
        failure="BookingFailed",
        **kwargs,
    )


def test_machine_is_standard_with_logging_tracing_and_timeout(build):
    plan = build(saga())
    machine = plan.one(SM).inputs
    assert machine["type"] == "STANDARD"
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["loggingConfiguration"]["level"] == "ALL"
    assert machine["loggingConfiguration"]["logDestination"].endswith(":*")
    definition = json.loads(machine["definition"])
    assert definition["TimeoutSeconds"] == 300
    assert (
        definition["States"]["ReserveHotel"]["Parameters"]["TableName"]
        == (plan.one(TABLE, "bookings").inputs["name"])
    )
    assert check(definition) == []
    assert Linter.validate(definition) == []
    # No fault injection unless asked for.
    assert not any(name.startswith("Inject") for name in definition["States"])


def test_table_key_schema(build):
    table = build(saga()).one(TABLE, "bookings").inputs
    assert (table["hashKey"], table["rangeKey"]) == ("pk", "sk")
    assert {a["name"]: a["type"] for a in table["attributes"]} == {"pk": "S", "sk": "S"}
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}


def test_machine_role_may_only_write_this_table_and_invoke_charge_and_refund(build):
    plan = build(saga())
    table = plan.one(TABLE, "bookings").outputs["arn"]
    charge = plan.one(FN, "charge").outputs["arn"]
    refund = plan.one(FN, "refund").outputs["arn"]
    assert scoped_grants(plan, "workflow-role") == {
        ("dynamodb:PutItem", table),
        ("dynamodb:UpdateItem", table),
        ("dynamodb:DeleteItem", table),
        *(("lambda:InvokeFunction", arn) for arn in (charge, f"{charge}:*")),
        *(("lambda:InvokeFunction", arn) for arn in (refund, f"{refund}:*")),
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/default"),
    }


def test_start_may_only_start_and_read_this_machine(build):
    plan = build(saga())
    machine = plan.one(SM).outputs["arn"]
    executions = machine.replace(":stateMachine:", ":execution:") + ":*"
    assert {p for p in scoped_grants(plan, "start-role") if not p[0].startswith("logs:")} == {
        ("states:StartExecution", machine),
        ("states:DescribeExecution", executions),
    }
    env = plan.one(FN, "start").inputs["environment"]["variables"]
    assert env["STATE_MACHINE_ARN"] == machine
    assert env["ALLOW_FAULT_INJECTION"] == "false"
    assert plan.one(FN, "start").inputs["timeout"] == 10


def test_charge_and_refund_use_an_ephemeral_idempotency_table(build):
    plan = build(saga())
    table = plan.one(TABLE, "idempotency")
    assert table.inputs["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert table.inputs["tags"]["wa:data"] == "ephemeral"
    arn = table.outputs["arn"]
    for name in ("charge", "refund"):
        function = plan.one(FN, name).inputs
        assert function["timeout"] == 10
        assert function["environment"]["variables"]["IDEMPOTENCY_TABLE"] == table.inputs["name"]
        records = {(a, r) for a, r in scoped_grants(plan, f"{name}-role") if r == arn}
        assert records == {
            (f"dynamodb:{action}", arn)
            for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
        }


def test_the_payment_ledger_is_a_kept_table_shared_by_charge_and_refund(build):
    plan = build(saga())
    table = plan.one(TABLE, "ledger")
    assert table.inputs["hashKey"] == "pk" and "rangeKey" not in table.inputs
    assert table.inputs["attributes"] == [{"name": "pk", "type": "S"}]
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert "wa:data" not in table.inputs["tags"] and "ttl" not in table.inputs
    ledger = table.outputs["arn"]
    for name in ("charge", "refund"):
        env = plan.one(FN, name).inputs["environment"]["variables"]
        assert env["LEDGER_TABLE"] == table.inputs["name"]
    # Conditional writes only: a failed condition hands back the item it found.
    assert {p for p in scoped_grants(plan, "charge-role") if p[1] == ledger} == {
        ("dynamodb:PutItem", ledger)
    }
    assert {p for p in scoped_grants(plan, "refund-role") if p[1] == ledger} == {
        ("dynamodb:PutItem", ledger),
        ("dynamodb:UpdateItem", ledger),
    }
    for role in ("workflow-role", "start-role"):
        assert not any(r == ledger for _, r in scoped_grants(plan, role))


def test_a_refund_refused_as_a_conflict_counts_as_nothing_to_undo(build):
    states = json.loads(build(saga()).one(SM).inputs["definition"])["States"]
    assert states["RefundPayment"]["Catch"] == [
        {"ErrorEquals": ["PaymentConflictError"], "ResultPath": None, "Next": "DeletePayment"},
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.stuck.RefundPayment",
            "Next": "AnnounceStuck",
        },
    ]


def test_custom_steps_get_no_ledger(build):
    def steps(bookings):
        put = Action(
            name="Reserve",
            resource=asl.integration("dynamodb", "putItem"),
            parameters={"TableName": bookings.name, "Item": {"pk": {"S.$": "$.id"}}},
            retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
        )
        return [Step(name="Reserve", action=[put])]

    plan = build(saga(steps=steps))
    assert sorted(t.name for t in plan.of_type(TABLE)) == ["trips-bookings"]


def test_api_is_iam_authorized_traced_and_throttled(build):
    plan = build(saga())
    method = plan.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["authorization"]) == ("POST", "AWS_IAM")
    integration = plan.one("aws:apigateway/integration:Integration").inputs
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"] == plan.one(FN, "start").outputs["invokeArn"]
    permission = plan.one("aws:lambda/permission:Permission").inputs
    assert permission["sourceArn"].endswith("/*/POST/trips")
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["throttlingRateLimit"] > 0 and settings["throttlingBurstLimit"] > 0


def test_alarms_on_failed_executions_and_stuck_compensations(build):
    plan = build(saga())
    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert alarms["ExecutionsFailed"]["dimensions"] == {
        "StateMachineArn": plan.one(SM).outputs["arn"]
    }
    rule = plan.one("aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["serverless-patterns.trips"],
        "detail-type": ["SagaCompensationFailed"],
    }
    assert alarms["MatchedEvents"]["dimensions"] == {"RuleName": rule.inputs["name"]}
    definition = json.loads(plan.one(SM).inputs["definition"])
    entry = definition["States"]["AnnounceStuck"]["Parameters"]["Entries"][0]
    assert entry["Source"] == "serverless-patterns.trips"
    assert "EventBusName" not in entry


def test_custom_bus_reaches_the_event_the_rule_and_the_role(build):
    bus = "arn:aws:events:eu-west-1:123456789012:event-bus/ops"
    plan = build(saga(event_bus_name=bus))
    definition = json.loads(plan.one(SM).inputs["definition"])
    assert definition["States"]["AnnounceStuck"]["Parameters"]["Entries"][0]["EventBusName"] == bus
    assert plan.one("aws:cloudwatch/eventRule:EventRule").inputs["eventBusName"] == bus
    assert ("events:PutEvents", bus) in scoped_grants(plan, "workflow-role")
    alarm = next(
        a.inputs
        for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "MatchedEvents"
    )
    assert alarm["dimensions"]["EventBusName"] == "ops"


def test_existing_table_custom_steps_and_no_api(build):
    def program():
        table = aws.dynamodb.Table(
            "orders",
            name="orders",
            hash_key="pk",
            range_key="sk",
            attributes=[
                aws.dynamodb.TableAttributeArgs(name="pk", type="S"),
                aws.dynamodb.TableAttributeArgs(name="sk", type="S"),
            ],
        )

        def steps(bookings):
            put = Action(
                name="Reserve",
                resource=asl.integration("dynamodb", "putItem"),
                parameters={"TableName": bookings.name, "Item": {"pk": {"S.$": "$.id"}}},
                retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
            )
            delete = Action(
                name="Release",
                resource=asl.integration("dynamodb", "deleteItem"),
                parameters={"TableName": bookings.name, "Key": {"pk": {"S.$": "$.id"}}},
                retry_on=asl.DYNAMODB_TRANSIENT_ERRORS,
            )
            return [Step(name="Reserve", action=[put], compensation=[delete])]

        Saga("orders", SagaArgs(table=table, steps=steps, api=False))

    plan = build(program)
    assert [t.name for t in plan.of_type(TABLE)] == ["orders"]
    assert plan.of_type(FN) == []  # no charge/refund/start
    assert plan.of_type("aws:apigateway/restApi:RestApi") == []
    definition = json.loads(plan.one(SM).inputs["definition"])
    assert definition["States"]["Reserve"]["Parameters"]["TableName"] == "orders"
    assert definition["States"]["Reserve"]["Catch"][0]["Next"] == "Release"
    assert definition["States"]["Release"]["Next"] == "SagaFailed"
    assert check(definition) == []
    orders = plan.one(TABLE, "orders").outputs["arn"]
    assert scoped_grants(plan, "workflow-role") == {
        ("dynamodb:PutItem", orders),
        ("dynamodb:DeleteItem", orders),
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/default"),
    }


def test_every_child_is_parented_to_the_component(build):
    plan = build(saga())
    component = plan.one("serverless-patterns:patterns:Saga")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)


# The definition the builder makes ---------------------------------------------------------


def test_forward_tasks_catch_to_the_compensation_of_what_has_happened():
    states = trip_definition()["States"]

    def catch_target(name: str) -> str:
        (catcher,) = states[name]["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"]
        return catcher["Next"]

    assert catch_target("ReserveHotel") == "CancelHotel"
    assert catch_target("ReserveFlight") == "CancelFlight"
    for name in ("TakePayment", "RecordPayment", "ConfirmHotel", "ConfirmFlight"):
        assert catch_target(name) == "RefundPayment"
    assert states["ReserveHotel"]["Catch"][0]["ResultPath"] == "$.errors.ReserveHotel"
    assert states["RecordPayment"]["Catch"][0]["ResultPath"] == "$.errors.TakePayment"
    forward = ["ReserveHotel", "ReserveFlight", "TakePayment", "RecordPayment"]
    forward += ["ConfirmHotel", "ConfirmFlight"]
    assert [states[n]["Next"] for n in forward] == [*forward[1:], "Completed"]


def test_compensations_run_in_reverse_with_retries():
    states = trip_definition()["States"]
    chain, name = [], "RefundPayment"
    while states[name]["Type"] == "Task":
        chain.append(name)
        task = states[name]
        (retry,) = task["Retry"]
        assert (retry["MaxAttempts"], retry["BackoffRate"]) == (3, 2.0)
        assert task["Catch"][-1] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": f"$.stuck.{name}",
            "Next": "AnnounceStuck",
        }
        name = task["Next"]
    assert chain == ["RefundPayment", "DeletePayment", "CancelFlight", "CancelHotel"]
    assert name == "BookingFailed"
    # A cancel whose condition fails had nothing of ours to undo: it counts as done.
    assert states["CancelFlight"]["Catch"][0] == {
        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
        "ResultPath": None,
        "Next": "CancelHotel",
    }
    assert states["AnnounceStuck"]["Next"] == "CompensationFailed"


def test_terminal_states_are_succeed_or_fail():
    states = trip_definition(fault_injection=True)["States"]
    terminal = {n: s["Type"] for n, s in states.items() if s.get("End") or "Next" not in s}
    terminal = {n: t for n, t in terminal.items() if t != "Choice"}
    assert terminal == {
        "Completed": "Succeed",
        "BookingFailed": "Fail",
        "CompensationFailed": "Fail",
    }


def test_fault_injection_adds_a_check_after_each_step():
    definition = trip_definition(fault_injection=True)
    states = definition["States"]
    assert states["ConfirmHotel"]["Next"] == "CheckConfirmHotel"
    check_state = states["CheckConfirmHotel"]
    assert check_state["Default"] == "ConfirmFlight"
    assert check_state["Choices"][0]["Next"] == "InjectConfirmHotelFailure"
    assert states["InjectConfirmHotelFailure"]["Next"] == "RefundPayment"
    assert states["InjectReserveHotelFailure"]["Next"] == "CancelHotel"
    assert check(definition) == []
    assert Linter.validate(definition) == []


def test_fault_injection_is_refused_in_prod_and_reaches_start_in_dev(build):
    with pytest.raises(ValueError, match="allow_fault_injection must be false in prod"):
        SagaArgs(allow_fault_injection=True, settings=Settings(environment="prod"))
    plan = build(saga(allow_fault_injection=True))
    env = plan.one(FN, "start").inputs["environment"]["variables"]
    assert env["ALLOW_FAULT_INJECTION"] == "true"
    assert "CheckTakePayment" in json.loads(plan.one(SM).inputs["definition"])["States"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"state_machine_timeout_s": 0}, "state_machine_timeout_s must be between 1 and 86400"),
        ({"compensation_retry_attempts": 0}, "compensation_retry_attempts must be between 1"),
        ({"compensation_retry_attempts": 11}, "compensation_retry_attempts must be between 1"),
        ({"event_bus_name": " "}, "event_bus_name must be a bus name or ARN"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SagaArgs(**kwargs)


def _step(name: str, **kwargs) -> Step:
    action = Action(
        name=name, resource="arn:aws:states:::dynamodb:putItem", parameters={}, **kwargs
    )
    return Step(name=name, action=[action])


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "steps must hold at least one step"),
        ([Step(name="A", action=[])], "step 'A' has no action"),
        ([_step("A", retry_on=["X"]), _step("A", retry_on=["X"])], r"names must be unique \(A\)"),
        ([_step("Completed", retry_on=["X"])], r"names must be unique \(Completed\)"),
        ([_step("has space", retry_on=["X"])], "must start with a letter"),
        ([_step("A", retry_on=[])], "action 'A' needs retry_on errors"),
    ],
)
def test_the_builder_rejects_bad_steps(steps, message):
    with pytest.raises(ValueError, match=message):
        build_definition(
            steps,
            comment="x",
            timeout_s=60,
            compensation_retry_attempts=3,
            announcement=Announcement(source="x"),
        )
