"""`table-event-pipes`: DynamoDB stream -> EventBridge Pipes -> domain events on a custom bus.

A single-table design holds several item types; each becomes its own domain event
(`OrderPlaced`, `StoryCreated`, ...) with a contract of its own, built by the pipe's input
template so consumers never see the table's schema. Every pipe is one of the table's two
stream readers: `mode="pipe_per_type"` runs one pipe per type (two types at most), and
`mode="single_pipe"` runs one pipe whose enrichment function routes each record to its type.
Consumers subscribe with ordinary bus rules.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import defaults, iam, packaging, streams
from .core.alarms import metric_alarm
from .core.function import (
    FUNCTION_DEFAULTS,
    AsyncInvoke,
    FunctionSpec,
    LambdaFunction,
)
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.queue import tls_only_policy
from .core.settings import KMS_KEY
from .core.streams import FailureQueue, PipeSourceSpec, PipeTarget, StreamPipe
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["EnrichmentSpec", "ItemType", "TableEventPipes", "TableEventPipesArgs"]

Mode = Literal["pipe_per_type", "single_pipe"]
MAX_TYPES_SINGLE_PIPE = streams.MAX_FILTERS  # one filter per type
MAX_BUS_BATCH = 10  # PutEvents takes at most 10 entries
TYPE_KEYS = ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS")
OPERATORS = ("prefix", "exists", "anything-but")  # what the enrichment's router also knows
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DETAIL_TYPE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_SOURCE = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
CONSUMER_RETRY_ATTEMPTS = 8
CONSUMER_MAX_EVENT_AGE_S = 3600


def _check_discriminator(name: str, pattern: Any, path: str = "discriminator") -> None:
    """Conditions may sit only on a DynamoDB type key (`{"S": [...]}`), the leaf of a typed
    attribute: filters compare leaf values, so a condition on the attribute node never
    matches. Only operators the enrichment's router implements are allowed."""
    where = f"item_types.{name}.{path}"
    if not isinstance(pattern, Mapping) or not pattern:
        raise ValueError(f"{where} must be a non-empty map")
    for key, value in pattern.items():
        if isinstance(value, Mapping):
            _check_discriminator(name, value, f"{path}.{key}")
            continue
        if key not in TYPE_KEYS or not isinstance(value, list) or not value:
            raise ValueError(
                f"{where}.{key} must be a non-empty list under a type key "
                f'({", ".join(TYPE_KEYS)}), e.g. {{"S": ["Order"]}}'
            )
        for condition in value:
            if isinstance(condition, Mapping) and (
                len(condition) != 1 or next(iter(condition)) not in OPERATORS
            ):
                raise ValueError(
                    f"{where}.{key} conditions must be values or one of {', '.join(OPERATORS)}"
                )


@dataclass(frozen=True, kw_only=True)
class ItemType:
    """One item collection of the table and the domain event it becomes.

    discriminator: a filter on a typed leaf that only this type's records pass, e.g.
      `{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}}` (Keys are present in
      every record; NewImage is absent from REMOVE records).
    detail_type: the event's detail-type, e.g. `OrderPlaced`.
    input_template: the event's detail, a Pipes input template over the stream record; it
      must set `sourceEventId` (`"<$.eventID>"`), the consumers' dedupe key. DynamoDB JSON
      carries numbers as strings (`<$.dynamodb.NewImage.total.N>` is `"12.5"`).
    event_names: the stream events that make this event (INSERT: created, not every update).
    lookup_key: with an enrichment, read a related item whose key attributes (names) take
      the values of these NewImage attributes, e.g. `{"pk": "customerId", "sk": "profile"}`;
      it lands in `detail.related`.
    """

    discriminator: dict[str, Any]
    detail_type: str
    input_template: str
    event_names: list[str] = field(default_factory=lambda: ["INSERT"])
    lookup_key: dict[str, str] | None = None

    def check(self, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"item_types key {name!r} must be 1-40 letters, digits, '_' or '-'")
        if not _DETAIL_TYPE.match(self.detail_type):
            raise ValueError(
                f"item_types.{name}.detail_type must be 1-128 letters, digits, '.', '_' or '-' "
                f"(got {self.detail_type!r})"
            )
        _check_discriminator(name, self.discriminator)
        if set(self.discriminator) != {"dynamodb"}:
            raise ValueError(f"item_types.{name}.discriminator must constrain only 'dynamodb'")
        try:
            streams.filter_patterns(self.event_names, [self.discriminator])
        except ValueError as error:
            raise ValueError(f"item_types.{name}.{error}") from None
        images = set(self.discriminator["dynamodb"])
        if "REMOVE" in self.event_names and "NewImage" in images:
            raise ValueError(
                f"item_types.{name}.discriminator uses NewImage, which REMOVE records lack; "
                "discriminate on Keys or OldImage"
            )
        streams.check_input_template(
            self.input_template, f"item_types.{name}.input_template", required=["sourceEventId"]
        )
        if self.lookup_key is not None and not self.lookup_key:
            raise ValueError(f"item_types.{name}.lookup_key must map at least one attribute")

    def filter(self) -> dict[str, Any]:
        return streams.filter_patterns(self.event_names, [self.discriminator])[0]


STORY = ItemType(
    discriminator={"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "STORY#"}]}}}},
    detail_type="StoryCreated",
    input_template=(
        '{"storyId": "<$.dynamodb.Keys.pk.S>", "title": "<$.dynamodb.NewImage.title.S>", '
        '"createdAt": "<$.dynamodb.NewImage.createdAt.S>", "sourceEventId": "<$.eventID>"}'
    ),
)


@dataclass(frozen=True, kw_only=True)
class EnrichmentSpec:
    """The shipped `enrich` function (routing, templates, lookups): its size and timeout."""

    memory_size: int = 256
    timeout_s: int = 10

    def __post_init__(self) -> None:
        self.function_spec()

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="enrich.handler",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description="Turns stream records into domain events",
        )


@dataclass(frozen=True, kw_only=True)
class TableEventPipesArgs(PatternArgs):
    """Arguments of `TableEventPipes`.

    table: the single-table design's table (stream with NEW_IMAGE or NEW_AND_OLD_IMAGES);
      None makes a new one (`pk`/`sk` strings, NEW_AND_OLD_IMAGES).
    event_bus: an existing custom bus; None makes a new `{name}-events` bus.
    event_source: the events' `source`; None is `app.<table name>`.
    item_types: name -> ItemType; the default is the story app's `StoryCreated`.
    mode: `pipe_per_type` (one pipe per type, at most two types and fewer when the table
      has other readers) or `single_pipe` (one pipe, up to five types, routed by the
      enrichment function, which is then required and made from the shipped `enrich`).
    enrichment: the shipped enrichment function (`EnrichmentSpec`), or an existing function;
      it returns `{"detailType", "detail"}` per record it keeps (records no type claims
      are skipped, so the output can be shorter). None: no enrichment in `pipe_per_type`
      mode, the shipped function in `single_pipe` mode.
    starting_position: LATEST for an existing table, TRIM_HORIZON for a new one (None).
    batch_size: records per pipe invocation (at most 10, the bus's PutEvents limit).
    max_retries: retries of a failing batch before its records go to the failure queue.
    max_record_age_s: records older than this go to the failure queue unsent.
    log_level: the pipes' log level: ERROR, or INFO and TRACE to log every execution step.
    archive_retention_days: keep an EventBridge archive of the bus for replay (0 = forever,
      None: no archive).
    kms_key_arn: customer-managed key for a new bus (its policy must let EventBridge in);
      None: an AWS-owned key.
    consumers: detail-types the shipped example consumer (idempotent on sourceEventId)
      subscribes to, through one bus rule with a retry policy and a DLQ.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard("table", TABLE_DEFAULTS, "They are the table owner's to set."),
        Safeguard(
            "event_bus",
            ("encryption with kms_key_arn", "the stack's tags"),
            "They are the bus owner's to set; kms_key_arn is not applied.",
        ),
        Safeguard(
            "enrichment",
            FUNCTION_DEFAULTS,
            "They are the function owner's to set; the pipe only invokes it.",
        ),
    )

    table: aws.dynamodb.Table | None = None
    event_bus: aws.cloudwatch.EventBus | None = None
    event_source: str | None = None
    item_types: dict[str, ItemType] = field(default_factory=lambda: {"story": STORY})
    mode: Mode = "pipe_per_type"
    enrichment: EnrichmentSpec | aws.lambda_.Function | None = None
    starting_position: Literal["LATEST", "TRIM_HORIZON"] | None = None
    batch_size: int = 1
    max_retries: int = 5
    max_record_age_s: int = 3600
    log_level: Literal["ERROR", "INFO", "TRACE"] = "ERROR"
    archive_retention_days: int | None = None
    kms_key_arn: str | None = None
    consumers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in ("pipe_per_type", "single_pipe"):
            raise ValueError(f"mode must be one of pipe_per_type, single_pipe (got {self.mode!r})")
        if not self.item_types:
            raise ValueError("item_types must name at least one item type")
        for name, item_type in self.item_types.items():
            item_type.check(name)
        if self.mode == "pipe_per_type" and len(self.item_types) > streams.MAX_STREAM_READERS:
            raise ValueError(
                f"item_types: mode='pipe_per_type' runs one pipe (stream reader) per type and a "
                f"table allows {streams.MAX_STREAM_READERS}; {len(self.item_types)} types need "
                "mode='single_pipe'"
            )
        if len(self.item_types) > MAX_TYPES_SINGLE_PIPE:
            raise ValueError(
                f"item_types: at most {MAX_TYPES_SINGLE_PIPE} types (one pipe filter each)"
            )
        if self.event_source is not None and not _SOURCE.match(self.event_source):
            raise ValueError(
                f"event_source must be 1-256 letters, digits, '.', '_' or '-' "
                f"(got {self.event_source!r})"
            )
        if self.starting_position not in (None, "LATEST", "TRIM_HORIZON"):
            raise ValueError(
                "starting_position must be one of LATEST, TRIM_HORIZON "
                f"(got {self.starting_position!r})"
            )
        if self.archive_retention_days is not None and self.archive_retention_days < 0:
            raise ValueError(
                "archive_retention_days must be 0 (forever) or more "
                f"(got {self.archive_retention_days})"
            )
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, "kms_key_arn")
        detail_types = {t.detail_type for t in self.item_types.values()}
        unknown = sorted(set(self.consumers) - detail_types)
        if unknown:
            raise ValueError(
                f"consumers must be detail-types of item_types ({', '.join(sorted(detail_types))})"
                f"; unknown: {', '.join(unknown)}"
            )
        self.source_spec("LATEST")

    @property
    def readers(self) -> int:
        return 1 if self.mode == "single_pipe" else len(self.item_types)

    @property
    def enrichment_spec(self) -> EnrichmentSpec | aws.lambda_.Function | None:
        if self.enrichment is None and self.mode == "single_pipe":
            return EnrichmentSpec()
        return self.enrichment

    def source_spec(self, starting_position: Literal["LATEST", "TRIM_HORIZON"]) -> PipeSourceSpec:
        return PipeSourceSpec(
            starting_position=starting_position,
            batch_size=self.batch_size,
            max_batch_size=MAX_BUS_BATCH,
            max_retries=self.max_retries,
            max_record_age_s=self.max_record_age_s,
            event_names=None,  # each type's filter carries its own event names
            log_level=self.log_level,
        )


def enrichment_environment(item_types: Mapping[str, ItemType]) -> str:
    """What the shipped `enrich` needs to route and render every type (ITEM_TYPES)."""
    return json.dumps(
        {
            name: {
                "detailType": t.detail_type,
                "filter": t.filter(),
                "inputTemplate": t.input_template,
                "lookupKey": t.lookup_key,
            }
            for name, t in sorted(item_types.items())
        },
        sort_keys=True,
        separators=(",", ":"),
    )


class TableEventPipes(Pattern):
    """Table stream -> pipe(s) with filters and templates -> custom bus (+ example consumer)."""

    slug: ClassVar[str] = "table-event-pipes"
    type_token: ClassVar[str] = "serverless-patterns:patterns:TableEventPipes"

    def __init__(
        self,
        name: str,
        args: TableEventPipesArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or TableEventPipesArgs()
        if args.table is not None:
            streams.ensure_reader_capacity(args.table, name, readers=args.readers)
        super().__init__(name, args, opts)
        scope = self.scope
        package = packaging.build(
            "table_event_pipes",
            shared=("ddb_json.py",),  # stream images, exact numbers
            architecture=args.settings.architecture,
            runtime=args.settings.runtime,
        )

        self.table = args.table or create_table(
            scope,
            "table",
            TableSpec(
                hash_key=("pk", "S"), range_key=("sk", "S"), stream_view_type="NEW_AND_OLD_IMAGES"
            ),
        )
        starting_position = args.starting_position or (
            "LATEST" if args.table is not None else "TRIM_HORIZON"
        )
        self.bus = args.event_bus or aws.cloudwatch.EventBus(
            scope.child("events"),
            name=scope.physical("events", max_length=256),
            kms_key_identifier=args.kms_key_arn,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.archive: aws.cloudwatch.EventArchive | None = None
        if args.archive_retention_days is not None:
            self.archive = aws.cloudwatch.EventArchive(
                scope.child("archive"),
                name=scope.physical("archive", max_length=48),
                event_source_arn=self.bus.arn,
                retention_days=args.archive_retention_days,
                description="Domain events, kept for replay",
                opts=scope.opts(),
            )
        self.event_source: pulumi.Input[str] = args.event_source or self.table.name.apply(
            lambda table: f"app.{table}"
        )

        self.enrichment: LambdaFunction | None = None
        enrichment_arn = self._enrichment(args, package)

        self.failure_queue = FailureQueue(scope, "events-dlq")
        spec = args.source_spec(starting_position)
        put_events = [iam.events_put(self.bus.arn, [self.event_source])]
        self.pipes: dict[str, StreamPipe] = {}
        if args.mode == "single_pipe":
            filters = tuple(t.filter() for t in args.item_types.values())
            self.pipes["all"] = StreamPipe(
                scope,
                "pipe",
                self.table,
                dataclasses.replace(spec, patterns=filters),
                self._target(None, put_events, enriched=True),
                failure_queue=self.failure_queue,
                enrichment_arn=enrichment_arn,
                description=f"{name}: every item type, routed by the enrichment",
            )
        else:
            for type_name, item_type in args.item_types.items():
                self.pipes[type_name] = StreamPipe(
                    scope,
                    f"{type_name}-pipe",
                    self.table,
                    dataclasses.replace(spec, patterns=(item_type.filter(),)),
                    self._target(item_type, put_events, enriched=enrichment_arn is not None),
                    failure_queue=self.failure_queue,
                    enrichment_arn=enrichment_arn,
                    description=f"{name}: {item_type.detail_type} events",
                )

        self.consumer: LambdaFunction | None = None
        if args.consumers:
            self._consumers(args, package)

        self.bus_name = self.bus.name
        self.bus_arn = self.bus.arn
        self.pipe_arns = {type_name: p.arn for type_name, p in self.pipes.items()}
        self.dlq_url = self.failure_queue.url
        self.register_outputs(
            {
                "bus_name": self.bus_name,
                "bus_arn": self.bus_arn,
                "pipe_arns": self.pipe_arns,
                "dlq_url": self.dlq_url,
            }
        )

    def _target(
        self, item_type: ItemType | None, statements: list[iam.Statement], *, enriched: bool
    ) -> PipeTarget:
        """Without enrichment the type's template builds the detail; with it, the
        enrichment's `{"detailType", "detail"}` output does (dynamic path parameters)."""
        if enriched:
            detail_type, template = "$.detailType", "<$.detail>"
        else:
            assert item_type is not None
            detail_type, template = item_type.detail_type, item_type.input_template
        return PipeTarget(
            arn=self.bus.arn,
            parameters=aws.pipes.PipeTargetParametersArgs(
                eventbridge_event_bus_parameters=aws.pipes.PipeTargetParametersEventbridgeEventBusParametersArgs(
                    detail_type=detail_type, source=self.event_source
                ),
                input_template=template,
            ),
            statements=statements,
        )

    def _enrichment(
        self, args: TableEventPipesArgs, package: packaging.Package
    ) -> pulumi.Output[str] | None:
        spec = args.enrichment_spec
        if spec is None:
            return None
        if isinstance(spec, aws.lambda_.Function):
            return spec.arn
        statements = []
        environment: dict[str, pulumi.Input[str]] = {
            "ITEM_TYPES": enrichment_environment(args.item_types)
        }
        if any(t.lookup_key for t in args.item_types.values()):
            statements.append(iam.Statement(["dynamodb:BatchGetItem"], [self.table.arn]))
            environment["LOOKUP_TABLE_NAME"] = self.table.name
        self.enrichment = LambdaFunction(
            self.scope,
            "enrich",
            dataclasses.replace(spec.function_spec(), environment=environment),
            package=package,
            statements=statements,
            service=self.slug,
        )
        return self.enrichment.arn

    def _consumers(self, args: TableEventPipesArgs, package: packaging.Package) -> None:
        scope = self.scope
        self.idempotency_table = create_table(
            scope,
            "idempotency",
            TableSpec(hash_key=("id", "S"), ephemeral=True, ttl_attribute="expiration"),
        )
        self.rule = aws.cloudwatch.EventRule(
            scope.child("consumer-rule"),
            name=scope.physical("consumer", max_length=64),
            event_bus_name=self.bus.name,
            description="Domain events the example consumer handles",
            event_pattern=pulumi.Output.from_input(self.event_source).apply(
                lambda source: json.dumps(
                    {"source": [source], "detail-type": sorted(set(args.consumers))},
                    sort_keys=True,
                )
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.consumer_dlq = aws.sqs.Queue(
            scope.child("consumer-dlq"),
            name=scope.physical("consumer-dlq", max_length=80),
            sqs_managed_sse_enabled=True,
            message_retention_seconds=defaults.DLQ_RETENTION_S,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.consumer_dlq_policy = aws.sqs.QueuePolicy(
            scope.child("consumer-dlq-policy"),
            queue_url=self.consumer_dlq.url,
            policy=pulumi.Output.all(
                tls_only_policy(self.consumer_dlq.arn), self.consumer_dlq.arn, self.rule.arn
            ).apply(lambda v: _with_event_sender(v[0], v[1], v[2])),
            opts=scope.opts(),
        )
        self.consumer_dlq_alarm = metric_alarm(
            scope,
            "consumer-dlq-depth",
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.consumer_dlq.name},
            threshold=0,
            description="Domain events the example consumer could not take",
        )
        self.consumer = LambdaFunction(
            scope,
            "consumer",
            FunctionSpec(
                handler="consumer.handler",
                memory_size=256,
                timeout_s=30,
                environment={"IDEMPOTENCY_TABLE_NAME": self.idempotency_table.name},
                description="Example consumer: each domain event once per sourceEventId",
                async_invoke=AsyncInvoke(on_failure_arn=self.consumer_dlq.arn),
            ),
            package=package,
            statements=[
                iam.Statement(
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ],
                    [self.idempotency_table.arn],
                ),
                iam.sqs_send(self.consumer_dlq.arn),
            ],
            service=self.slug,
        )
        self.consumer_permission = aws.lambda_.Permission(
            scope.child("consumer-invoke"),
            action="lambda:InvokeFunction",
            function=self.consumer.function.name,
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
            opts=scope.opts(),
        )
        self.consumer_target = aws.cloudwatch.EventTarget(
            scope.child("consumer-target"),
            rule=self.rule.name,
            event_bus_name=self.bus.name,
            arn=self.consumer.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=CONSUMER_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=CONSUMER_MAX_EVENT_AGE_S,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(
                arn=self.consumer_dlq.arn
            ),
            opts=scope.opts(depends_on=[self.consumer_permission, self.consumer_dlq_policy]),
        )


def _with_event_sender(tls_policy: str, queue_arn: str, rule_arn: str) -> str:
    """The TLS-only queue policy plus EventBridge's right to dead-letter this rule's events."""
    document = json.loads(tls_policy)
    document["Statement"].append(
        {
            "Sid": "AllowRuleDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }
    )
    return json.dumps(document, sort_keys=True)
