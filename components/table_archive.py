"""`table-archive`: DynamoDB stream -> Lambda -> Hive-partitioned S3, ready for Glue/Athena.

Every change to a table is kept as a gzipped NDJSON line under
`{prefix}/table={table}/year=YYYY/month=MM/day=DD/hour=HH/`, partitioned on the record's
creation time (never on processing time), one object per partition hour and batch. With
`glue_database` set, a Glue table with partition projection makes new partitions queryable
at once, without a crawler.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from .core import defaults, iam, packaging, streams
from .core.bucket import BUCKET_DEFAULTS, PrivateBucket, StorageTransition
from .core.function import FunctionSpec, LambdaFunction
from .core.glue import JsonLinesTable
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import KMS_KEY
from .core.streams import FailureQueue, StreamConsumer, StreamConsumerSpec
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["TableArchive", "TableArchiveArgs"]

_PREFIX = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
_GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
TRANSITION_STORAGE_CLASS = "STANDARD_IA"
MIN_TRANSITION_DAYS = 30  # S3 moves objects to STANDARD_IA after 30 days at the earliest
NONCURRENT_VERSION_DAYS = 30
PARTITIONS = ("year", "month", "day", "hour")
COLUMNS = (
    ("eventId", "string", "stream event id: the dedupe key for queries"),
    ("eventName", "string", "INSERT, MODIFY or REMOVE"),
    ("sequenceNumber", "string", "stream sequence number (digits)"),
    ("approximateCreationTime", "string", "ISO 8601 UTC creation time of the change"),
    ("keys", "string", "the item's key attributes, as JSON"),
    ("newImage", "string", "the item after the change, as JSON (null for REMOVE)"),
    ("oldImage", "string", "the item before the change, as JSON (null for INSERT)"),
    ("ttlExpired", "boolean", "true when DynamoDB's TTL deleted the item"),
)
GLUE_TABLE_COMMENT = (
    "Changes of a DynamoDB table, one JSON line per stream record. Bisected or retried "
    "batches can write a change into two objects: deduplicate on eventId."
)


@dataclass(frozen=True, kw_only=True)
class TableArchiveArgs(PatternArgs):
    """Arguments of `TableArchive`.

    table: the source table (its stream must carry NEW_AND_OLD_IMAGES); None makes a new one
      (`pk`/`sk` strings). The archiver is one of its two stream readers.
    bucket: an existing archive bucket; None makes a new private one (then the bucket's
      encryption, public access block, TLS policy and lifecycle are this component's).
    prefix: key prefix of every object (no leading or trailing slash).
    event_names: archive only these events (INSERT, MODIFY, REMOVE); None archives all.
    batch_size: stream records per archiver invocation.
    batching_window_s: seconds the mapping waits to fill a batch.
    max_retries: retries of a failing batch (halved by bisection) before its records go to
      the failure queue.
    max_record_age_s: records older than this go to the failure queue unarchived.
    glue_database: a Glue database name to create (or an existing database) for the Glue
      table; None makes no Glue objects.
    projection_start_year: first year of the Glue partition projection; None is the year the
      program runs. Pin it in long-lived stacks: a later start hides older partitions.
    transition_days: objects move to STANDARD_IA after this many days (new bucket only).
    kms_key_arn: a KMS key for a new bucket's default encryption (None: S3-managed keys);
      the archiver may `kms:GenerateDataKey` with it.
    memory_size: the archiver's memory in MB.
    timeout_s: the archiver's timeout in seconds.
    log_retention_days: the archiver's log retention; None keeps the stack's setting.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "table",
            TABLE_DEFAULTS,
            "They are the table owner's to set; its stream must carry NEW_AND_OLD_IMAGES.",
        ),
        Safeguard(
            "bucket",
            BUCKET_DEFAULTS,
            "They are the bucket owner's to set; kms_key_arn and transition_days are not applied.",
        ),
    )

    table: aws.dynamodb.Table | None = None
    bucket: aws.s3.Bucket | None = None
    prefix: str = "archive"
    event_names: list[str] | None = None
    batch_size: int = 500
    batching_window_s: int = 30
    max_retries: int = 5
    max_record_age_s: int = 86_400
    glue_database: str | aws.glue.CatalogDatabase | None = None
    projection_start_year: int | None = None
    transition_days: int = 90
    kms_key_arn: str | None = None
    memory_size: int = 512
    timeout_s: int = 60
    log_retention_days: int | None = None

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix) or len(self.prefix) > 200:
            raise ValueError(
                "prefix must be 1-200 letters, digits, '_', '-' or '.' in '/'-separated "
                f"segments, without leading or trailing '/' (got {self.prefix!r})"
            )
        if isinstance(self.glue_database, str) and not _GLUE_NAME.match(self.glue_database):
            raise ValueError(
                "glue_database must be 1-255 lowercase letters, digits or '_' "
                f"(got {self.glue_database!r})"
            )
        if self.projection_start_year is not None and not 1970 <= self.projection_start_year <= (
            2100
        ):
            raise ValueError(
                "projection_start_year must be between 1970 and 2100 "
                f"(got {self.projection_start_year})"
            )
        if not MIN_TRANSITION_DAYS <= self.transition_days <= 36_500:
            raise ValueError(
                f"transition_days must be between {MIN_TRANSITION_DAYS} and 36500 "
                f"(got {self.transition_days})"
            )
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, "kms_key_arn")
        if (
            self.log_retention_days is not None
            and self.log_retention_days not in defaults.VALID_LOG_RETENTION_DAYS
        ):
            allowed = ", ".join(map(str, defaults.VALID_LOG_RETENTION_DAYS))
            raise ValueError(
                f"log_retention_days must be one of {allowed} (got {self.log_retention_days})"
            )
        # The consumer and function specs check their own ranges.
        self.consumer_spec()
        self.function_spec()

    def consumer_spec(self) -> StreamConsumerSpec:
        return StreamConsumerSpec(
            starting_position="TRIM_HORIZON",
            batch_size=self.batch_size,
            batching_window_s=self.batching_window_s,
            max_retries=self.max_retries,
            max_record_age_s=self.max_record_age_s,
            event_names=tuple(self.event_names) if self.event_names is not None else None,
        )

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="archiver.handler",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description="Archives a table's stream records to Hive-partitioned S3 objects",
        )

    @property
    def start_year(self) -> int:
        return self.projection_start_year or dt.datetime.now(dt.UTC).year


class TableArchive(Pattern):
    """Table stream -> `archiver` (grouped per partition hour) -> S3, optionally a Glue table."""

    slug: ClassVar[str] = "table-archive"
    type_token: ClassVar[str] = "serverless-patterns:patterns:TableArchive"

    def __init__(
        self,
        name: str,
        args: TableArchiveArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or TableArchiveArgs()
        if args.table is not None:
            streams.ensure_reader_capacity(args.table, f"{name}/archiver")
        if args.log_retention_days is not None:
            settings = dataclasses.replace(
                args.settings, log_retention_days=args.log_retention_days
            )
            args = dataclasses.replace(args, settings=settings)
        super().__init__(name, args, opts)
        scope = self.scope
        package = packaging.build(
            "table_archive",
            shared=("ddb_json.py",),  # stream images, exact numbers
            architecture=args.settings.architecture,
            runtime=args.settings.runtime,
        )

        self.table = args.table or create_table(
            scope,
            "source",
            TableSpec(
                hash_key=("pk", "S"), range_key=("sk", "S"), stream_view_type="NEW_AND_OLD_IMAGES"
            ),
        )
        self.bucket = args.bucket or self._archive_bucket(args)

        self.failure_queue = FailureQueue(scope, "archive-dlq")
        self.consumer = StreamConsumer(
            scope, "archiver", self.table, args.consumer_spec(), failure_queue=self.failure_queue
        )
        statements = [
            *self.consumer.statements,
            iam.Statement(
                ["s3:PutObject"],
                [self.bucket.arn.apply(lambda arn: f"{arn}/{args.prefix}/*")],
            ),
        ]
        if args.kms_key_arn is not None:
            statements.append(iam.Statement(["kms:GenerateDataKey"], [args.kms_key_arn]))
        self.archiver = LambdaFunction(
            scope,
            "archiver",
            dataclasses.replace(
                args.function_spec(),
                environment={
                    "BUCKET_NAME": self.bucket.bucket,
                    "ARCHIVE_PREFIX": args.prefix,
                    "SOURCE_TABLE_NAME": self.table.name,
                },
            ),
            package=package,
            statements=statements,
            service=self.slug,
        )
        self.mapping = self.consumer.attach(self.archiver)

        self.glue_database: aws.glue.CatalogDatabase | None = None
        self.glue_table: aws.glue.CatalogTable | None = None
        if args.glue_database is not None:
            self._glue(args)

        self.bucket_name = self.bucket.bucket
        self.prefix = args.prefix
        self.function_name = self.archiver.name
        self.dlq_url = self.failure_queue.url
        self.glue_table_name = self.glue_table.name if self.glue_table is not None else None
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "prefix": self.prefix,
                "function_name": self.function_name,
                "dlq_url": self.dlq_url,
                "glue_table_name": self.glue_table_name,
            }
        )

    def _archive_bucket(self, args: TableArchiveArgs) -> aws.s3.Bucket:
        archive = PrivateBucket(
            self.scope,
            "archive",
            kms_key_arn=args.kms_key_arn,
            # Replays overwrite objects; their old versions need not be kept long.
            noncurrent_days=NONCURRENT_VERSION_DAYS,
            transition=StorageTransition(
                rule_id="archive-tiering",
                days=args.transition_days,
                storage_class=TRANSITION_STORAGE_CLASS,
                prefix=f"{args.prefix}/",
            ),
            keep_objects=True,
        )
        self.public_access_block = archive.public_access_block
        self.encryption = archive.encryption
        self.versioning = archive.versioning
        self.lifecycle = archive.lifecycle
        self.bucket_policy = archive.policy
        return archive.bucket

    def _glue(self, args: TableArchiveArgs) -> None:
        location = pulumi.Output.all(self.bucket.bucket, self.table.name).apply(
            lambda v: f"s3://{v[0]}/{args.prefix}/table={v[1]}/"
        )
        glue = JsonLinesTable(
            self.scope,
            database=args.glue_database,
            database_description="Archived DynamoDB changes",
            table_suffix="archive",
            description=GLUE_TABLE_COMMENT,
            location=location,
            partitions=PARTITIONS,
            columns=COLUMNS,
            start_year=args.start_year,
        )
        self.glue_database, self.glue_table = glue.database, glue.table
