"""Reading a DynamoDB stream: Lambda mappings and EventBridge Pipes with one set of defaults.
A Lambda mapping can read a Kinesis data stream the same way (`StreamConsumer`).

Every reader of a table's stream gets the same failure model: bisect the batch on error,
bounded retries, a maximum record age, an on-failure SQS queue (encrypted, 14 days, TLS
only, depth alarm), and event-name plus pattern filters. `StreamConsumer` is that reader for a
Lambda function (`ReportBatchItemFailures`, iterator-age alarm, optionally a tumbling
window); `StreamPipe` for an EventBridge pipe (`AUTOMATIC_BISECT`, a dead-letter config,
logging to an explicit log group).

**Two readers per table.** DynamoDB throttles a stream shard read by more than two
consumers, so every reader claims a slot on its table when it is constructed and the third
claim is a `ValueError`, across all components of the program. The claims live on the table
resource object itself (`_STREAM_READERS_ATTRIBUTE`), not in a module-level registry keyed
by name or URN: a table's URN is an Output (unknown while the program is constructed), and
a global registry would carry claims from one Pulumi program (or test) into the next. The
object dies with its program, so nothing leaks. The limit is per Python object: a table
looked up twice with `Table.get` is two objects, which is why the policy pack checks the
same limit over the whole stack (STACK-018).

**Pipe input templates.** `render_input_template` renders a pipe `input_template` against
a record the way Pipes does (quoted placeholders take the scalar's text, unquoted ones the
JSON value); components use `check_input_template` to reject a template that cannot render
to JSON before any resource exists, and tests render templates against fixture records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import pulumi
import pulumi_aws as aws

from . import aws_context, iam
from .alarms import metric_alarm
from .dead_letter import DeadLetterQueue
from .function import LambdaFunction
from .scope import Scope

MAX_STREAM_READERS: Final = 2
EVENT_NAMES: Final = ("INSERT", "MODIFY", "REMOVE")
MAX_FILTERS: Final = 5  # Lambda and Pipes both take at most five filter patterns
MAX_RECORD_AGE_S: Final = 604_800
MAX_RETRIES: Final = 10_000
MAX_TUMBLING_WINDOW_S: Final = 900
ITERATOR_AGE_ALARM_S: Final = 300
_STREAM_READERS_ATTRIBUTE: Final = "_serverless_patterns_stream_readers"

StartingPosition = Literal["TRIM_HORIZON", "LATEST"]
# What a Lambda mapping reads: a table's stream, or a Kinesis data stream (no reader limit
# here: a Kinesis shard's read throughput is shared, not capped at two readers).
StreamSource: TypeAlias = aws.dynamodb.Table | aws.kinesis.Stream
PipeLogLevel = Literal["ERROR", "INFO", "TRACE"]

# A stream consumer's concurrency is bounded by the stream's shards (one batch per shard at
# parallelization factor 1), so its function reserves none: reserving less only throttles
# the poller and grows iterator age. The policy pack agrees (STACK-001 counts a stream
# consumer as throttled only when it is tagged wa:throttled-consumer), so no exemption.


# Reader registry --------------------------------------------------------------------------


def _table_name(table: pulumi.Resource) -> str:
    return str(getattr(table, "pulumi_resource_name", None) or table)


def stream_readers(table: pulumi.Resource) -> tuple[str, ...]:
    """The readers that have claimed this table's stream so far, in claim order."""
    return tuple(getattr(table, _STREAM_READERS_ATTRIBUTE, ()))


def ensure_reader_capacity(table: pulumi.Resource, owner: str, readers: int = 1) -> None:
    """Raise unless `readers` more readers fit on the table's stream (before any resource)."""
    existing = stream_readers(table)
    if len(existing) + readers > MAX_STREAM_READERS:
        taken = ", ".join(existing) or "none"
        raise ValueError(
            f"table {_table_name(table)!r} allows at most {MAX_STREAM_READERS} stream readers "
            f"(Lambda mappings plus pipes, across all components); {owner} needs {readers} "
            f"and {len(existing)} are taken ({taken}). Fan out through one reader instead, "
            "e.g. a pipe into an EventBridge bus"
        )


def claim_stream_reader(table: pulumi.Resource, reader: str) -> None:
    ensure_reader_capacity(table, reader)
    setattr(table, _STREAM_READERS_ATTRIBUTE, (*stream_readers(table), reader))


# Filters ------------------------------------------------------------------------------------


def merge_patterns(
    left: Mapping[str, Any], right: Mapping[str, Any], path: str = "$"
) -> dict[str, Any]:
    """One pattern that requires both (AND); a field constrained by both is an error."""
    merged = dict(left)
    for key, value in right.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(merged[key], Mapping) and isinstance(value, Mapping):
            merged[key] = merge_patterns(merged[key], value, f"{path}.{key}")
        else:
            # One pattern cannot hold two conditions on the same field (they would be OR-ed).
            raise ValueError(f"filter patterns both constrain {path}.{key}; combine them in one")
    return merged


def filter_patterns(
    event_names: Sequence[str] | None, patterns: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The filter list: each pattern AND `eventName` in `event_names` (patterns are OR-ed)."""
    if event_names is not None:
        unknown = sorted(set(event_names) - set(EVENT_NAMES))
        if unknown or not event_names:
            raise ValueError(
                f"event_names must be a non-empty list of {', '.join(EVENT_NAMES)} (got "
                f"{list(event_names)!r})"
            )
    names = {"eventName": sorted(set(event_names), key=EVENT_NAMES.index)} if event_names else {}
    if not patterns:
        return [names] if names else []
    if len(patterns) > MAX_FILTERS:
        raise ValueError(f"at most {MAX_FILTERS} filter patterns (got {len(patterns)})")
    return [merge_patterns(names, pattern) for pattern in patterns]


def _filter_json(patterns: Sequence[Mapping[str, Any]]) -> list[str]:
    return [json.dumps(p, sort_keys=True, separators=(",", ":")) for p in patterns]


# Failure queue ------------------------------------------------------------------------------


class FailureQueue(DeadLetterQueue):
    """Where a stream reader puts what it gave up on; the reader's role sends to it."""

    def __init__(self, scope: Scope, suffix: str) -> None:
        super().__init__(
            scope, suffix, description="Stream records were given up on (see the failure queue)"
        )


# Shared reader settings ---------------------------------------------------------------------


def _check_reader_settings(
    *,
    batch_size: int,
    max_batch_size: int,
    batching_window_s: int,
    max_retries: int,
    max_record_age_s: int,
    parallelization_factor: int,
    starting_position: str,
) -> None:
    if starting_position not in ("TRIM_HORIZON", "LATEST"):
        raise ValueError(
            f"starting_position must be one of TRIM_HORIZON, LATEST (got {starting_position!r})"
        )
    if not 1 <= batch_size <= max_batch_size:
        raise ValueError(f"batch_size must be between 1 and {max_batch_size} (got {batch_size})")
    if not 0 <= batching_window_s <= 300:
        raise ValueError(f"batching_window_s must be between 0 and 300 (got {batching_window_s})")
    # -1 (the services' default) retries forever: one poison record would block its shard.
    if not 0 <= max_retries <= MAX_RETRIES:
        raise ValueError(f"max_retries must be between 0 and {MAX_RETRIES} (got {max_retries})")
    if not 60 <= max_record_age_s <= MAX_RECORD_AGE_S:
        raise ValueError(
            f"max_record_age_s must be between 60 and {MAX_RECORD_AGE_S} (got {max_record_age_s})"
        )
    if not 1 <= parallelization_factor <= 10:
        raise ValueError(
            f"parallelization_factor must be between 1 and 10 (got {parallelization_factor})"
        )


# Lambda mapping -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StreamConsumerSpec:
    """A Lambda mapping on a table stream.

    event_names: only these events reach the function (None: all); DynamoDB streams only.
    patterns: extra filter patterns (OR-ed, each AND the event names), e.g.
      `{"dynamodb": {"NewImage": {"status": {"S": ["COMPLETE"]}}}}`, or for a Kinesis
      stream of JSON records `{"data": {"final": [true]}}`.
    tumbling_window_s: 0 (none) or the length of a tumbling window in seconds (up to 900):
      the function's state is carried across a window's invocations.
    """

    starting_position: StartingPosition = "TRIM_HORIZON"
    batch_size: int = 100
    batching_window_s: int = 0
    max_retries: int = 5
    max_record_age_s: int = 86_400
    parallelization_factor: int = 1
    event_names: tuple[str, ...] | None = None
    patterns: tuple[Mapping[str, Any], ...] = ()
    iterator_age_alarm_s: int = ITERATOR_AGE_ALARM_S
    tumbling_window_s: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.tumbling_window_s <= MAX_TUMBLING_WINDOW_S:
            raise ValueError(
                f"tumbling_window_s must be between 0 and {MAX_TUMBLING_WINDOW_S} "
                f"(got {self.tumbling_window_s})"
            )
        _check_reader_settings(
            batch_size=self.batch_size,
            max_batch_size=10_000,
            batching_window_s=self.batching_window_s,
            max_retries=self.max_retries,
            max_record_age_s=self.max_record_age_s,
            parallelization_factor=self.parallelization_factor,
            starting_position=self.starting_position,
        )
        if self.iterator_age_alarm_s < 1:
            raise ValueError(
                f"iterator_age_alarm_s must be at least 1 (got {self.iterator_age_alarm_s})"
            )
        self.filters()

    def filters(self) -> list[dict[str, Any]]:
        return filter_patterns(self.event_names, self.patterns)


class StreamConsumer:
    """A function's reader of one table stream or Kinesis stream, in two steps so the role
    can be built first.

    `StreamConsumer(...)` claims the reader slot (tables only) and makes the failure queue;
    give `statements` to the function's role, then `attach(function)` makes the mapping and
    the iterator-age alarm.
    """

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        table: StreamSource,
        spec: StreamConsumerSpec,
        *,
        failure_queue: FailureQueue | None = None,
    ) -> None:
        """`table`: the table whose stream is read, or a Kinesis stream."""
        if isinstance(table, aws.kinesis.Stream):
            if spec.event_names is not None:
                raise ValueError(
                    "event_names filter DynamoDB stream events; a Kinesis reader filters its "
                    "records with patterns on `data`"
                )
            self.source_arn: pulumi.Output[str] = table.arn
            read = [iam.kinesis_stream_read(table.arn)]
        else:
            claim_stream_reader(table, f"{scope.name}/{suffix}")
            self.source_arn = table.stream_arn
            read = iam.dynamodb_stream_read(table.stream_arn)
        self.scope, self.suffix, self.table, self.spec = scope, suffix, table, spec
        self.failure_queue = failure_queue or FailureQueue(scope, f"{suffix}-dlq")
        self.statements = [*read, iam.sqs_send(self.failure_queue.arn)]
        self.mapping: aws.lambda_.EventSourceMapping | None = None

    def attach(self, function: LambdaFunction) -> aws.lambda_.EventSourceMapping:
        scope, spec = self.scope, self.spec
        filters = spec.filters()
        # Lambda checks the role's stream and queue rights when the mapping is created.
        ready = [r for r in [function.policy] if r is not None]
        self.mapping = aws.lambda_.EventSourceMapping(
            scope.child(f"{self.suffix}-mapping"),
            event_source_arn=self.source_arn,
            function_name=function.arn,
            starting_position=spec.starting_position,
            batch_size=spec.batch_size,
            maximum_batching_window_in_seconds=spec.batching_window_s,
            parallelization_factor=spec.parallelization_factor,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=spec.max_retries,
            maximum_record_age_in_seconds=spec.max_record_age_s,
            function_response_types=["ReportBatchItemFailures"],
            tumbling_window_in_seconds=spec.tumbling_window_s or None,
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=self.failure_queue.arn
                )
            ),
            filter_criteria=(
                aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                    filters=[
                        aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(pattern=p)
                        for p in _filter_json(filters)
                    ]
                )
                if filters
                else None
            ),
            tags=scope.tags,
            opts=scope.opts(depends_on=ready),
        )
        self.iterator_age_alarm = metric_alarm(
            scope,
            f"{self.suffix}-iterator-age",
            namespace="AWS/Lambda",
            metric="IteratorAge",
            dimensions={"FunctionName": function.name},
            threshold=spec.iterator_age_alarm_s * 1000,
            evaluation_periods=5,
            description=f"{function.function_name} is over {spec.iterator_age_alarm_s} s behind",
        )
        return self.mapping


# Pipe source --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PipeSourceSpec:
    """A pipe on a table stream: batching, failure handling, filters and logging.

    batch_size: records per target call (an EventBridge bus takes at most 10).
    log_level: ERROR by default; INFO and TRACE log every execution step.
    """

    starting_position: StartingPosition = "LATEST"
    batch_size: int = 1
    max_batch_size: int = 10_000
    batching_window_s: int = 0
    max_retries: int = 5
    max_record_age_s: int = 3600
    parallelization_factor: int = 1
    event_names: tuple[str, ...] | None = ("INSERT",)
    patterns: tuple[Mapping[str, Any], ...] = ()
    log_level: PipeLogLevel = "ERROR"

    def __post_init__(self) -> None:
        _check_reader_settings(
            batch_size=self.batch_size,
            max_batch_size=self.max_batch_size,
            batching_window_s=self.batching_window_s,
            max_retries=self.max_retries,
            max_record_age_s=self.max_record_age_s,
            parallelization_factor=self.parallelization_factor,
            starting_position=self.starting_position,
        )
        if self.log_level not in ("ERROR", "INFO", "TRACE"):
            raise ValueError(
                f"log_level must be one of ERROR, INFO, TRACE (got {self.log_level!r})"
            )
        self.filters()

    def filters(self) -> list[dict[str, Any]]:
        return filter_patterns(self.event_names, self.patterns)


@dataclass(frozen=True)
class PipeTarget:
    """Where a pipe delivers: the ARN, its parameters and the role's rights on it."""

    arn: pulumi.Input[str]
    parameters: aws.pipes.PipeTargetParametersArgs
    statements: Sequence[iam.Statement]


class StreamPipe:
    """One pipe reading a table stream: claims a reader slot, owns its role and log group.

    The role is trusted by `pipes.amazonaws.com` for this account only and may read this
    stream, send to the failure queue, write its own log group, invoke the enrichment (when
    given) and whatever the target's statements allow.
    """

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        table: aws.dynamodb.Table,
        spec: PipeSourceSpec,
        target: PipeTarget,
        *,
        failure_queue: FailureQueue | None = None,
        enrichment_arn: pulumi.Input[str] | None = None,
        enrichment_input_template: str | None = None,
        description: str = "",
    ) -> None:
        claim_stream_reader(table, f"{scope.name}/{suffix}")
        self.failure_queue = failure_queue or FailureQueue(scope, f"{suffix}-dlq")
        self.pipe_name = scope.physical(suffix)
        self.log_group = aws.cloudwatch.LogGroup(
            scope.child(f"{suffix}-logs"),
            name=f"/aws/vendedlogs/pipes/{self.pipe_name}",
            retention_in_days=scope.settings.log_retention_days,
            tags=scope.tags,
            opts=scope.opts(),
        )
        statements = [
            *iam.dynamodb_stream_read(table.stream_arn),
            iam.sqs_send(self.failure_queue.arn),
            iam.logs_write(self.log_group.arn),
            *target.statements,
        ]
        if enrichment_arn is not None:
            statements.append(iam.Statement(["lambda:InvokeFunction"], [enrichment_arn]))
        self.role, self.policy = iam.service_role(
            scope,
            suffix,
            "pipes.amazonaws.com",
            statements,
            source_account=aws_context.account_id(scope.component),
        )
        filters = spec.filters()
        self.pipe = aws.pipes.Pipe(
            scope.child(suffix),
            name=self.pipe_name,
            description=description or None,
            role_arn=self.role.arn,
            source=table.stream_arn,
            source_parameters=aws.pipes.PipeSourceParametersArgs(
                dynamodb_stream_parameters=aws.pipes.PipeSourceParametersDynamodbStreamParametersArgs(
                    starting_position=spec.starting_position,
                    batch_size=spec.batch_size,
                    maximum_batching_window_in_seconds=spec.batching_window_s,
                    maximum_retry_attempts=spec.max_retries,
                    maximum_record_age_in_seconds=spec.max_record_age_s,
                    parallelization_factor=spec.parallelization_factor,
                    on_partial_batch_item_failure="AUTOMATIC_BISECT",
                    dead_letter_config=aws.pipes.PipeSourceParametersDynamodbStreamParametersDeadLetterConfigArgs(
                        arn=self.failure_queue.arn
                    ),
                ),
                filter_criteria=(
                    aws.pipes.PipeSourceParametersFilterCriteriaArgs(
                        filters=[
                            aws.pipes.PipeSourceParametersFilterCriteriaFilterArgs(pattern=p)
                            for p in _filter_json(filters)
                        ]
                    )
                    if filters
                    else None
                ),
            ),
            enrichment=enrichment_arn,
            enrichment_parameters=(
                aws.pipes.PipeEnrichmentParametersArgs(input_template=enrichment_input_template)
                if enrichment_input_template is not None
                else None
            ),
            target=target.arn,
            target_parameters=target.parameters,
            log_configuration=aws.pipes.PipeLogConfigurationArgs(
                level=spec.log_level,
                cloudwatch_logs_log_destination=aws.pipes.PipeLogConfigurationCloudwatchLogsLogDestinationArgs(
                    log_group_arn=self.log_group.arn
                ),
            ),
            tags=scope.tags,
            # The pipe checks its role's rights on source, target and DLQ when it is created.
            opts=scope.opts(depends_on=[r for r in [self.policy] if r is not None]),
        )
        self.arn = self.pipe.arn


# Pipe input templates -----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"<(\$(?:\.[A-Za-z0-9_\-/]+|\[\d+\])*|aws\.pipes\.[a-z.\-]+)>")
_RESERVED = (
    "aws.pipes.pipe-arn",
    "aws.pipes.pipe-name",
    "aws.pipes.source-arn",
    "aws.pipes.enrichment-arn",
    "aws.pipes.target-arn",
    "aws.pipes.event.ingestion-time",
    "aws.pipes.event",
    "aws.pipes.event.json",
)


def _lookup(record: Any, path: str) -> Any:
    value = record
    for part in re.findall(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]", path[1:]):
        key, index = part
        try:
            value = value[key] if key else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"input template path {path} is not in the record") from None
    return value


def _inside_string(template: str, position: int) -> bool:
    """Whether `position` lies inside a JSON string literal of the template."""
    inside, escaped = False, False
    for char in template[:position]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


def render_input_template(
    template: str, record: Mapping[str, Any], reserved: Mapping[str, str] | None = None
) -> str:
    """The text a pipe sends for `record`: placeholders inside JSON strings take the value's
    text (escaped), placeholders outside them take the value as JSON (objects, arrays)."""
    variables = {
        "aws.pipes.event": json.dumps(record),
        "aws.pipes.event.json": json.dumps(record),
        **(reserved or {}),
    }
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name.startswith("$"):
            value: Any = _lookup(record, name)
        elif name in variables:
            value = variables[name]
            if name == "aws.pipes.event.json":
                value = json.loads(value)
        elif name in _RESERVED:
            value = f"<{name}>"
        else:
            raise KeyError(f"unknown reserved variable <{name}>")
        parts.append(template[last : match.start()])
        if _inside_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            parts.append(json.dumps(text)[1:-1])
        else:
            parts.append(json.dumps(value))
        last = match.end()
    parts.append(template[last:])
    return "".join(parts)


def check_input_template(template: str, argument: str, required: Sequence[str] = ()) -> None:
    """Raise a ValueError naming `argument` unless the template renders to a JSON object that
    has the `required` top-level keys (placeholders are filled with sample values)."""
    sample = _PLACEHOLDER.sub(
        lambda m: "0" if not _inside_string(template, m.start()) else "x", template
    )
    try:
        rendered = json.loads(sample)
    except json.JSONDecodeError as error:
        raise ValueError(f"{argument} must render to JSON ({error})") from None
    if not isinstance(rendered, dict):
        raise ValueError(f"{argument} must render to a JSON object")
    missing = [key for key in required if key not in rendered]
    if missing:
        raise ValueError(f"{argument} must set {', '.join(missing)}")
