"""`eventbridge-etl`: S3 -> SQS -> extract -> EventBridge rules -> transform, load, observe.

A CSV landing under `landing_prefix` is announced by S3 to the extract queue; `extract`
streams it and puts one `RecordExtracted` event per row on the pipeline's custom bus
(PutEvents batched at 10 entries and 256 KB, failed entries resent, entries that never make
it parked in the unsent-events queue). Rules route each event type through a queue of its
own to the next stage: `RecordExtracted` -> transform, `RecordTransformed` -> load (into the
sink table, keyed on the row's id), every event -> observe (EMF counts per file), and
`RecordFailed` -> the SNS alerts topic. Every consumer has reserved concurrency, so one big
file cannot take the account's concurrency; every queue and every rule target has a DLQ.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import iam, packaging
from .core.alarms import metric_alarm
from .core.bucket import PrivateBucket
from .core.dead_letter import DeadLetterQueue
from .core.event_route import EventRoute, event_bus
from .core.function import FunctionSpec, LambdaFunction
from .core.keys import ServiceKey
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.queue import (
    SERIAL_CONSUMER,
    DurableQueue,
    QueueSpec,
    check_consumer_concurrency,
    maximum_concurrency,
)
from .core.settings import KMS_KEY
from .core.table import TABLE_DEFAULTS, TableSpec, create_table
from .core.topic import TracedTopic

__all__ = ["EventBridgeEtl", "EventBridgeEtlArgs"]

EXTRACTED = "RecordExtracted"
TRANSFORMED = "RecordTransformed"
FAILED = "RecordFailed"
MAX_ROWS = 1_000_000
MAX_FILE_MB = 1024
PUT_WORKERS = 4  # parallel PutEvents calls in the extractor (functions/.../extract.py)
CONSUMER_BATCH = 10  # messages per stage invocation: one PutEvents call for their events
CONSUMER_WINDOW_S = 1
FAILED_ALARM_PERIOD_S = 300
_SOURCE = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
_COLUMN = re.compile(r"^[^\s].{0,254}$")
_PREFIX = re.compile(r"^(?!/)[\x21-\x7e ]{0,1024}$")

# (suffix, handler, memory MB, timeout s, description)
STAGES: dict[str, tuple[str, int, int, str]] = {
    "extract": ("extract.handler", 1024, 300, "Streams each landed CSV onto the bus, a row each"),
    "transform": ("transform.handler", 256, 30, "Validates rows: RecordTransformed or Failed"),
    "load": ("load.handler", 256, 30, "Writes transformed rows to the sink table"),
    "observe": ("observe.handler", 128, 10, "Counts every ETL event per file (EMF)"),
}


@dataclass(frozen=True, kw_only=True)
class EventBridgeEtlArgs(PatternArgs):
    """Arguments of `EventBridgeEtl`.

    bus: an existing custom event bus for the pipeline's events; None makes a new one
      (`etl`, encrypted with kms_key_arn when given, archived for archive_retention_days).
    sink_table: an existing table with partition key `id` (S) for the loaded rows; None
      makes a new one (`transformed-data`, on-demand, PITR, encrypted).
    consumer_concurrency: reserved concurrency of each of the four functions (extract,
      transform, load, observe), so one big file cannot take the account's concurrency;
      each queue mapping's maximum concurrency follows it (SQS's floor is 2, so 1 leaves the
      mappings uncapped: a warning in dev, refused in prod, where the pack's STACK-002
      fails it).
    extract_mode: `lambda` (a function that streams the file, guarded by max_file_mb and
      max_rows); `fargate` (an ECS task, for files beyond Lambda's limits) is not
      implemented yet and is refused.
    max_file_mb: a larger file is not read: it becomes one RecordFailed event.
    max_rows: rows past this many are not extracted; one RecordFailed event says so.
    landing_prefix: the key prefix the bucket notifies on (with suffix `.csv`); "" watches
      the whole bucket. The extractor may read only under it.
    id_column: the CSV column whose value keys the row in the sink table; files without
      that column are keyed `<etag>#<row>`, so a replay of the same upload overwrites.
    event_source: the `source` of every event the pipeline puts (rules match on it, and
      PutEvents is allowed only with it); None is `etl.<component name>`.
    archive_retention_days: days a new bus's archive keeps events for replay (0 = forever,
      None = no archive).
    kms_key_arn: a customer managed key for the new bus, the landing bucket and the alerts
      topic (its policy must let EventBridge and S3 use it); None: AWS-owned keys
      for the bus, SSE-S3 for the bucket, and a new rotated key for the alerts topic (SNS's
      AWS managed key would refuse EventBridge's deliveries).
    failed_alarm_threshold: alarm when more RecordFailed events than this match in 5
      minutes (every one of them is also sent to the alerts topic).
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        SERIAL_CONSUMER,
        Safeguard(
            "bus",
            ("encryption with kms_key_arn", "an archive for replay", "the stack's tags"),
            "They are the bus owner's to set; archive_retention_days and kms_key_arn are "
            "not applied to it.",
        ),
        Safeguard("sink_table", TABLE_DEFAULTS, "They are the table owner's to set."),
    )

    bus: aws.cloudwatch.EventBus | None = None
    sink_table: aws.dynamodb.Table | None = None
    consumer_concurrency: int = 2
    extract_mode: Literal["lambda", "fargate"] = "lambda"
    max_file_mb: int = 50
    max_rows: int = 100_000
    landing_prefix: str = "incoming/"
    id_column: str = "id"
    event_source: str | None = None
    archive_retention_days: int | None = 7
    kms_key_arn: str | None = None
    failed_alarm_threshold: int = 10

    def __post_init__(self) -> None:
        if self.extract_mode not in ("lambda", "fargate"):
            raise ValueError(
                f"extract_mode must be one of lambda, fargate (got {self.extract_mode!r})"
            )
        if self.extract_mode == "fargate":
            raise ValueError(
                "extract_mode='fargate' is not implemented yet: use extract_mode='lambda' "
                f"(files up to max_file_mb, at most {MAX_FILE_MB} MB)"
            )
        check_consumer_concurrency(self.consumer_concurrency, self.settings)
        if not 1 <= self.max_file_mb <= MAX_FILE_MB:
            raise ValueError(
                f"max_file_mb must be between 1 and {MAX_FILE_MB} (got {self.max_file_mb})"
            )
        if not 1 <= self.max_rows <= MAX_ROWS:
            raise ValueError(f"max_rows must be between 1 and {MAX_ROWS} (got {self.max_rows})")
        if not _PREFIX.match(self.landing_prefix):
            raise ValueError(
                "landing_prefix must be at most 1024 printable ASCII characters, not starting "
                f"with '/' (got {self.landing_prefix!r})"
            )
        if not _COLUMN.match(self.id_column):
            raise ValueError(
                f"id_column must be 1-255 characters, not starting with a space "
                f"(got {self.id_column!r})"
            )
        if self.event_source is not None and (
            not _SOURCE.match(self.event_source) or self.event_source.startswith("aws.")
        ):
            raise ValueError(
                "event_source must be 1-256 letters, digits, '.', '_' or '-', not starting "
                f"with 'aws.' (got {self.event_source!r})"
            )
        if self.archive_retention_days is not None and not self.archive_retention_days >= 0:
            raise ValueError(
                "archive_retention_days must be 0 (forever) or more, or null for no archive "
                f"(got {self.archive_retention_days})"
            )
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, "kms_key_arn")
        if not 0 <= self.failed_alarm_threshold <= 1_000_000:
            raise ValueError(
                f"failed_alarm_threshold must be between 0 and 1000000 "
                f"(got {self.failed_alarm_threshold})"
            )
        for stage in STAGES:
            self.stage_spec(stage)

    def stage_spec(self, stage: str) -> FunctionSpec:
        handler, memory, timeout, description = STAGES[stage]
        return FunctionSpec(
            handler=handler,
            memory_size=memory,
            timeout_s=timeout,
            reserved_concurrency=self.consumer_concurrency,
            throttled=self.consumer_concurrency,
            description=description,
        )

    def queue_spec(self, stage: str) -> QueueSpec:
        return QueueSpec(
            consumer_timeout_s=STAGES[stage][2],
            batching_window_s=0 if stage == "extract" else CONSUMER_WINDOW_S,
        )

    @property
    def maximum_concurrency(self) -> int | None:
        return maximum_concurrency(self.consumer_concurrency)


def event_pattern(source: str, detail_types: list[str] | None = None) -> str:
    pattern: dict[str, Any] = {"source": [source]}
    if detail_types:
        pattern["detail-type"] = detail_types
    return json.dumps(pattern, sort_keys=True)


class EventBridgeEtl(Pattern):
    """Landing bucket -> extract queue -> extract -> bus -> rules -> stage queues -> stages."""

    slug: ClassVar[str] = "eventbridge-etl"
    type_token: ClassVar[str] = "serverless-patterns:patterns:EventBridgeEtl"

    def __init__(
        self,
        name: str,
        args: EventBridgeEtlArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or EventBridgeEtlArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "eventbridge_etl", architecture=settings.architecture, runtime=settings.runtime
        )
        self.event_source = args.event_source or f"etl.{name}"

        # Landing bucket -> extract queue, sendable by this bucket of this account only.
        self.landing = PrivateBucket(scope, "landing", kms_key_arn=args.kms_key_arn)
        self.bucket = self.landing.bucket
        self.extract_queue = DurableQueue(
            scope,
            "extract-queue",
            args.queue_spec("extract"),
            service_senders=[("s3.amazonaws.com", self.bucket.arn)],
        )
        self.notification = aws.s3.BucketNotification(
            scope.child("landing-notification"),
            bucket=self.bucket.id,
            queues=[
                aws.s3.BucketNotificationQueueArgs(
                    id="extract",
                    queue_arn=self.extract_queue.arn,
                    events=["s3:ObjectCreated:*"],
                    filter_prefix=args.landing_prefix or None,
                    filter_suffix=".csv",
                )
            ],
            # S3 checks that it may send when the notification is created.
            opts=scope.opts(depends_on=[self.extract_queue.policies[0]]),
        )

        # The bus and its archive.
        self.archive: aws.cloudwatch.EventArchive | None = None
        if args.bus is not None:
            self.bus = args.bus
        else:
            self.bus, self.archive = event_bus(
                scope,
                "etl",
                kms_key_arn=args.kms_key_arn,
                archive_retention_days=args.archive_retention_days,
                description="ETL events, kept for replay",
            )
        self.table = args.sink_table or create_table(
            scope, "transformed-data", TableSpec(hash_key=("id", "S"))
        )

        # Rules -> stage queues (each queue lets only its rule send).
        source = self.event_source
        self.routes: dict[str, EventRoute] = {
            "transform": EventRoute(
                scope,
                "transform",
                bus_name=self.bus.name,
                pattern=event_pattern(source, [EXTRACTED]),
                description="Extracted rows -> the transform queue",
            ),
            "load": EventRoute(
                scope,
                "load",
                bus_name=self.bus.name,
                pattern=event_pattern(source, [TRANSFORMED]),
                description="Transformed rows -> the load queue",
            ),
            "observe": EventRoute(
                scope,
                "observe",
                bus_name=self.bus.name,
                pattern=event_pattern(source),
                description="Every ETL event -> the observe queue",
            ),
            "alerts": EventRoute(
                scope,
                "alerts",
                bus_name=self.bus.name,
                pattern=event_pattern(source, [FAILED]),
                description="Failed rows and files -> the alerts topic",
            ),
        }
        self.queues: dict[str, DurableQueue] = {"extract": self.extract_queue}
        for stage in ("transform", "load", "observe"):
            route = self.routes[stage]
            queue = DurableQueue(
                scope,
                f"{stage}-queue",
                args.queue_spec(stage),
                service_senders=[("events.amazonaws.com", route.rule.arn)],
            )
            route.target(queue.arn, depends_on=[queue.policies[0]])
            self.queues[stage] = queue

        # RecordFailed -> SNS. EventBridge cannot publish to a topic under SNS's AWS managed
        # key, so without kms_key_arn the topic gets a key of its own that EventBridge may use.
        self.alerts_key: ServiceKey | None = None
        topic_key: pulumi.Input[str] | None = args.kms_key_arn
        if topic_key is None:
            self.alerts_key = ServiceKey(
                scope,
                "alerts",
                description="Encrypts the ETL alerts topic; EventBridge may publish to it",
                services=["events.amazonaws.com"],
            )
            topic_key = self.alerts_key.arn
        alerts = self.routes["alerts"]
        self.alerts = TracedTopic(
            scope,
            "alerts",
            kms_key_arn=topic_key,
            service_publishers=[("events.amazonaws.com", alerts.rule.arn)],
        )
        alerts.target(self.alerts.arn, depends_on=[self.alerts.policy])
        self.failed_alarm = metric_alarm(
            scope,
            "failed-rows",
            namespace="AWS/Events",
            metric="MatchedEvents",
            dimensions={"EventBusName": self.bus.name, "RuleName": alerts.rule.name},
            statistic="Sum",
            threshold=args.failed_alarm_threshold,
            period_s=FAILED_ALARM_PERIOD_S,
            description=(
                f"More than {args.failed_alarm_threshold} rows or files failed in 5 minutes"
            ),
        )

        # Events the extractor could not put on the bus, whole, with their error.
        self.unsent = DeadLetterQueue(
            scope,
            "unsent",
            description="Events the extractor could not put on the bus",
            written_by_code=True,
        )
        self.functions = self._functions(args, package)

        self.bucket_name = self.bucket.bucket
        self.bus_name = self.bus.name
        self.table_name = self.table.name
        self.alerts_topic_arn = self.alerts.arn
        self.queue_urls = {stage: queue.url for stage, queue in self.queues.items()}
        self.queue_urls["unsent"] = self.unsent.url
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bus_name": self.bus_name,
                "table_name": self.table_name,
                "alerts_topic_arn": self.alerts_topic_arn,
                "queue_urls": self.queue_urls,
            }
        )

    def _functions(
        self, args: EventBridgeEtlArgs, package: packaging.Package
    ) -> dict[str, LambdaFunction]:
        scope = self.scope
        put_events = iam.events_put(self.bus.arn, [self.event_source])
        bus_env: dict[str, pulumi.Input[str]] = {
            "EVENT_BUS_NAME": self.bus.name,
            "EVENT_SOURCE": self.event_source,
        }
        objects = self.bucket.arn.apply(lambda arn: f"{arn}/{args.landing_prefix}*")
        extract_statements = [
            iam.Statement(["s3:GetObject", "s3:GetObjectVersion"], [objects]),
            put_events,
            iam.sqs_send(self.unsent.arn),
        ]
        if args.kms_key_arn is not None:
            extract_statements.append(iam.Statement(["kms:Decrypt"], [args.kms_key_arn]))
        plans: dict[str, tuple[dict[str, pulumi.Input[str]], list[iam.Statement]]] = {
            "extract": (
                {
                    **bus_env,
                    "UNSENT_QUEUE_URL": self.unsent.url,
                    "LANDING_PREFIX": args.landing_prefix,
                    "MAX_FILE_MB": str(args.max_file_mb),
                    "MAX_ROWS": str(args.max_rows),
                    "PUT_WORKERS": str(PUT_WORKERS),
                },
                extract_statements,
            ),
            "transform": ({**bus_env, "ID_COLUMN": args.id_column}, [put_events]),
            "load": (
                {**bus_env, "TABLE_NAME": self.table.name},
                [iam.dynamodb_put(self.table.arn), put_events],
            ),
            "observe": ({}, []),
        }
        functions: dict[str, LambdaFunction] = {}
        self.mappings: dict[str, aws.lambda_.EventSourceMapping] = {}
        maximum = args.maximum_concurrency
        for stage, (environment, statements) in plans.items():
            queue = self.queues[stage]
            function = LambdaFunction(
                scope,
                stage,
                dataclasses.replace(args.stage_spec(stage), environment=environment),
                package=package,
                statements=[iam.sqs_consume(queue.arn), *statements],
                service=self.slug,
            )
            spec = args.queue_spec(stage)
            self.mappings[stage] = aws.lambda_.EventSourceMapping(
                scope.child(f"{stage}-mapping"),
                event_source_arn=queue.arn,
                function_name=function.arn,
                # One file per extract run: a file may take the whole timeout.
                batch_size=1 if stage == "extract" else CONSUMER_BATCH,
                maximum_batching_window_in_seconds=spec.batching_window_s,
                function_response_types=["ReportBatchItemFailures"],
                scaling_config=(
                    aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=maximum)
                    if maximum is not None
                    else None
                ),
                opts=scope.opts(depends_on=[r for r in [function.policy] if r is not None]),
            )
            functions[stage] = function
        return functions
