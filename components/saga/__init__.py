"""`saga`: a Step Functions saga with compensations over a single-table booking store.

A long business transaction (reserve a hotel, reserve a flight, take payment, confirm both)
runs as a STANDARD workflow built from an ordered list of steps, each with the actions that
undo it (`components.saga.builder`); any failure undoes exactly what was done, newest first,
so the outcome is all or nothing. REST `POST /trips` (IAM auth) starts one execution per
trip id. The shipped steps are the trip booking of `components.saga.trip`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import pulumi
import pulumi_aws as aws

from ..core import iam, packaging
from ..core.alarms import metric_alarm
from ..core.api import RestStage, StageSpec, lambda_proxy, regional_rest_api
from ..core.function import FunctionSpec, LambdaFunction
from ..core.pattern import Pattern, PatternArgs, Safeguard
from ..core.settings import check_event_bus
from ..core.state_machine import StateMachine
from ..core.table import TABLE_DEFAULTS, TableSpec, create_table
from .builder import (
    STUCK_DETAIL_TYPE,
    Action,
    Announcement,
    Step,
    build_definition,
)
from .trip import trip_steps

__all__ = ["Action", "Saga", "SagaArgs", "SagaTable", "Step", "StepsFactory"]

MAX_TIMEOUT_S = 86_400


@dataclass(frozen=True)
class SagaTable:
    """The bookings table a custom steps factory writes to."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]


class StepsFactory(Protocol):
    """Custom steps, built once the component knows its table."""

    def __call__(self, table: SagaTable) -> Sequence[Step]: ...


@dataclass(frozen=True, kw_only=True)
class SagaArgs(PatternArgs):
    """Arguments of `Saga`.

    steps: a factory of the saga's steps; None ships the trip booking (hotel, flight,
      payment through the `charge`/`refund` functions).
    table: an existing bookings table (partition key `pk`, sort key `sk`, both strings);
      None makes a new one.
    state_machine_timeout_s: the saga's execution timeout, in seconds.
    compensation_retry_attempts: retries of each compensation before it is reported stuck.
    allow_fault_injection: demos only: `run_type=fail<Step>` fails that step on purpose;
      refused in prod stacks.
    api: REST `POST /trips` (AWS_IAM) in front of the `start` function.
    event_bus_name: name or ARN of the bus for stuck-compensation events (None: the
      account's default bus). Stack files may still call it `event_bus`.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard("table", TABLE_DEFAULTS, "They are the table owner's to set."),
        Safeguard(
            "allow_fault_injection",
            ("steps fail only on real errors",),
            "Any caller of the API can make a step fail: keep it to demo stacks.",
            off=True,
        ),
    )
    renamed_arguments: ClassVar[Mapping[str, str]] = {"event_bus": "event_bus_name"}

    steps: StepsFactory | None = None
    table: aws.dynamodb.Table | None = None
    state_machine_timeout_s: int = 300
    compensation_retry_attempts: int = 3
    allow_fault_injection: bool = False
    api: bool = True
    event_bus_name: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.state_machine_timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(
                f"state_machine_timeout_s must be between 1 and {MAX_TIMEOUT_S} "
                f"(got {self.state_machine_timeout_s})"
            )
        if not 1 <= self.compensation_retry_attempts <= 10:
            raise ValueError(
                "compensation_retry_attempts must be between 1 and 10 "
                f"(got {self.compensation_retry_attempts})"
            )
        if self.allow_fault_injection and self.settings.production:
            raise ValueError("allow_fault_injection must be false in prod stacks")
        if self.event_bus_name is not None:
            check_event_bus(self.event_bus_name)


def saga_definition(args: SagaArgs, steps: Sequence[Step], *, source: str) -> dict[str, Any]:
    """The component's definition for `steps` (tests run the same one in moto)."""
    return build_definition(
        steps,
        comment="Forward steps; a failure undoes every step already done, newest first",
        timeout_s=args.state_machine_timeout_s,
        compensation_retry_attempts=args.compensation_retry_attempts,
        announcement=Announcement(source=source, event_bus=args.event_bus_name),
        failure="BookingFailed" if args.steps is None else "SagaFailed",
        fault_injection=args.allow_fault_injection,
    )


class Saga(Pattern):
    """REST `POST /trips` -> `start` -> STANDARD saga over the bookings table."""

    slug: ClassVar[str] = "saga"
    type_token: ClassVar[str] = "serverless-patterns:patterns:Saga"

    def __init__(
        self,
        name: str,
        args: SagaArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or SagaArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "saga",
            shared=("echo.py",),
            architecture=settings.architecture,
            runtime=settings.runtime,
        )

        self.table = args.table or create_table(
            scope, "bookings", TableSpec(hash_key=("pk", "S"), range_key=("sk", "S"))
        )
        self.idempotency_table: aws.dynamodb.Table | None = None
        self.ledger_table: aws.dynamodb.Table | None = None
        self.charge: LambdaFunction | None = None
        self.refund: LambdaFunction | None = None
        if args.steps is None:
            steps = self._trip_steps(package)
        else:
            steps = list(args.steps(SagaTable(name=self.table.name, arn=self.table.arn)))

        source = f"serverless-patterns.{name}"
        definition = saga_definition(args, steps, source=source)
        self.machine = StateMachine(scope, "workflow", definition)

        self.stuck_rule = aws.cloudwatch.EventRule(
            scope.child("stuck"),
            name=scope.physical("stuck"),
            description="A saga compensation kept failing: the bookings need an operator",
            event_bus_name=args.event_bus_name,
            event_pattern=json.dumps({"source": [source], "detail-type": [STUCK_DETAIL_TYPE]}),
            tags=scope.tags,
            opts=scope.opts(),
        )
        dimensions: dict[str, pulumi.Input[str]] = {"RuleName": self.stuck_rule.name}
        if args.event_bus_name is not None:
            # Metrics of rules on a custom bus carry the bus's name as well.
            dimensions["EventBusName"] = args.event_bus_name.rsplit("/", 1)[-1]
        self.stuck_alarm = metric_alarm(
            scope,
            "stuck-compensation",
            namespace="AWS/Events",
            metric="MatchedEvents",
            dimensions=dimensions,
            statistic="Sum",
            threshold=0,
            description=f"{name}: a compensation kept failing (event {STUCK_DETAIL_TYPE})",
        )

        self.start: LambdaFunction | None = None
        self.api: aws.apigateway.RestApi | None = None
        self.stage: RestStage | None = None
        self.url: pulumi.Output[str] | None = None
        if args.api:
            self._api(args, package)

        self.state_machine_arn = self.machine.arn
        self.table_name = self.table.name
        self.register_outputs(
            {
                "url": self.url,
                "state_machine_arn": self.state_machine_arn,
                "table_name": self.table_name,
            }
        )

    def _trip_steps(self, package: packaging.Package) -> list[Step]:
        scope = self.scope
        self.idempotency_table = create_table(
            scope,
            "idempotency",
            TableSpec(hash_key=("id", "S"), ephemeral=True, ttl_attribute="expiration"),
        )
        # The demo payment provider's ledger (`functions/saga/payments.py`): one item per trip,
        # shared by `charge` and `refund`, kept (PITR) like any record of money.
        self.ledger_table = create_table(scope, "ledger", TableSpec(hash_key=("pk", "S")))
        records = iam.Statement(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [self.idempotency_table.arn],
        )
        # Conditional writes only: a failed condition returns the item it found.
        ledger_actions = {
            "charge": ["dynamodb:PutItem"],
            "refund": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        }
        functions = []
        for suffix, description in (
            ("charge", "Charges a trip's payment once per trip id"),
            ("refund", "Refunds a trip's payment; nothing charged is nothing to refund"),
        ):
            functions.append(
                LambdaFunction(
                    scope,
                    suffix,
                    FunctionSpec(
                        handler=f"{suffix}.handler",
                        timeout_s=10,
                        environment={
                            "IDEMPOTENCY_TABLE": self.idempotency_table.name,
                            "LEDGER_TABLE": self.ledger_table.name,
                        },
                        description=description,
                    ),
                    package=package,
                    statements=[
                        records,
                        iam.Statement(ledger_actions[suffix], [self.ledger_table.arn]),
                    ],
                    service=self.slug,
                )
            )
        self.charge, self.refund = functions
        return trip_steps(self.table.name, self.charge.arn, self.refund.arn)

    def _api(self, args: SagaArgs, package: packaging.Package) -> None:
        scope = self.scope
        executions = self.machine.arn.apply(
            lambda arn: arn.replace(":stateMachine:", ":execution:") + ":*"
        )
        self.start = LambdaFunction(
            scope,
            "start",
            FunctionSpec(
                handler="start.handler",
                timeout_s=10,
                environment={
                    "STATE_MACHINE_ARN": self.machine.arn,
                    "ALLOW_FAULT_INJECTION": "true" if args.allow_fault_injection else "false",
                },
                description="Starts one saga execution per trip id",
            ),
            package=package,
            statements=[
                iam.Statement(["states:StartExecution"], [self.machine.arn]),
                # Telling a repeated request from a new one reads the existing execution.
                iam.Statement(["states:DescribeExecution"], [executions]),
            ],
            service=self.slug,
        )
        self.api = regional_rest_api(scope, "Starts trip bookings")
        trips = aws.apigateway.Resource(
            scope.child("trips"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="trips",
            opts=scope.opts(),
        )
        method = aws.apigateway.Method(
            scope.child("post"),
            rest_api=self.api.id,
            resource_id=trips.id,
            http_method="POST",
            authorization="AWS_IAM",
            opts=scope.opts(),
        )
        routes = lambda_proxy(scope, self.api, trips, method, self.start, "start", "POST/trips")
        self.stage = RestStage(
            scope,
            self.api,
            StageSpec(),
            routes=[method, *routes],
            fingerprint="POST /trips -> start",
        )
        self.url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/trips")
