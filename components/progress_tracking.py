"""`progress-tracking`: a Step Functions workflow that reports its progress to the WebSocket
client that started it, in one of three modes, without a lost client ever failing the work.

A client sends `{"action": "startWorkflow", "requestId": ..., "request": {...}}` over the
WebSocket API (a `WebSocketApi`, new or existing); `start` starts the machine with
`{connectionId, request}`, named after the request id (a resend gets the same execution;
another request under a used id is refused, through Powertools idempotency records in an
ephemeral table and, for older ids, the execution's input).
Each business step is preceded by a `Report: <step>` state carrying its percentage:

  direct       `apigateway:invoke` POSTs to `@connections/{connectionId}` from the state
               language (least latency; the machine role holds ManageConnections)
  lambda       `lambda:invoke` of `report`, which posts through the shared sender
  eventbridge  `events:putEvents` (`WorkflowProgress`) -> rule (retry, DLQ) -> `report`

Every Report state discards its result (`ResultPath: null`) and catches everything into the
next business step, so reporting can only ever cost a message, never the workflow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import asl, iam, packaging
from .core.dead_letter import DeadLetterQueue
from .core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs
from .core.state_machine import StateMachine
from .core.table import TableSpec, create_table
from .core.websocket import SHARED_MODULES, check_route
from .websocket_api import WebSocketApi, WebSocketApiArgs, WebSocketCore

__all__ = ["ProgressTrackedWorkflow", "ProgressTrackedWorkflowArgs", "StepSpec"]

ReportingMode = Literal["direct", "lambda", "eventbridge"]
EVENT_SOURCE = "serverless-patterns.progress-tracking"
DETAIL_TYPE = "WorkflowProgress"
REPORT_TIMEOUT_S = 5
REPORT_TASK_TIMEOUT_S = 10
COMPLETED, FAILED = "completed", "failed"
_STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,60}$")
# apigateway:invoke fails as `ApiGateway.<status>`; a 410 (client gone) is not worth a retry.
APIGATEWAY_TRANSIENT_ERRORS = (
    "ApiGateway.429",
    "ApiGateway.500",
    "ApiGateway.502",
    "ApiGateway.503",
    "ApiGateway.504",
    "States.Timeout",
)


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    """One business step: a function in `functions/progress_tracking/` that raises a typed
    error to fail the workflow (retried only for Lambda's own transient errors)."""

    name: str
    handler: str
    timeout_s: int = 30
    memory_size: int = 256

    def __post_init__(self) -> None:
        if not _STEP_NAME.match(self.name) or self.name.lower() in (COMPLETED, FAILED):
            raise ValueError(
                "steps[].name must be 1-61 letters, digits, spaces, '_' or '-', and not "
                f"'completed' or 'failed' (got {self.name!r})"
            )
        self.function_spec()

    @property
    def key(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler=self.handler,
            timeout_s=self.timeout_s,
            memory_size=self.memory_size,
            description=f"Workflow step: {self.name}",
        )


DEFAULT_STEPS = (
    StepSpec(name="Inventory check", handler="steps.inventory_check"),
    StepSpec(name="Payment", handler="steps.payment"),
)


@dataclass(frozen=True, kw_only=True)
class ProgressTrackedWorkflowArgs(PatternArgs):
    """Arguments of `ProgressTrackedWorkflow`.

    websocket: an existing `WebSocketApi` to add the start route to, or the args of a new
      one (None: a new one with its defaults).
    reporting_mode: how Report states reach the client: `direct` (`apigateway:invoke` from
      the state machine), `lambda` (the `report` function) or `eventbridge` (an event, a
      rule with retries and a DLQ, then `report`).
    steps: the business steps, in order (`StepSpec`: name, handler in
      `functions/progress_tracking/`, timeout, memory); an inventory check and a payment by
      default.
    progress: step name -> percentage reported before it (default: evenly spaced); values
      rise with the steps, below 100 (100 is the completion report).
    start_route: the WebSocket route key (the message's `action`) that starts a workflow.
    state_machine_timeout_s: the execution timeout; above the steps' total timeout.
    event_bus: the bus of eventbridge mode (None: a new one).
    report_retry_attempts: eventbridge mode: the rule target's retries of `report` (0-185).
    report_max_age_s: eventbridge mode: how long a progress event may wait to be reported
      (60-86400 s) before it goes to the DLQ.
    """

    websocket: WebSocketApi | WebSocketApiArgs | None = None
    reporting_mode: ReportingMode = "lambda"
    steps: list[StepSpec] = field(default_factory=lambda: list(DEFAULT_STEPS))
    progress: dict[str, int] = field(default_factory=dict)
    start_route: str = "startWorkflow"
    state_machine_timeout_s: int = 900
    event_bus: aws.cloudwatch.EventBus | None = None
    report_retry_attempts: int = 3
    report_max_age_s: int = 300

    def __post_init__(self) -> None:
        if self.reporting_mode not in ("direct", "lambda", "eventbridge"):
            raise ValueError(
                "reporting_mode must be one of direct, lambda, eventbridge "
                f"(got {self.reporting_mode!r})"
            )
        if not self.steps:
            raise ValueError("steps must name at least one step")
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError(f"steps must have distinct names (got {[s.name for s in self.steps]})")
        unknown = sorted(set(self.progress) - {s.name for s in self.steps})
        if unknown:
            raise ValueError(f"progress names no step: {unknown}")
        values = list(self.percentages().values())
        if any(not 0 <= v < 100 for v in values) or values != sorted(set(values)):
            raise ValueError(
                f"progress must rise with the steps, each between 0 and 99 (got {values})"
            )
        try:
            check_route(self.start_route, FunctionSpec(handler="start.handler", timeout_s=10))
        except ValueError as error:
            raise ValueError(f"start_route: {error}") from None
        longest = sum(s.timeout_s + REPORT_TASK_TIMEOUT_S for s in self.steps)
        if not longest < self.state_machine_timeout_s <= 31_536_000:
            raise ValueError(
                f"state_machine_timeout_s must be above the steps' total timeout ({longest} s) "
                f"and at most one year (got {self.state_machine_timeout_s})"
            )
        if not 0 <= self.report_retry_attempts <= 185:
            raise ValueError(
                "report_retry_attempts must be between 0 and 185 "
                f"(got {self.report_retry_attempts})"
            )
        if not 60 <= self.report_max_age_s <= 86_400:
            raise ValueError(
                f"report_max_age_s must be between 60 and 86400 (got {self.report_max_age_s})"
            )
        if self.event_bus is not None and self.reporting_mode != "eventbridge":
            raise ValueError("event_bus is used only with reporting_mode='eventbridge'")

    def percentages(self) -> dict[str, int]:
        """Step name -> percentage: the configured ones, the rest evenly spaced."""
        count = len(self.steps)
        return {
            s.name: self.progress.get(s.name, round(100 * i / count))
            for i, s in enumerate(self.steps)
        }


# The definition ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportTarget:
    """Where Report states send progress (values may be Outputs)."""

    mode: ReportingMode
    api_endpoint: Any = None  # direct: `{api}.execute-api.{region}.amazonaws.com`
    stage: Any = None  # direct
    function_arn: Any = None  # lambda
    bus_name: Any = None  # eventbridge
    workflow: str = ""  # eventbridge: the rule's `detail.workflow`


def report_state_name(step: str) -> str:
    return f"Report: {step}"


def _report(
    target: ReportTarget,
    step: str,
    progress: int,
    message: str,
    next_state: str,
    *,
    error: bool = False,
) -> asl.State:
    body: dict[str, Any] = {
        "executionArn.$": "$$.Execution.Id",
        "step": step,
        "progress": progress,
        "message": message,
    }
    if error:
        body["error.$"] = "$.error.Error"
    # A departed client (or any reporting problem) must never stop the work.
    catch = [asl.catch(next_state, result_path=None)]
    if target.mode == "direct":
        return asl.task(
            "arn:aws:states:::apigateway:invoke",
            parameters={
                "ApiEndpoint": target.api_endpoint,
                "Method": "POST",
                "Stage": target.stage,
                "Path.$": "States.Format('/@connections/{}', $.connectionId)",
                "RequestBody": body,
                "AuthType": "IAM_ROLE",
            },
            retry=[asl.retry(APIGATEWAY_TRANSIENT_ERRORS, attempts=2)],
            catch=catch,
            timeout_s=REPORT_TASK_TIMEOUT_S,
            result_path=None,
            next_state=next_state,
        )
    payload = {"connectionId.$": "$.connectionId", **body}
    if target.mode == "lambda":
        return asl.task(
            asl.integration("lambda", "invoke"),
            parameters={"FunctionName": target.function_arn, "Payload": payload},
            retry=[asl.retry(asl.LAMBDA_TRANSIENT_ERRORS, attempts=2)],
            catch=catch,
            timeout_s=REPORT_TASK_TIMEOUT_S,
            result_path=None,
            next_state=next_state,
        )
    return asl.task(
        asl.integration("events", "putEvents"),
        parameters={
            "Entries": [
                {
                    "EventBusName": target.bus_name,
                    "Source": EVENT_SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": {**payload, "workflow": target.workflow},
                }
            ]
        },
        retry=[asl.retry(asl.EVENTS_TRANSIENT_ERRORS, attempts=2)],
        catch=catch,
        timeout_s=REPORT_TASK_TIMEOUT_S,
        result_path=None,
        next_state=next_state,
    )


def build_definition(
    steps: Sequence[StepSpec],
    percentages: Mapping[str, int],
    step_arns: Mapping[str, Any],
    target: ReportTarget,
    *,
    timeout_s: int,
) -> dict[str, Any]:
    """Report: <step> -> <step> -> ... -> Report: completed -> Done; a failed step ->
    Report: failed -> Failed. `step_arns`: step name -> function ARN."""
    states: dict[str, asl.State] = {}
    failed_report = report_state_name(FAILED)
    for index, step in enumerate(steps):
        after = (
            report_state_name(steps[index + 1].name)
            if index + 1 < len(steps)
            else report_state_name(COMPLETED)
        )
        states[report_state_name(step.name)] = _report(
            target, step.name, percentages[step.name], f"{step.name} started", step.name
        )
        states[step.name] = asl.task(
            asl.integration("lambda", "invoke"),
            parameters={
                "FunctionName": step_arns[step.name],
                "Payload": {"request.$": "$.request", "executionArn.$": "$$.Execution.Id"},
            },
            result_selector={"result.$": "$.Payload"},
            result_path=f"$.results.{step.key}",
            retry=[asl.retry(asl.LAMBDA_TRANSIENT_ERRORS, attempts=3)],
            catch=[asl.catch(failed_report, result_path="$.error")],
            timeout_s=step.timeout_s + REPORT_TASK_TIMEOUT_S,
            next_state=after,
        )
    states[report_state_name(COMPLETED)] = _report(target, COMPLETED, 100, "Done", "Done")
    states["Done"] = asl.succeed()
    states[failed_report] = _report(
        target, FAILED, 100, "The workflow failed", "Failed", error=True
    )
    states["Failed"] = asl.fail("WorkflowFailed", "A business step failed; see $.error")
    return asl.machine(
        report_state_name(steps[0].name),
        states,
        comment="Business steps, each preceded by a progress report to the client",
        timeout_s=timeout_s,
    )


def report_states(definition: Mapping[str, Any]) -> list[str]:
    return [name for name in definition["States"] if name.startswith("Report: ")]


# The component ----------------------------------------------------------------------------


class ProgressTrackedWorkflow(Pattern):
    """WebSocket `startWorkflow` -> `start` -> state machine -> progress to the client."""

    slug: ClassVar[str] = "progress-tracking"
    type_token: ClassVar[str] = "serverless-patterns:patterns:ProgressTrackedWorkflow"

    def __init__(
        self,
        name: str,
        args: ProgressTrackedWorkflowArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or ProgressTrackedWorkflowArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = scope.settings
        self.package = packaging.build(
            "progress_tracking",
            shared=(*SHARED_MODULES, "echo.py"),
            architecture=settings.architecture,
            runtime=settings.runtime,
        )
        # An existing API gets the start route; otherwise this component owns a new one.
        if isinstance(args.websocket, WebSocketApi):
            self.websocket = args.websocket.core
        else:
            self.websocket = WebSocketCore(
                scope, args.websocket or WebSocketApiArgs(), service=self.slug
            )
        ws = self.websocket

        self.steps = {
            step.name: LambdaFunction(
                scope,
                f"step-{step.key}",
                step.function_spec(),
                package=self.package,
                service=self.slug,
            )
            for step in args.steps
        }
        machine_name = scope.physical("workflow", max_length=80)
        self.report: LambdaFunction | None = None
        self.bus: aws.cloudwatch.EventBus | None = None
        self.rule: aws.cloudwatch.EventRule | None = None
        extra: list[iam.Statement] = []
        runtime_targets: list[str] = []
        if args.reporting_mode == "direct":
            endpoint = pulumi.Output.all(ws.api_id, ws.endpoint.api.api_endpoint).apply(
                lambda v: v[1].split("://", 1)[-1]
            )
            target = ReportTarget("direct", api_endpoint=endpoint, stage=ws.endpoint.stage.name)
            extra.append(ws.send_statement)
        elif args.reporting_mode == "lambda":
            self.report = self._report_function(None)
            target = ReportTarget("lambda", function_arn=self.report.arn)
        else:
            self.bus = args.event_bus or aws.cloudwatch.EventBus(
                scope.child("bus"), name=scope.physical("bus"), tags=scope.tags, opts=scope.opts()
            )
            target = ReportTarget("eventbridge", bus_name=self.bus.name, workflow=machine_name)
        definition = build_definition(
            args.steps,
            args.percentages(),
            {n: f.arn for n, f in self.steps.items()},
            target,
            timeout_s=args.state_machine_timeout_s,
        )
        if args.reporting_mode == "direct":
            runtime_targets = report_states(definition)
        self.state_machine = StateMachine(
            scope,
            "workflow",
            definition,
            statements=extra,
            runtime_targets=runtime_targets,
        )
        if args.reporting_mode == "eventbridge":
            self._event_route(args, machine_name)

        # `start`'s Powertools idempotency records: a request id reused for another request
        # is a conflict, not the first answer replayed.
        self.idempotency_table = create_table(
            scope,
            "idempotency",
            TableSpec(hash_key=("id", "S"), ephemeral=True, ttl_attribute="expiration"),
        )
        executions = self.state_machine.arn.apply(
            lambda arn: arn.replace(":stateMachine:", ":execution:") + ":*"
        )
        self.start = LambdaFunction(
            scope,
            "start",
            FunctionSpec(
                handler="start.handler",
                timeout_s=10,
                environment={
                    **ws.sender_environment,
                    "STATE_MACHINE_ARN": self.state_machine.arn,
                    "IDEMPOTENCY_TABLE": self.idempotency_table.name,
                },
                description="Starts a tracked workflow for a WebSocket client",
            ),
            package=self.package,
            statements=[
                iam.Statement(["states:StartExecution"], [self.state_machine.arn]),
                # An id older than its idempotency record: compare with the execution's input.
                iam.Statement(["states:DescribeExecution"], [executions]),
                iam.Statement(
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ],
                    [self.idempotency_table.arn],
                ),
                *ws.registry.send_only_statements(),
                ws.send_statement,
            ],
            service=self.slug,
        )
        self.start_route = ws.endpoint.route(scope, "start", args.start_route, self.start)

        self.ws_url = ws.ws_url
        self.state_machine_arn = self.state_machine.arn
        self.report_function_name = self.report.name if self.report else None
        self.bus_name = self.bus.name if self.bus else None
        self.register_outputs(
            {
                "ws_url": self.ws_url,
                "state_machine_arn": self.state_machine_arn,
                "report_function_name": self.report_function_name,
                "bus_name": self.bus_name,
            }
        )

    def _report_function(self, dlq: DeadLetterQueue | None) -> LambdaFunction:
        ws = self.websocket
        statements = [*ws.registry.send_only_statements(), ws.send_statement]
        async_invoke = None
        if dlq is not None:
            statements.append(iam.sqs_send(dlq.arn))
            async_invoke = AsyncInvoke(on_failure_arn=dlq.arn, maximum_event_age_s=300)
        return LambdaFunction(
            self.scope,
            "report",
            FunctionSpec(
                handler="report.handler",
                timeout_s=REPORT_TIMEOUT_S,
                environment=ws.sender_environment,
                description="Posts workflow progress to the client that started it",
                async_invoke=async_invoke,
            ),
            package=self.package,
            statements=statements,
            service=self.slug,
        )

    def _event_route(self, args: ProgressTrackedWorkflowArgs, machine_name: str) -> None:
        scope = self.scope
        assert self.bus is not None
        self.rule = aws.cloudwatch.EventRule(
            scope.child("progress-rule"),
            name=scope.physical("progress"),
            description="Progress events of this workflow -> report",
            event_bus_name=self.bus.name,
            event_pattern=json.dumps(
                {
                    "source": [EVENT_SOURCE],
                    "detail-type": [DETAIL_TYPE],
                    "detail": {"workflow": [machine_name]},
                }
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.report_dlq = DeadLetterQueue(
            scope,
            "report-dlq",
            description="Progress events that could not be reported",
            service_senders=[("events.amazonaws.com", self.rule.arn)],
        )
        self.report = self._report_function(self.report_dlq)
        permission = aws.lambda_.Permission(
            scope.child("report-invoke"),
            action="lambda:InvokeFunction",
            function=self.report.function.name,
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
            opts=scope.opts(),
        )
        self.rule_target = aws.cloudwatch.EventTarget(
            scope.child("progress-target"),
            rule=self.rule.name,
            event_bus_name=self.bus.name,
            arn=self.report.arn,
            input_path="$.detail",
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=args.report_retry_attempts,
                maximum_event_age_in_seconds=args.report_max_age_s,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(
                arn=self.report_dlq.arn
            ),
            opts=scope.opts(depends_on=[permission, self.report_dlq.policy]),
        )
