"""`cdc-data-lake`: DynamoDB -> Kinesis Data Streams -> Firehose (+ `transform`) -> S3.

Kinesis Data Streams for DynamoDB copies every item change into an encrypted stream without
a stream-reader slot or polling code; Firehose reads the stream, has `transform` flatten each
change record into one JSON line and returns its partition keys, and delivers gzipped
objects under `{prefix}/table=<table>/year=YYYY/month=MM/day=DD/` (dynamic partitioning,
`!{partitionKeyFromLambda:...}`). Records that cannot be transformed or delivered land under
`{error_prefix}/<error-output-type>/year=/month=/day=/`, and Firehose logs its delivery
errors to its own log group. Compared with `table-archive`: more consumers, replay within
the stream's retention and managed buffering, at the cost of a Kinesis stream.

Kinesis Data Streams for DynamoDB can duplicate and reorder records: downstream queries
dedupe on `eventId` and order on `approximateCreationTime`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

import pulumi
import pulumi_aws as aws

from .core import aws_context, defaults, iam, packaging
from .core.alarms import metric_alarm
from .core.bucket import BUCKET_DEFAULTS, PrivateBucket
from .core.function import FunctionSpec, LambdaFunction
from .core.glue import JsonLinesTable
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import KMS_KEY
from .core.streams import ITERATOR_AGE_ALARM_S
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["CdcDataLake", "CdcDataLakeArgs"]

StreamMode = Literal["ON_DEMAND", "PROVISIONED"]
Compression = Literal["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"]
PartitionTime = Literal["arrival", "change"]
Precision = Literal["MILLISECOND", "MICROSECOND"]

_PREFIX = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
_GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
_BUCKET_ARN = re.compile(r"^arn:aws(-[a-z]+)*:s3:::[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
MIN_RETENTION_HOURS: Final = 24
MAX_RETENTION_HOURS: Final = 8760
MAX_SHARDS: Final = 500
# Dynamic partitioning needs a buffer of at least 64 MiB (and allows no zero buffering).
MIN_PARTITIONED_BUFFER_MIB: Final = 64
MAX_BUFFER_MIB: Final = 128
MIN_BUFFER_INTERVAL_S: Final = 60
MAX_BUFFER_INTERVAL_S: Final = 900
# Firehose waits at most 5 minutes for a transformation Lambda.
FIREHOSE_PROCESSOR_MAX_TIMEOUT_S: Final = 300
# The transform's input buffer: 1 MB (Firehose's default, 3 MB at most) keeps its response
# far from Lambda's 6 MB limit; the function fails records beyond it rather than the batch.
PROCESSOR_BUFFER_MIB: Final = 1
PROCESSOR_BUFFER_INTERVAL_S: Final = 60
PROCESSOR_RETRIES: Final = 3
PARTITIONING_RETRY_S: Final = 300
REPLICATION_LAG_ALARM_MS: Final = 5 * 60 * 1000
PARTITIONS: Final = ("year", "month", "day")
COLUMNS: Final = (
    ("eventId", "string", "change id: the dedupe key (Kinesis can duplicate records)"),
    ("eventName", "string", "INSERT, MODIFY or REMOVE"),
    ("tableName", "string", "the DynamoDB table that changed"),
    ("approximateCreationTime", "string", "ISO 8601 UTC time of the change: the order key"),
    ("keys", "string", "the item's key attributes, as JSON"),
    ("newImage", "string", "the item after the change, as JSON (null for REMOVE)"),
    ("oldImage", "string", "the item before the change, as JSON (null for INSERT)"),
    ("ttlExpired", "boolean", "true when DynamoDB's TTL deleted the item"),
)
GLUE_TABLE_COMMENT = (
    "Changes of a DynamoDB table via Kinesis Data Streams and Firehose, one JSON line per "
    "change. Kinesis can duplicate and reorder changes: deduplicate on eventId, order on "
    "approximateCreationTime."
)


@dataclass(frozen=True, kw_only=True)
class CdcDataLakeArgs(PatternArgs):
    """Arguments of `CdcDataLake`.

    table: the source table; None makes a new one (`pk`/`sk` strings). Streaming to Kinesis
      takes none of its two DynamoDB stream-reader slots.
    stream_mode: ON_DEMAND (capacity follows the table's write rate) or PROVISIONED.
    shard_count: shards of a PROVISIONED stream (1-500); must be None with ON_DEMAND.
    retention_hours: how long the stream keeps changes, 24-8760: the window in which
      Firehose (or any other consumer) can catch up or replay.
    buffer_interval_s: seconds Firehose buffers a partition before writing it (60-900).
    buffer_size_mib: MiB Firehose buffers a partition before writing it (64-128: dynamic
      partitioning needs at least 64; the interval usually flushes first).
    bucket: the lake bucket: an existing bucket, a bucket ARN in another account (with
      `consumer_account_id`), or None for a new private one encrypted with the key.
    consumer_account_id: the account that owns a cross-account `bucket`; the component
      exports the bucket policy that account attaches (it names only the Firehose role).
      None: the bucket is in this account (required with a bucket ARN, refused without).
    kms_key_arn: the KMS key for the stream and a new bucket; None creates one, rotated.
    compression: the objects' compression (UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY).
    partition_time: which time the year/month/day partitions follow: `arrival` (when the
      change reached the stream, as Firehose's own timestamps would) or `change` (the
      change's ApproximateCreationDateTime; a replay lands in the change's day). The change
      time is a column either way.
    creation_time_precision: precision of ApproximateCreationDateTime in the change
      records (MILLISECOND or MICROSECOND).
    prefix: key prefix of the lake objects (no leading or trailing slash).
    error_prefix: key prefix of records Firehose could not transform or deliver.
    glue_database: a Glue database name to create (or an existing database) for a Glue
      table over the lake with partition projection; None makes no Glue objects.
    projection_start_year: first year of the Glue partition projection; None is the year the
      program runs. Pin it in long-lived stacks: a later start hides older partitions.
    memory_size: the transform's memory in MB.
    timeout_s: the transform's timeout in seconds (at most 300: Firehose waits no longer).
    log_retention_days: retention of the transform's and Firehose's logs; None keeps the
      stack's setting.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "table",
            TABLE_DEFAULTS,
            "They are the table owner's to set; the component adds its Kinesis destination.",
        ),
        Safeguard(
            "bucket",
            BUCKET_DEFAULTS,
            "They are the bucket owner's to set: keep it private, encrypted and versioned.",
        ),
    )

    table: aws.dynamodb.Table | None = None
    stream_mode: StreamMode = "ON_DEMAND"
    shard_count: int | None = None
    retention_hours: int = 24
    buffer_interval_s: int = 120
    buffer_size_mib: int = 64
    bucket: aws.s3.Bucket | str | None = None
    consumer_account_id: str | None = None
    kms_key_arn: str | None = None
    compression: Compression = "GZIP"
    partition_time: PartitionTime = "arrival"
    creation_time_precision: Precision = "MILLISECOND"
    prefix: str = "cdc"
    error_prefix: str = "cdc-errors"
    glue_database: str | aws.glue.CatalogDatabase | None = None
    projection_start_year: int | None = None
    memory_size: int = 256
    timeout_s: int = 60
    log_retention_days: int | None = None

    def __post_init__(self) -> None:
        if self.stream_mode not in ("ON_DEMAND", "PROVISIONED"):
            raise ValueError(
                f"stream_mode must be one of ON_DEMAND, PROVISIONED (got {self.stream_mode!r})"
            )
        if self.stream_mode == "PROVISIONED":
            if self.shard_count is None or not 1 <= self.shard_count <= MAX_SHARDS:
                raise ValueError(
                    f"shard_count must be between 1 and {MAX_SHARDS} with stream_mode "
                    f"PROVISIONED (got {self.shard_count})"
                )
        elif self.shard_count is not None:
            raise ValueError(
                f"shard_count must be None with stream_mode ON_DEMAND (got {self.shard_count})"
            )
        if not MIN_RETENTION_HOURS <= self.retention_hours <= MAX_RETENTION_HOURS:
            raise ValueError(
                f"retention_hours must be between {MIN_RETENTION_HOURS} and "
                f"{MAX_RETENTION_HOURS} (got {self.retention_hours})"
            )
        if not MIN_BUFFER_INTERVAL_S <= self.buffer_interval_s <= MAX_BUFFER_INTERVAL_S:
            raise ValueError(
                f"buffer_interval_s must be between {MIN_BUFFER_INTERVAL_S} and "
                f"{MAX_BUFFER_INTERVAL_S} (got {self.buffer_interval_s})"
            )
        if not MIN_PARTITIONED_BUFFER_MIB <= self.buffer_size_mib <= MAX_BUFFER_MIB:
            raise ValueError(
                f"buffer_size_mib must be between {MIN_PARTITIONED_BUFFER_MIB} and "
                f"{MAX_BUFFER_MIB}: dynamic partitioning needs at least 64 "
                f"(got {self.buffer_size_mib})"
            )
        if isinstance(self.bucket, str):
            if not _BUCKET_ARN.match(self.bucket):
                raise ValueError(
                    "bucket must be an S3 bucket ARN, arn:<partition>:s3:::<bucket-name> "
                    f"(got {self.bucket!r})"
                )
            if self.consumer_account_id is None:
                raise ValueError("consumer_account_id is required when bucket is an ARN")
        elif self.consumer_account_id is not None:
            raise ValueError("consumer_account_id applies only when bucket is an ARN")
        if self.consumer_account_id is not None and not _ACCOUNT.match(self.consumer_account_id):
            raise ValueError(
                f"consumer_account_id must be 12 digits (got {self.consumer_account_id!r})"
            )
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, "kms_key_arn")
        if self.compression not in ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"):
            raise ValueError(
                "compression must be one of UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY "
                f"(got {self.compression!r})"
            )
        if self.partition_time not in ("arrival", "change"):
            raise ValueError(
                f"partition_time must be one of arrival, change (got {self.partition_time!r})"
            )
        if self.creation_time_precision not in ("MILLISECOND", "MICROSECOND"):
            raise ValueError(
                "creation_time_precision must be one of MILLISECOND, MICROSECOND "
                f"(got {self.creation_time_precision!r})"
            )
        for name in ("prefix", "error_prefix"):
            value = getattr(self, name)
            if not _PREFIX.match(value) or len(value) > 200:
                raise ValueError(
                    f"{name} must be 1-200 letters, digits, '_', '-' or '.' in '/'-separated "
                    f"segments, without leading or trailing '/' (got {value!r})"
                )
        if self.prefix == self.error_prefix or self.error_prefix.startswith(f"{self.prefix}/"):
            raise ValueError(
                f"error_prefix must lie outside prefix, or failed records mix with the lake "
                f"(got prefix={self.prefix!r}, error_prefix={self.error_prefix!r})"
            )
        if isinstance(self.glue_database, str) and not _GLUE_NAME.match(self.glue_database):
            raise ValueError(
                "glue_database must be 1-255 lowercase letters, digits or '_' "
                f"(got {self.glue_database!r})"
            )
        if self.projection_start_year is not None and not (
            1970 <= self.projection_start_year <= 2100
        ):
            raise ValueError(
                "projection_start_year must be between 1970 and 2100 "
                f"(got {self.projection_start_year})"
            )
        if not 1 <= self.timeout_s <= FIREHOSE_PROCESSOR_MAX_TIMEOUT_S:
            raise ValueError(
                f"timeout_s must be between 1 and {FIREHOSE_PROCESSOR_MAX_TIMEOUT_S}: Firehose "
                f"waits no longer for a transformation (got {self.timeout_s})"
            )
        if (
            self.log_retention_days is not None
            and self.log_retention_days not in defaults.VALID_LOG_RETENTION_DAYS
        ):
            allowed = ", ".join(map(str, defaults.VALID_LOG_RETENTION_DAYS))
            raise ValueError(
                f"log_retention_days must be one of {allowed} (got {self.log_retention_days})"
            )
        self.function_spec()

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="transform.handler",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description="Flattens DynamoDB change records into partitioned lake lines",
        )

    @property
    def s3_prefix(self) -> str:
        keys = "/".join(f"{p}=!{{partitionKeyFromLambda:{p}}}" for p in ("table", *PARTITIONS))
        return f"{self.prefix}/{keys}/"

    @property
    def s3_error_prefix(self) -> str:
        return (
            f"{self.error_prefix}/!{{firehose:error-output-type}}/"
            "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
        )

    @property
    def start_year(self) -> int:
        return self.projection_start_year or dt.datetime.now(dt.UTC).year


def consumer_bucket_policy(bucket_arn: str, role_arn: str, prefixes: tuple[str, ...]) -> str:
    """The policy a consumer account attaches to its lake bucket: TLS only, and only the
    producer's Firehose role may write, under the lake's prefixes. (The consumer should also
    set Object Ownership to BucketOwnerEnforced, so it owns what the producer writes.)"""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "ProducerFirehoseWrites",
                    "Effect": "Allow",
                    "Principal": {"AWS": role_arn},
                    "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                    "Resource": [f"{bucket_arn}/{p}/*" for p in prefixes],
                },
                {
                    "Sid": "ProducerFirehoseLocates",
                    "Effect": "Allow",
                    "Principal": {"AWS": role_arn},
                    "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                    "Resource": bucket_arn,
                },
            ],
        },
        sort_keys=True,
    )


def key_policy(account: str, partition: str = "aws") -> str:
    """The lake key's policy: the account administers it through IAM (the Firehose role's
    policy grants its use), and DynamoDB may encrypt what it writes into this account's
    Kinesis streams."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "DynamoDBWritesStreams",
                    "Effect": "Allow",
                    "Principal": {"Service": "dynamodb.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "StringLike": {
                            "kms:EncryptionContext:aws:kinesis:arn": (
                                f"arn:{partition}:kinesis:*:{account}:stream/*"
                            )
                        },
                    },
                },
            ],
        },
        sort_keys=True,
    )


class CdcDataLake(Pattern):
    """Table -> Kinesis stream -> Firehose with `transform` -> partitioned lake bucket."""

    slug: ClassVar[str] = "cdc-data-lake"
    type_token: ClassVar[str] = "serverless-patterns:patterns:CdcDataLake"

    def __init__(
        self,
        name: str,
        args: CdcDataLakeArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or CdcDataLakeArgs()
        if args.log_retention_days is not None:
            settings = dataclasses.replace(
                args.settings, log_retention_days=args.log_retention_days
            )
            args = dataclasses.replace(args, settings=settings)
        super().__init__(name, args, opts)
        scope = self.scope
        account = aws_context.account_id(self)

        self.key: aws.kms.Key | None = None
        key_arn: pulumi.Input[str]
        if args.kms_key_arn is None:
            self.key = aws.kms.Key(
                scope.child("key"),
                description=f"{name}: the CDC stream and lake bucket",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=account.apply(key_policy),
                tags=scope.tags,
                opts=scope.opts(),
            )
            key_arn = self.key.arn
        else:
            key_arn = args.kms_key_arn

        self.table = args.table or create_table(
            scope, "source", TableSpec(hash_key=("pk", "S"), range_key=("sk", "S"))
        )
        self.stream = aws.kinesis.Stream(
            scope.child("stream"),
            name=scope.physical("stream", max_length=128),
            retention_period=args.retention_hours,
            shard_count=args.shard_count,
            stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(
                stream_mode=args.stream_mode
            ),
            encryption_type="KMS",
            kms_key_id=key_arn,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.streaming_destination = aws.dynamodb.KinesisStreamingDestination(
            scope.child("streaming-destination"),
            table_name=self.table.name,
            stream_arn=self.stream.arn,
            approximate_creation_date_time_precision=args.creation_time_precision,
            opts=scope.opts(),
        )

        self.public_access_block: aws.s3.BucketPublicAccessBlock | None = None
        self.encryption: aws.s3.BucketServerSideEncryptionConfiguration | None = None
        self.versioning: aws.s3.BucketVersioning | None = None
        self.lifecycle: aws.s3.BucketLifecycleConfiguration | None = None
        self.bucket_policy: aws.s3.BucketPolicy | None = None
        self.bucket: aws.s3.Bucket | None = None
        if isinstance(args.bucket, str):
            bucket_arn: pulumi.Input[str] = args.bucket
            bucket_name: pulumi.Input[str] = args.bucket.rsplit(":", 1)[1]
        else:
            self.bucket = args.bucket or self._lake_bucket(key_arn)
            bucket_arn, bucket_name = self.bucket.arn, self.bucket.bucket
        # A new bucket's objects use the lake key; an existing or cross-account bucket's
        # default encryption is its owner's.
        object_key = key_arn if args.bucket is None else None

        package = packaging.build(
            "cdc_data_lake",
            shared=("ddb_json.py",),  # DynamoDB JSON images, exact numbers
            architecture=args.settings.architecture,
            runtime=args.settings.runtime,
        )
        self.transform = LambdaFunction(
            scope,
            "transform",
            dataclasses.replace(
                args.function_spec(),
                environment={
                    "CREATION_TIME_PRECISION": args.creation_time_precision,
                    "PARTITION_TIME": args.partition_time,
                },
            ),
            package=package,
            service=self.slug,
        )
        processor_arn = self.transform.arn.apply(lambda arn: f"{arn}:$LATEST")

        delivery_name = scope.physical("delivery", max_length=64)
        self.delivery_log_group = aws.cloudwatch.LogGroup(
            scope.child("delivery-logs"),
            name=f"/aws/kinesisfirehose/{delivery_name}",
            retention_in_days=args.settings.log_retention_days,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.delivery_log_stream = aws.cloudwatch.LogStream(
            scope.child("delivery-log-stream"),
            name="DestinationDelivery",
            log_group_name=self.delivery_log_group.name,
            opts=scope.opts(),
        )
        prefixes = (args.prefix, args.error_prefix)
        objects = [
            pulumi.Output.from_input(bucket_arn).apply(lambda arn, p=p: f"{arn}/{p}/*")
            for p in prefixes
        ]
        statements = [
            iam.Statement(
                [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                ],
                [self.stream.arn],
            ),
            iam.Statement(["kms:Decrypt"], [key_arn]),
            iam.Statement(["s3:AbortMultipartUpload", "s3:PutObject"], objects),
            iam.Statement(["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], [bucket_arn]),
            iam.Statement(
                ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"], [processor_arn]
            ),
            iam.logs_write(self.delivery_log_group.arn),
        ]
        if object_key is not None:
            statements.append(iam.Statement(["kms:GenerateDataKey"], [object_key]))
        self.delivery_role, self.delivery_policy = iam.service_role(
            scope, "delivery", "firehose.amazonaws.com", statements
        )
        parameters = [
            {"parameter_name": "LambdaArn", "parameter_value": processor_arn},
            {"parameter_name": "NumberOfRetries", "parameter_value": str(PROCESSOR_RETRIES)},
            {"parameter_name": "BufferSizeInMBs", "parameter_value": str(PROCESSOR_BUFFER_MIB)},
            {
                "parameter_name": "BufferIntervalInSeconds",
                "parameter_value": str(PROCESSOR_BUFFER_INTERVAL_S),
            },
        ]
        s3_config = aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs
        self.delivery_stream = aws.kinesis.FirehoseDeliveryStream(
            scope.child("delivery"),
            name=delivery_name,
            destination="extended_s3",
            kinesis_source_configuration=aws.kinesis.FirehoseDeliveryStreamKinesisSourceConfigurationArgs(
                kinesis_stream_arn=self.stream.arn, role_arn=self.delivery_role.arn
            ),
            extended_s3_configuration=s3_config(
                bucket_arn=bucket_arn,
                role_arn=self.delivery_role.arn,
                prefix=args.s3_prefix,
                error_output_prefix=args.s3_error_prefix,
                buffering_interval=args.buffer_interval_s,
                buffering_size=args.buffer_size_mib,
                compression_format=args.compression,
                kms_key_arn=object_key,
                s3_backup_mode="Disabled",  # the stream's retention is the replay window
                cloudwatch_logging_options=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                    enabled=True,
                    log_group_name=self.delivery_log_group.name,
                    log_stream_name=self.delivery_log_stream.name,
                ),
                dynamic_partitioning_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationDynamicPartitioningConfigurationArgs(
                    enabled=True, retry_duration=PARTITIONING_RETRY_S
                ),
                processing_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationArgs(
                    enabled=True,
                    processors=[{"type": "Lambda", "parameters": parameters}],
                ),
            ),
            tags=scope.tags,
            # Firehose checks its role's grants when the delivery stream is created.
            opts=scope.opts(depends_on=[p for p in [self.delivery_policy] if p is not None]),
        )

        self.consumer_bucket_policy: pulumi.Output[str] | None = None
        if isinstance(args.bucket, str):
            self.consumer_bucket_policy = self.delivery_role.arn.apply(
                lambda role: consumer_bucket_policy(str(args.bucket), role, prefixes)
            )

        self.glue_database: aws.glue.CatalogDatabase | None = None
        self.glue_table: aws.glue.CatalogTable | None = None
        if args.glue_database is not None:
            self._glue(args, bucket_name)

        self._alarms(args)

        self.stream_arn = self.stream.arn
        self.delivery_stream_name = self.delivery_stream.name
        self.bucket_name = pulumi.Output.from_input(bucket_name)
        self.prefix = f"{args.prefix}/"
        self.error_prefix = f"{args.error_prefix}/"
        self.function_name = self.transform.name
        self.glue_table_name = self.glue_table.name if self.glue_table is not None else None
        self.register_outputs(
            {
                "stream_arn": self.stream_arn,
                "delivery_stream_name": self.delivery_stream_name,
                "bucket_name": self.bucket_name,
                "prefix": self.prefix,
                "error_prefix": self.error_prefix,
                "function_name": self.function_name,
                "glue_table_name": self.glue_table_name,
                "consumer_bucket_policy": self.consumer_bucket_policy,
            }
        )

    def _lake_bucket(self, key_arn: pulumi.Input[str]) -> aws.s3.Bucket:
        lake = PrivateBucket(self.scope, "lake", kms_key_arn=key_arn, keep_objects=True)
        self.public_access_block = lake.public_access_block
        self.encryption = lake.encryption
        self.versioning = lake.versioning
        self.lifecycle = lake.lifecycle
        self.bucket_policy = lake.policy
        return lake.bucket

    def _alarms(self, args: CdcDataLakeArgs) -> None:
        scope = self.scope
        # Dynamic partitioning buffers in stages: delivery can take 1.5x the interval.
        freshness_s = max(900, 3 * args.buffer_interval_s)
        self.freshness_alarm = metric_alarm(
            scope,
            "delivery-freshness",
            namespace="AWS/Firehose",
            metric="DeliveryToS3.DataFreshness",
            dimensions={"DeliveryStreamName": self.delivery_stream.name},
            threshold=freshness_s,
            evaluation_periods=5,
            period_s=60,
            description=f"Records wait more than {freshness_s} s for delivery to the lake",
        )
        self.iterator_age_alarm = metric_alarm(
            scope,
            "stream-iterator-age",
            namespace="AWS/Kinesis",
            metric="GetRecords.IteratorAgeMilliseconds",
            dimensions={"StreamName": self.stream.name},
            threshold=ITERATOR_AGE_ALARM_S * 1000,
            evaluation_periods=5,
            description=(
                f"Firehose reads the CDC stream more than {ITERATOR_AGE_ALARM_S} s behind; "
                f"changes expire after {args.retention_hours} h"
            ),
        )
        self.replication_alarm = metric_alarm(
            scope,
            "replication-lag",
            namespace="AWS/DynamoDB",
            metric="AgeOfOldestUnreplicatedRecord",
            dimensions={"TableName": self.table.name},
            threshold=REPLICATION_LAG_ALARM_MS,
            evaluation_periods=5,
            description="DynamoDB is more than 5 minutes behind streaming changes to Kinesis",
        )

    def _glue(self, args: CdcDataLakeArgs, bucket_name: pulumi.Input[str]) -> None:
        location = pulumi.Output.all(bucket_name, self.table.name).apply(
            lambda v: f"s3://{v[0]}/{args.prefix}/table={v[1]}/"
        )
        glue = JsonLinesTable(
            self.scope,
            database=args.glue_database,
            database_description="DynamoDB changes delivered by Kinesis Data Firehose",
            table_suffix="lake",
            description=GLUE_TABLE_COMMENT,
            location=location,
            partitions=PARTITIONS,
            columns=COLUMNS,
            start_year=args.start_year,
            compressed=args.compression != "UNCOMPRESSED",
            gzip=args.compression == "GZIP",
        )
        self.glue_database, self.glue_table = glue.database, glue.table
