"""`queue-redrive`: move a DLQ's messages back to their queue, controlled and observable.

One STANDARD state machine (`components.queue_redrive.definition`) redrives any registered
DLQ with `StartMessageMoveTask` and watches the move until it ends, announcing the outcome
on the bus. Runs start from REST `POST /redrives/{queue}` (IAM auth) or a per-queue
schedule; nothing redrives on an alarm, since moving messages before the fix only sends
them round again. Each DLQ gets a depth alarm.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from ..core import iam, packaging
from ..core.alarms import metric_alarm
from ..core.api import RestStage, StageSpec, lambda_proxy, regional_rest_api
from ..core.function import FunctionSpec, LambdaFunction
from ..core.pattern import Pattern, PatternArgs
from ..core.queue import DurableQueue, QueueSpec
from ..core.schedule import ScheduleSpec, TargetSchedule, validate_expression
from ..core.scope import Scope
from ..core.settings import KMS_KEY, check_event_bus
from ..core.state_machine import StateMachine
from .definition import RUNTIME_TARGETS, definition

__all__ = ["QueueRedrive", "QueueRedriveArgs", "RedriveTarget"]

MAX_RATE = 500  # StartMessageMoveTask's ceiling, messages per second
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
DLQ_ACTIONS = (
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ListMessageMoveTasks",
    "sqs:ReceiveMessage",
    "sqs:StartMessageMoveTask",
)


@dataclass(frozen=True, kw_only=True)
class RedriveTarget:
    """One DLQ that may be redriven.

    name: its key in `POST /redrives/{name}` and in events (lower-case, digits, '-').
    source: the SQS queue whose redrive policy sends to `dlq`: the move API only takes DLQs
      of SQS queues, never those of Lambda, SNS, EventBridge or Scheduler.
    destination: where messages go; None sends them back to `source`.
    schedule: an optional rate()/cron() that starts a redrive on its own.
    kms_key_arn: the CMK of CMK-encrypted queues (decrypt and re-encrypt on the move).
    """

    name: str
    source: aws.sqs.Queue
    dlq: aws.sqs.Queue
    destination: aws.sqs.Queue | None = None
    schedule: str | None = None
    kms_key_arn: str | None = None

    def __post_init__(self) -> None:
        where = f"queues[{self.name!r}]"
        if not _NAME.match(self.name):
            raise ValueError(
                f"{where}.name must be 1-40 lower-case letters, digits or '-' (got {self.name!r})"
            )
        if not isinstance(self.dlq, aws.sqs.Queue):
            raise ValueError(
                f"{where}.dlq must be an SQS queue that is the redrive target of an SQS queue; "
                "DLQs fed by Lambda, SNS, EventBridge or Scheduler cannot be moved by "
                "StartMessageMoveTask"
            )
        if not isinstance(self.source, aws.sqs.Queue):
            raise ValueError(
                f"{where}.source must be the SQS queue whose redrive policy targets the DLQ "
                f"(got {type(self.source).__name__}); the move API rejects DLQs of Lambda "
                "async invocations and SNS subscriptions"
            )
        if self.destination is not None and not isinstance(self.destination, aws.sqs.Queue):
            raise ValueError(f"{where}.destination must be an SQS queue or None")
        if self.schedule is not None:
            validate_expression(self.schedule, f"{where}.schedule")
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, f"{where}.kms_key_arn")

    @classmethod
    def of(
        cls,
        name: str,
        queue: DurableQueue,
        *,
        destination: aws.sqs.Queue | None = None,
        schedule: str | None = None,
    ) -> RedriveTarget:
        """The DLQ of a `DurableQueue` (the library's work queues)."""
        return cls(
            name=name,
            source=queue.queue,
            dlq=queue.dlq,
            destination=destination,
            schedule=schedule,
        )


@dataclass(frozen=True, kw_only=True)
class QueueRedriveArgs(PatternArgs):
    """Arguments of `QueueRedrive`.

    queues: the DLQs that may be redriven (set in code); empty deploys a demo `orders`
      queue with its DLQ, so the stack shows the pattern working on its own.
    max_messages_per_second: default move rate, low so a consumer with reserved
      concurrency is not flooded (a request may ask for up to 500).
    poll_seconds / max_polls: how the move is watched; poll_seconds x max_polls must fit in
      state_machine_timeout_s.
    api: REST `POST /redrives/{queue}` (AWS_IAM) to start a redrive on request.
    notify_topic: where the DLQ alarms go (None: the stack's alarm topic).
    event_bus_name: name or ARN of the bus for redrive-outcome events (None: the account's
      default bus). Stack files may still call it `event_bus`.
    state_machine_timeout_s: the redrive's execution timeout (60-86400 s).
    """

    renamed_arguments: ClassVar[Mapping[str, str]] = {"event_bus": "event_bus_name"}

    queues: tuple[RedriveTarget, ...] = ()
    max_messages_per_second: int = 10
    poll_seconds: int = 30
    max_polls: int = 120
    api: bool = True
    notify_topic: aws.sns.Topic | None = None
    event_bus_name: str | None = None
    state_machine_timeout_s: int = 7200

    def __post_init__(self) -> None:
        if not 1 <= self.max_messages_per_second <= MAX_RATE:
            raise ValueError(
                f"max_messages_per_second must be between 1 and {MAX_RATE} "
                f"(got {self.max_messages_per_second})"
            )
        if not 1 <= self.poll_seconds <= 3600:
            raise ValueError(f"poll_seconds must be between 1 and 3600 (got {self.poll_seconds})")
        if not 1 <= self.max_polls <= 10_000:
            raise ValueError(f"max_polls must be between 1 and 10000 (got {self.max_polls})")
        if not 60 <= self.state_machine_timeout_s <= 86_400:
            raise ValueError(
                "state_machine_timeout_s must be between 60 and 86400 "
                f"(got {self.state_machine_timeout_s})"
            )
        if self.poll_seconds * self.max_polls >= self.state_machine_timeout_s:
            raise ValueError(
                f"poll_seconds x max_polls ({self.poll_seconds * self.max_polls} s) must be "
                f"below state_machine_timeout_s ({self.state_machine_timeout_s})"
            )
        names = [q.name for q in self.queues]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"queues: names must be unique ({', '.join(duplicates)})")
        if self.event_bus_name is not None:
            check_event_bus(self.event_bus_name)


class QueueRedrive(Pattern):
    """REST `POST /redrives/{queue}` or a schedule -> redrive state machine -> SQS move task."""

    slug: ClassVar[str] = "queue-redrive"
    type_token: ClassVar[str] = "serverless-patterns:patterns:QueueRedrive"

    def __init__(
        self,
        name: str,
        args: QueueRedriveArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or QueueRedriveArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings

        self.demo_queue: DurableQueue | None = None
        targets: Sequence[RedriveTarget] = args.queues
        if not targets:
            self.demo_queue = DurableQueue(scope, "orders", QueueSpec(consumer_timeout_s=30))
            targets = [RedriveTarget.of("orders", self.demo_queue)]
        self.targets = list(targets)

        self.machine = StateMachine(
            scope,
            "workflow",
            definition(
                max_polls=args.max_polls,
                timeout_s=args.state_machine_timeout_s,
                source=f"serverless-patterns.{name}",
                event_bus=args.event_bus_name,
            ),
            statements=[s for t in self.targets for s in _move_statements(t)],
            runtime_targets=RUNTIME_TARGETS,
        )

        alarm_scope = scope
        if args.notify_topic is not None:
            alarm_scope = Scope(
                self,
                name,
                dataclasses.replace(settings, alarm_actions=(args.notify_topic.arn,)),
            )
        self.alarms = [
            metric_alarm(
                alarm_scope,
                f"{target.name}-dlq-waiting",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": target.dlq.name},
                threshold=0,
                description=(
                    f"Messages wait in the {target.name} DLQ: fix the cause, then "
                    f"POST /redrives/{target.name}"
                ),
            )
            for target in self.targets
        ]

        self.schedules = [
            TargetSchedule(
                scope,
                f"{target.name}-redrive",
                ScheduleSpec(expression=target.schedule, argument=f"queues[{target.name!r}]"),
                target_arn=self.machine.arn,
                target_statement=iam.Statement(["states:StartExecution"], [self.machine.arn]),
                input=self._input(target, args.max_messages_per_second, args.poll_seconds),
                description=f"Redrives the {target.name} DLQ",
            )
            for target in self.targets
            if target.schedule is not None
        ]

        self.start_redrive: LambdaFunction | None = None
        self.api: aws.apigateway.RestApi | None = None
        self.api_url: pulumi.Output[str] | None = None
        if args.api:
            package = packaging.build(
                "queue_redrive",
                shared=("echo.py",),
                architecture=settings.architecture,
                runtime=settings.runtime,
            )
            self._api(args, package)

        self.state_machine_arn = self.machine.arn
        self.alarm_arns = [alarm.arn for alarm in self.alarms]
        self.register_outputs(
            {
                "state_machine_arn": self.state_machine_arn,
                "api_url": self.api_url,
                "alarm_arns": self.alarm_arns,
            }
        )

    @staticmethod
    def _input(
        target: RedriveTarget, rate: int, poll_seconds: int
    ) -> dict[str, pulumi.Input[object]]:
        destination = target.destination or target.source
        return {
            "queue": target.name,
            "dlqArn": target.dlq.arn,
            "dlqUrl": target.dlq.url,
            "destinationArn": destination.arn,
            "rate": rate,
            "pollSeconds": poll_seconds,
        }

    def _api(self, args: QueueRedriveArgs, package: packaging.Package) -> None:
        scope = self.scope
        allowed = pulumi.Output.from_input(
            {
                t.name: {
                    k: v
                    for k, v in self._input(t, args.max_messages_per_second, 0).items()
                    if k in ("dlqArn", "dlqUrl", "destinationArn")
                }
                for t in self.targets
            }
        ).apply(lambda targets: json.dumps(targets, sort_keys=True))
        executions = self.machine.arn.apply(
            lambda arn: arn.replace(":stateMachine:", ":execution:") + ":*"
        )
        self.start_redrive = LambdaFunction(
            scope,
            "start-redrive",
            FunctionSpec(
                handler="start_redrive.handler",
                timeout_s=10,
                environment={
                    "STATE_MACHINE_ARN": self.machine.arn,
                    "REDRIVE_TARGETS": allowed,
                    "DEFAULT_RATE": str(args.max_messages_per_second),
                    "POLL_SECONDS": str(args.poll_seconds),
                },
                description="Starts a redrive of one registered DLQ, once per queue and minute",
            ),
            package=package,
            statements=[
                iam.Statement(["states:StartExecution"], [self.machine.arn]),
                # A repeated request within the minute reads the rate that execution has.
                iam.Statement(["states:DescribeExecution"], [executions]),
                # A request while a move runs is answered 409 with the running move's rate.
                iam.Statement(["sqs:ListMessageMoveTasks"], [t.dlq.arn for t in self.targets]),
            ],
            service=self.slug,
        )
        self.api = regional_rest_api(scope, "Starts DLQ redrives")
        redrives = aws.apigateway.Resource(
            scope.child("redrives"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="redrives",
            opts=scope.opts(),
        )
        queue = aws.apigateway.Resource(
            scope.child("queue"),
            rest_api=self.api.id,
            parent_id=redrives.id,
            path_part="{queue}",
            opts=scope.opts(),
        )
        method = aws.apigateway.Method(
            scope.child("post"),
            rest_api=self.api.id,
            resource_id=queue.id,
            http_method="POST",
            authorization="AWS_IAM",
            request_parameters={"method.request.path.queue": True},
            opts=scope.opts(),
        )
        routes = lambda_proxy(
            scope, self.api, queue, method, self.start_redrive, "start-redrive", "POST/redrives/*"
        )
        self.stage = RestStage(
            scope,
            self.api,
            StageSpec(),
            routes=[method, *routes],
            fingerprint="POST /redrives/{queue} -> start_redrive",
        )
        self.api_url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/redrives")


def _move_statements(target: RedriveTarget) -> list[iam.Statement]:
    """What StartMessageMoveTask needs: read and delete on the DLQ, send on the destination."""
    destination = target.destination or target.source
    statements = [
        iam.Statement(list(DLQ_ACTIONS), [target.dlq.arn]),
        iam.Statement(["sqs:SendMessage"], [destination.arn]),
    ]
    if target.kms_key_arn is not None:
        statements.append(
            iam.Statement(["kms:Decrypt", "kms:GenerateDataKey"], [target.kms_key_arn])
        )
    return statements
