"""`stream-workflow`: stream -> pipe (filter + loop guard) -> Step Functions with direct write-back.

One workflow starts per qualifying item change and records its outcome on that same item
straight from the state language (`dynamodb:updateItem`), without re-triggering itself: the
pipe's filter requires the write-back's guard attribute to be absent, on the very type key
(`S` or `N`) the write-back writes, so the write-back's own stream record is filtered out.
The genomics cost steps (`collect`, `price`) are the worked example, not part of the core.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import asl, iam, packaging, streams
from .core.function import FUNCTION_DEFAULTS, FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.state_machine import StateMachine
from .core.streams import PipeSourceSpec, PipeTarget, StreamPipe
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["StepSpec", "StreamWorkflow", "StreamWorkflowArgs", "Writeback"]

GuardType = Literal["S", "N"]
VALUE_TYPES = ("S", "N", "BOOL")
RESERVED_STATES = ("Record", "Wait", "WriteBack", "AlreadyRecorded", "MarkFailed", "Failed", "Done")
STEP_RETRY_ATTEMPTS = 3
STEP_TIMEOUT_MARGIN_S = 5  # the task waits a little longer than the function may run
WRITE_TIMEOUT_S = 30
_STEP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,254}$")
_PLACEHOLDER = re.compile(r"^:[A-Za-z0-9_]+$")
_ASSIGNMENT = re.compile(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")
CONDITIONAL_CHECK_FAILED = "DynamoDB.ConditionalCheckFailedException"


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    """One Lambda step of the workflow.

    name: the state's name and its results key (`$.results.<name>.output`).
    handler: a handler of the shipped example code (`steps.collect`), unless `function`.
    retry_errors: typed exceptions worth a retry (their class names, e.g. PriceUnavailable),
      on top of Lambda's transient errors.
    memory_size: the step function's memory in MB (a new function only).
    timeout_s: the step's timeout in seconds (the task's timeout follows it).
    function: an existing function instead of a new one (then its code and role are yours);
      None makes one from `handler`.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard("function", FUNCTION_DEFAULTS, "They are the function owner's to set."),
    )

    name: str
    handler: str = ""
    memory_size: int = 256
    timeout_s: int = 30
    retry_errors: list[str] = field(default_factory=list)
    function: aws.lambda_.Function | None = None

    def __post_init__(self) -> None:
        if not _STEP_NAME.match(self.name) or self.name in RESERVED_STATES:
            raise ValueError(
                f"steps: name must be 1-40 letters or digits starting with a letter and not one "
                f"of {', '.join(RESERVED_STATES)} (got {self.name!r})"
            )
        if self.function is None and not self.handler:
            raise ValueError(f"steps.{self.name}: handler is required without function")
        self.function_spec()

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler=self.handler or "unused",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description=f"Workflow step {self.name}",
        )


@dataclass(frozen=True, kw_only=True)
class Writeback:
    """The workflow's result, written onto the item that started it.

    guard_attribute: set by the write-back and required absent by the pipe filter (the loop
      guard); the write-back is conditional on its absence, so one result is recorded.
    guard_type: the type key the guard is written with; the filter tests that very key,
      since a filter on `N` lets through a record whose guard was written as `S`.
    set_expression: the UpdateExpression, a SET that assigns the guard among the results.
    values: placeholder -> {type: JSONPath into the state or a literal}, e.g.
      `{":total": {"S": "$.results.price.output.totalCost"}}`.
    names: expression attribute names (`#status` -> `status`) for reserved words.
    failure_attribute: set (S, the error name) on the item when the workflow fails; the pipe
      filter requires it absent as well, so a failure is not retried forever.
    """

    guard_attribute: str
    guard_type: GuardType = "S"
    set_expression: str
    values: dict[str, dict[str, str]]
    names: dict[str, str] = field(default_factory=dict)
    failure_attribute: str = "workflowFailure"

    def __post_init__(self) -> None:
        for label, name in (
            ("guard_attribute", self.guard_attribute),
            ("failure_attribute", self.failure_attribute),
        ):
            if not _ATTRIBUTE.match(name):
                raise ValueError(f"writeback.{label} must be an attribute name (got {name!r})")
        if self.failure_attribute == self.guard_attribute:
            raise ValueError("writeback.failure_attribute must differ from guard_attribute")
        if self.guard_type not in ("S", "N"):
            raise ValueError(f"writeback.guard_type must be one of S, N (got {self.guard_type!r})")
        if not self.set_expression.lstrip().upper().startswith("SET "):
            raise ValueError("writeback.set_expression must be a SET expression")
        for placeholder, typed in self.values.items():
            if not _PLACEHOLDER.match(placeholder):
                raise ValueError(f"writeback.values key {placeholder!r} must look like ':name'")
            if len(typed) != 1 or next(iter(typed)) not in VALUE_TYPES:
                raise ValueError(
                    f"writeback.values[{placeholder!r}] must be one of "
                    f'{", ".join(VALUE_TYPES)} -> value, e.g. {{"S": "$.results.x"}}'
                )
        used = set(re.findall(r":[A-Za-z0-9_]+", self.set_expression))
        if used != set(self.values):
            raise ValueError(
                "writeback.values must define exactly the placeholders of set_expression "
                f"({', '.join(sorted(used))})"
            )
        for alias in self.names:
            if not alias.startswith("#") or alias in ("#guard", "#failure"):
                raise ValueError(
                    f"writeback.names key {alias!r} must start with '#' (#guard and #failure "
                    "are the component's)"
                )
        assigned = {
            self.names.get(target, target): placeholder
            for target, placeholder in _ASSIGNMENT.findall(self.set_expression)
        }
        guard_value = assigned.get(self.guard_attribute)
        if guard_value is None:
            raise ValueError(
                f"writeback.set_expression must SET the guard attribute {self.guard_attribute!r}"
            )
        written_as = next(iter(self.values[guard_value]))
        if written_as != self.guard_type:
            raise ValueError(
                f"writeback.values[{guard_value!r}] writes {self.guard_attribute!r} as "
                f"{written_as} but guard_type is {self.guard_type}: the loop guard would test "
                "the wrong type key and never engage"
            )

    def guard_pattern(self) -> dict[str, Any]:
        """What the filter adds: neither the result nor a failure is on the item yet."""
        return {
            "dynamodb": {
                "NewImage": {
                    self.guard_attribute: {self.guard_type: [{"exists": False}]},
                    self.failure_attribute: {"S": [{"exists": False}]},
                }
            }
        }


EXAMPLE_STEPS = [
    StepSpec(name="collect", handler="steps.collect", timeout_s=30),
    StepSpec(name="price", handler="steps.price", timeout_s=30, retry_errors=["PriceUnavailable"]),
]
EXAMPLE_TEMPLATE = (
    '{"Keys": <$.dynamodb.Keys>, "launchId": "<$.dynamodb.Keys.pk.S>", '
    '"instanceType": "<$.dynamodb.NewImage.instanceType.S>", '
    '"instanceCount": "<$.dynamodb.NewImage.instanceCount.N>", '
    '"runtimeHours": "<$.dynamodb.NewImage.runtimeHours.N>", '
    '"volumeGb": "<$.dynamodb.NewImage.volumeGb.N>", '
    '"filesystemGb": "<$.dynamodb.NewImage.filesystemGb.N>"}'
)
EXAMPLE_WRITEBACK = Writeback(
    guard_attribute="totalCost",
    guard_type="S",
    set_expression=(
        "SET totalCost = :total, instanceCost = :instance, volumeCost = :volume, "
        "filesystemCost = :filesystem"
    ),
    values={
        ":total": {"S": "$.results.price.output.totalCost"},
        ":instance": {"S": "$.results.price.output.instanceCost"},
        ":volume": {"S": "$.results.price.output.volumeCost"},
        ":filesystem": {"S": "$.results.price.output.filesystemCost"},
    },
)


@dataclass(frozen=True, kw_only=True)
class StreamWorkflowArgs(PatternArgs):
    """Arguments of `StreamWorkflow`.

    table: the table whose changes start workflows (stream NEW_IMAGE or NEW_AND_OLD_IMAGES);
      None makes a new one (`pk`/`sk` strings, `stream_view_type`). The pipe is one of its
      two stream readers.
    stream_view_type: the stream of a new table (an existing table keeps its own).
    filter: a filter pattern on the stream record that a change must match, e.g.
      `{"dynamodb": {"NewImage": {"status": {"S": ["COMPLETE"]}}}}`; AND the event names AND
      (with a write-back) the loop guard. None: every change of `event_names`.
    event_names: the stream events that start a workflow (INSERT, MODIFY, REMOVE).
    input_template: the machine's input per record (stream metadata dropped); with a
      write-back it must carry the item's typed `Keys` (`<$.dynamodb.Keys>`).
    steps: the Lambda steps, in order; the example's `collect` and `price` by default.
    wait_seconds: a Wait before the write-back, for data that lands late (0: none).
    writeback: the result written onto the item, or None for no write-back.
    state_machine_timeout_s: the execution timeout, in seconds.
    pipe_max_retries: retries of a record the pipe could not start a workflow for, before
      it goes to the failure queue.
    max_record_age_s: records older than this go to the failure queue without a workflow.
    starting_position: LATEST for an existing table, TRIM_HORIZON for a new one (None).
    log_level: the pipe's log level (the machine logs ERROR in prod and ALL in dev).
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard("table", TABLE_DEFAULTS, "They are the table owner's to set."),
    )

    table: aws.dynamodb.Table | None = None
    stream_view_type: Literal["NEW_IMAGE", "NEW_AND_OLD_IMAGES"] = "NEW_IMAGE"
    filter: dict[str, Any] | None = None
    event_names: list[str] = field(default_factory=lambda: ["INSERT", "MODIFY"])
    input_template: str = EXAMPLE_TEMPLATE
    steps: list[StepSpec] = field(default_factory=lambda: list(EXAMPLE_STEPS))
    wait_seconds: int = 0
    writeback: Writeback | None = EXAMPLE_WRITEBACK
    state_machine_timeout_s: int = 3600
    pipe_max_retries: int = 3
    max_record_age_s: int = 3600
    starting_position: Literal["LATEST", "TRIM_HORIZON"] | None = None
    log_level: Literal["ERROR", "INFO", "TRACE"] = "ERROR"

    def __post_init__(self) -> None:
        if self.stream_view_type not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            raise ValueError(
                "stream_view_type must be one of NEW_IMAGE, NEW_AND_OLD_IMAGES (the filter "
                f"reads the new image; got {self.stream_view_type!r})"
            )
        if not self.steps:
            raise ValueError("steps must list at least one step")
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"steps: names must be unique (got {names})")
        if not 0 <= self.wait_seconds <= 86_400:
            raise ValueError(f"wait_seconds must be between 0 and 86400 (got {self.wait_seconds})")
        longest = sum(s.timeout_s + STEP_TIMEOUT_MARGIN_S for s in self.steps) + self.wait_seconds
        if not longest < self.state_machine_timeout_s <= 31_536_000:
            raise ValueError(
                f"state_machine_timeout_s must exceed the steps' timeouts and the wait "
                f"({longest} s) and be at most 31536000 (got {self.state_machine_timeout_s})"
            )
        if self.starting_position not in (None, "LATEST", "TRIM_HORIZON"):
            raise ValueError(
                "starting_position must be one of LATEST, TRIM_HORIZON "
                f"(got {self.starting_position!r})"
            )
        if self.filter is not None and (not isinstance(self.filter, Mapping) or not self.filter):
            raise ValueError("filter must be a non-empty filter pattern (a map)")
        streams.check_input_template(
            self.input_template,
            "input_template",
            required=["Keys"] if self.writeback is not None else [],
        )
        self.pipe_filter()  # event names, and the filter and the guard do not collide
        if not 0 <= self.pipe_max_retries <= streams.MAX_RETRIES:
            raise ValueError(
                f"pipe_max_retries must be between 0 and {streams.MAX_RETRIES} "
                f"(got {self.pipe_max_retries})"
            )
        self.source_spec("LATEST")

    def pipe_filter(self) -> dict[str, Any]:
        """Event names AND the user's filter AND (with a write-back) the loop guard."""
        pattern: dict[str, Any] = dict(self.filter or {})
        if self.writeback is not None:
            try:
                pattern = streams.merge_patterns(pattern, self.writeback.guard_pattern())
            except ValueError as error:
                raise ValueError(f"filter: {error} (the loop guard needs those fields)") from None
        patterns = [pattern] if pattern else []
        try:
            (combined,) = streams.filter_patterns(self.event_names, patterns)
        except ValueError as error:
            raise ValueError(str(error)) from None
        return combined

    def source_spec(self, starting_position: Literal["LATEST", "TRIM_HORIZON"]) -> PipeSourceSpec:
        return PipeSourceSpec(
            starting_position=starting_position,
            batch_size=1,  # one execution per record
            max_retries=self.pipe_max_retries,
            max_record_age_s=self.max_record_age_s,
            event_names=None,  # already in the filter
            patterns=(self.pipe_filter(),),
            log_level=self.log_level,
        )


def _typed(value: str) -> tuple[str, str]:
    """A value that starts with `$` is a path into the state (`"S.$"`), else a literal."""
    return ("$", value) if value.startswith("$") else ("", value)


def workflow_definition(
    args: StreamWorkflowArgs,
    *,
    functions: Mapping[str, pulumi.Input[str]],
    table_name: pulumi.Input[str],
) -> dict[str, Any]:
    """The state machine: Record -> steps -> [Wait] -> WriteBack -> Done, failures to
    MarkFailed -> Failed. Plain strings give a definition moto can run; Outputs are resolved
    by the state machine block."""
    writeback = args.writeback
    on_error = "MarkFailed" if writeback is not None else "Failed"
    after_steps = (
        "Wait" if args.wait_seconds and writeback else ("WriteBack" if writeback else "Done")
    )
    states: dict[str, asl.State] = {}
    order = [s.name for s in args.steps]
    # Pipes send a batch (here of one) as a JSON array.
    states["Record"] = asl.pass_state(
        parameters={"record.$": "$[0]", "results": {}}, next_state=order[0]
    )
    for index, step in enumerate(args.steps):
        retries = [
            asl.retry(asl.LAMBDA_TRANSIENT_ERRORS, attempts=STEP_RETRY_ATTEMPTS, interval_s=2)
        ]
        if step.retry_errors:
            retries.append(asl.retry(step.retry_errors, attempts=STEP_RETRY_ATTEMPTS, interval_s=5))
        states[step.name] = asl.task(
            asl.integration("lambda", "invoke"),
            parameters={"FunctionName": functions[step.name], "Payload.$": "$"},
            result_selector={"output.$": "$.Payload"},
            result_path=f"$.results.{step.name}",
            timeout_s=step.timeout_s + STEP_TIMEOUT_MARGIN_S,
            retry=retries,
            catch=[asl.catch(on_error)],
            next_state=order[index + 1] if index + 1 < len(order) else after_steps,
        )
    if writeback is None:
        states["Done"] = asl.succeed()
        states["Failed"] = asl.fail("WorkflowFailed", "A step failed; see the execution history")
        return asl.machine(
            "Record",
            states,
            comment="Stream record -> steps",
            timeout_s=args.state_machine_timeout_s,
        )

    if args.wait_seconds:
        states["Wait"] = {"Type": "Wait", "Seconds": args.wait_seconds, "Next": "WriteBack"}
    values = {}
    for placeholder, typed in writeback.values.items():
        ((kind, raw),) = typed.items()
        suffix, value = _typed(raw)
        values[placeholder] = {f"{kind}{'.' + suffix if suffix else ''}": value}
    states["WriteBack"] = asl.task(
        asl.integration("dynamodb", "updateItem"),
        parameters={
            "TableName": table_name,
            "Key.$": "$.record.Keys",
            "UpdateExpression": writeback.set_expression,
            "ConditionExpression": "attribute_not_exists(#guard)",
            "ExpressionAttributeNames": {**writeback.names, "#guard": writeback.guard_attribute},
            "ExpressionAttributeValues": values,
        },
        result_path=None,
        timeout_s=WRITE_TIMEOUT_S,
        retry=[asl.retry(asl.DYNAMODB_TRANSIENT_ERRORS, attempts=STEP_RETRY_ATTEMPTS)],
        # A duplicate execution (the pipe cannot name executions) finds the result recorded.
        catch=[
            asl.catch("AlreadyRecorded", errors=[CONDITIONAL_CHECK_FAILED]),
            asl.catch("MarkFailed"),
        ],
        next_state="Done",
    )
    states["MarkFailed"] = asl.task(
        asl.integration("dynamodb", "updateItem"),
        parameters={
            "TableName": table_name,
            "Key.$": "$.record.Keys",
            "UpdateExpression": "SET #failure = :failure",
            "ConditionExpression": "attribute_not_exists(#guard)",
            "ExpressionAttributeNames": {
                "#failure": writeback.failure_attribute,
                "#guard": writeback.guard_attribute,
            },
            "ExpressionAttributeValues": {":failure": {"S.$": "$.error.Error"}},
        },
        result_path=None,
        timeout_s=WRITE_TIMEOUT_S,
        retry=[asl.retry(asl.DYNAMODB_TRANSIENT_ERRORS, attempts=STEP_RETRY_ATTEMPTS)],
        catch=[
            asl.catch(
                "AlreadyRecorded", errors=[CONDITIONAL_CHECK_FAILED], result_path="$.markError"
            ),
            asl.catch("Failed", result_path="$.markError"),
        ],
        next_state="Failed",
    )
    states["AlreadyRecorded"] = asl.succeed("Another execution recorded the result first")
    states["Done"] = asl.succeed()
    states["Failed"] = asl.fail(
        "WorkflowFailed", "A step or the write-back failed; the item carries the failure marker"
    )
    return asl.machine(
        "Record",
        states,
        comment="Stream record -> steps -> conditional write-back onto the item",
        timeout_s=args.state_machine_timeout_s,
    )


class StreamWorkflow(Pattern):
    """Table stream -> pipe (filter + loop guard) -> Standard state machine -> write-back."""

    slug: ClassVar[str] = "stream-workflow"
    type_token: ClassVar[str] = "serverless-patterns:patterns:StreamWorkflow"

    def __init__(
        self,
        name: str,
        args: StreamWorkflowArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or StreamWorkflowArgs()
        if args.table is not None:
            streams.ensure_reader_capacity(args.table, f"{name}/pipe")
        super().__init__(name, args, opts)
        scope = self.scope
        package = packaging.build(
            "stream_workflow",
            shared=("ddb_json.py",),  # stream images, exact numbers
            architecture=args.settings.architecture,
            runtime=args.settings.runtime,
        )

        self.table = args.table or create_table(
            scope,
            "table",
            TableSpec(
                hash_key=("pk", "S"), range_key=("sk", "S"), stream_view_type=args.stream_view_type
            ),
        )
        self.steps: dict[str, LambdaFunction] = {}
        functions: dict[str, pulumi.Input[str]] = {}
        for step in args.steps:
            if step.function is not None:
                functions[step.name] = step.function.arn
                continue
            self.steps[step.name] = LambdaFunction(
                scope, f"step-{step.name.lower()}", step.function_spec(), package=package,
                service=self.slug,
            )  # fmt: skip
            functions[step.name] = self.steps[step.name].arn

        self.definition = workflow_definition(args, functions=functions, table_name=self.table.name)
        self.state_machine = StateMachine(scope, "workflow", self.definition)

        starting_position = args.starting_position or (
            "LATEST" if args.table is not None else "TRIM_HORIZON"
        )
        self.pipe = StreamPipe(
            scope,
            "pipe",
            self.table,
            args.source_spec(starting_position),
            PipeTarget(
                arn=self.state_machine.arn,
                parameters=aws.pipes.PipeTargetParametersArgs(
                    # Standard workflows can only be started, not awaited.
                    step_function_state_machine_parameters=aws.pipes.PipeTargetParametersStepFunctionStateMachineParametersArgs(
                        invocation_type="FIRE_AND_FORGET"
                    ),
                    input_template=args.input_template,
                ),
                statements=[iam.Statement(["states:StartExecution"], [self.state_machine.arn])],
            ),
            description=f"{name}: qualifying changes start the workflow",
        )

        self.state_machine_arn = self.state_machine.arn
        self.pipe_arn = self.pipe.arn
        self.dlq_url = self.pipe.failure_queue.url
        self.register_outputs(
            {
                "state_machine_arn": self.state_machine_arn,
                "pipe_arn": self.pipe_arn,
                "dlq_url": self.dlq_url,
            }
        )
