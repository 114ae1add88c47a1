"""CdcDataLake under mocks: table -> Kinesis destination -> encrypted stream -> Firehose with
the transform, dynamic partitioning and error output -> private bucket; IAM scope, alarms,
Glue layout, arguments, and the prod policy gate over the same recording."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.cdc_data_lake import (
    FIREHOSE_PROCESSOR_MAX_TIMEOUT_S,
    CdcDataLake,
    CdcDataLakeArgs,
    consumer_bucket_policy,
)
from components.config import parse
from components.core.settings import Settings
from preview import gate
from tests.helpers import policy, statements_of_role

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
STREAM = "aws:kinesis/stream:Stream"
DESTINATION = "aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
BUCKET = "aws:s3/bucket:Bucket"
KMS = "aws:kms/key:Key"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
GLUE_TABLE = "aws:glue/catalogTable:CatalogTable"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b6c1f3e-1111-2222-3333-444455556666"


def lake(**kwargs):
    return lambda: CdcDataLake("orders", CdcDataLakeArgs(**kwargs))


def s3_config(plan):
    return plan.one(FIREHOSE).inputs["extendedS3Configuration"]


def grants(plan, role: str) -> dict[str, set[str]]:
    """action -> the resources the role's inline policy allows it on."""
    found: dict[str, set[str]] = {}
    for statement in statements_of_role(plan, role):
        resources = statement["Resource"]
        for action in statement["Action"]:
            found.setdefault(action, set()).update(
                [resources] if isinstance(resources, str) else resources
            )
    return found


def test_the_table_streams_into_an_encrypted_stream(build):
    plan = build(lake())
    table, stream, key = plan.one(TABLE), plan.one(STREAM), plan.one(KMS)
    destination = plan.one(DESTINATION)
    assert destination.inputs["tableName"] == table.outputs["name"]
    assert destination.inputs["streamArn"] == stream.outputs["arn"]
    assert destination.property_dependencies["tableName"] == [table.urn]
    assert destination.property_dependencies["streamArn"] == [stream.urn]
    assert destination.inputs["approximateCreationDateTimePrecision"] == "MILLISECOND"
    # The Kinesis destination needs no DynamoDB stream (no reader slot taken).
    assert not table.inputs.get("streamEnabled")
    assert stream.inputs["encryptionType"] == "KMS"
    assert stream.inputs["kmsKeyId"] == key.outputs["arn"]
    assert stream.inputs["retentionPeriod"] == 24
    assert stream.inputs["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in stream.inputs
    assert key.inputs["enableKeyRotation"] is True
    key_policy = json.loads(key.inputs["policy"])
    (dynamodb,) = [s for s in key_policy["Statement"] if s["Sid"] == "DynamoDBWritesStreams"]
    assert dynamodb["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


def test_provisioned_streams_take_the_shard_count_and_retention(build):
    plan = build(lake(stream_mode="PROVISIONED", shard_count=10, retention_hours=168))
    stream = plan.one(STREAM)
    assert stream.inputs["streamModeDetails"] == {"streamMode": "PROVISIONED"}
    assert stream.inputs["shardCount"] == 10
    assert stream.inputs["retentionPeriod"] == 168


def test_firehose_reads_the_stream_and_runs_the_transform(build):
    plan = build(lake())
    firehose, stream, transform = plan.one(FIREHOSE), plan.one(STREAM), plan.one(FN, "transform")
    role = plan.one("aws:iam/role:Role", "delivery-role")
    assert firehose.inputs["destination"] == "extended_s3"
    source = firehose.inputs["kinesisSourceConfiguration"]
    assert source == {"kinesisStreamArn": stream.outputs["arn"], "roleArn": role.outputs["arn"]}
    processing = s3_config(plan)["processingConfiguration"]
    assert processing["enabled"] is True
    (processor,) = processing["processors"]
    assert processor["type"] == "Lambda"
    parameters = {p["parameterName"]: p["parameterValue"] for p in processor["parameters"]}
    assert parameters == {
        "LambdaArn": f"{transform.outputs['arn']}:$LATEST",
        "NumberOfRetries": "3",
        "BufferSizeInMBs": "1",
        "BufferIntervalInSeconds": "60",
    }
    assert transform.inputs["timeout"] <= FIREHOSE_PROCESSOR_MAX_TIMEOUT_S
    assert transform.inputs["memorySize"] == 256
    assert transform.inputs["tracingConfig"] == {"mode": "Active"}
    assert transform.inputs["environment"]["variables"]["PARTITION_TIME"] == "arrival"


def test_delivery_is_partitioned_buffered_compressed_and_logged(build):
    plan = build(lake())
    config = s3_config(plan)
    bucket, key = plan.one(BUCKET), plan.one(KMS)
    assert config["bucketArn"] == bucket.outputs["arn"]
    assert config["prefix"] == (
        "cdc/table=!{partitionKeyFromLambda:table}/year=!{partitionKeyFromLambda:year}/"
        "month=!{partitionKeyFromLambda:month}/day=!{partitionKeyFromLambda:day}/"
    )
    assert config["errorOutputPrefix"] == (
        "cdc-errors/!{firehose:error-output-type}/"
        "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    )
    assert config["dynamicPartitioningConfiguration"] == {"enabled": True, "retryDuration": 300}
    assert config["bufferingInterval"] == 120
    assert config["bufferingSize"] == 64  # dynamic partitioning's minimum
    assert config["compressionFormat"] == "GZIP"
    assert config["kmsKeyArn"] == key.outputs["arn"]
    assert config["s3BackupMode"] == "Disabled"
    logs = config["cloudwatchLoggingOptions"]
    group = plan.one(LOG_GROUP, "delivery-logs")
    assert logs["enabled"] is True
    assert logs["logGroupName"] == group.outputs["name"] == group.inputs["name"]
    assert group.inputs["name"].startswith("/aws/kinesisfirehose/")
    assert group.inputs["retentionInDays"] == 30


def test_the_bucket_is_private_encrypted_and_versioned(build):
    plan = build(lake())
    bucket, key = plan.one(BUCKET), plan.one(KMS)
    block = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    encryption = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    versioning = plan.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    statement = policy(plan.one("aws:s3/bucketPolicy:BucketPolicy"))["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert bucket.inputs.get("forceDestroy") is not True


def test_the_firehose_role_is_scoped_to_the_stream_prefixes_key_and_function(build):
    plan = build(lake())
    stream, bucket = plan.one(STREAM).outputs["arn"], plan.one(BUCKET).outputs["arn"]
    key = plan.one(KMS).outputs["arn"]
    transform = plan.one(FN, "transform").outputs["arn"]
    logs = plan.one(LOG_GROUP, "delivery-logs").outputs["arn"]
    assert grants(plan, "delivery-role") == {
        "kinesis:DescribeStream": {stream},
        "kinesis:DescribeStreamSummary": {stream},
        "kinesis:GetRecords": {stream},
        "kinesis:GetShardIterator": {stream},
        "kinesis:ListShards": {stream},
        "kms:Decrypt": {key},
        "kms:GenerateDataKey": {key},
        "s3:AbortMultipartUpload": {f"{bucket}/cdc/*", f"{bucket}/cdc-errors/*"},
        "s3:PutObject": {f"{bucket}/cdc/*", f"{bucket}/cdc-errors/*"},
        "s3:GetBucketLocation": {bucket},
        "s3:ListBucketMultipartUploads": {bucket},
        "lambda:GetFunctionConfiguration": {f"{transform}:$LATEST"},
        "lambda:InvokeFunction": {f"{transform}:$LATEST"},
        "logs:CreateLogStream": {f"{logs}:log-stream:*"},
        "logs:PutLogEvents": {f"{logs}:log-stream:*"},
    }
    trust = json.loads(plan.one("aws:iam/role:Role", "delivery-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "firehose.amazonaws.com"}
    # only this account's delivery streams may assume it (Firehose's confused-deputy guard)
    assert trust["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": "123456789012"}
    }
    firehose = plan.one(FIREHOSE)
    assert plan.one("aws:iam/rolePolicy:RolePolicy", "delivery-policy").urn in (
        firehose.dependencies
    )


def test_the_transform_has_no_grants_beyond_its_logs(build):
    plan = build(lake())
    actions = set(grants(plan, "transform-role"))
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_alarms_watch_freshness_iterator_age_and_replication(build):
    plan = build(lake())
    alarms = {a.inputs["metricName"]: a.inputs for a in plan.of_type(ALARM)}
    freshness = alarms["DeliveryToS3.DataFreshness"]
    assert freshness["namespace"] == "AWS/Firehose"
    assert freshness["dimensions"] == {"DeliveryStreamName": plan.one(FIREHOSE).outputs["name"]}
    assert freshness["threshold"] == 900
    age = alarms["GetRecords.IteratorAgeMilliseconds"]
    assert age["namespace"] == "AWS/Kinesis"
    assert age["dimensions"] == {"StreamName": plan.one(STREAM).outputs["name"]}
    assert age["threshold"] == 300_000
    lag = alarms["AgeOfOldestUnreplicatedRecord"]
    assert lag["namespace"] == "AWS/DynamoDB"
    assert lag["dimensions"] == {"TableName": plan.one(TABLE).outputs["name"]}
    assert {"Errors", "Throttles"} <= set(alarms)


def test_glue_table_projects_the_lake_layout(build):
    plan = build(lake(glue_database="lake", projection_start_year=2026))
    table = plan.one(GLUE_TABLE)
    bucket = plan.one(BUCKET).outputs["bucket"]
    source = plan.one(TABLE).outputs["name"]
    location = f"s3://{bucket}/cdc/table={source}/"
    assert table.inputs["storageDescriptor"]["location"] == location
    parameters = table.inputs["parameters"]
    assert parameters["storage.location.template"] == (
        f"{location}year=${{year}}/month=${{month}}/day=${{day}}"
    )
    assert parameters["projection.year.range"] == "2026,2056"
    assert parameters["compressionType"] == "gzip"
    assert [k["name"] for k in table.inputs["partitionKeys"]] == ["year", "month", "day"]
    columns = [c["name"] for c in table.inputs["storageDescriptor"]["columns"]]
    assert columns[:2] == ["eventId", "eventName"] and "approximateCreationTime" in columns
    assert "eventId" in table.inputs["description"]


def test_an_existing_table_and_key_are_used_as_given(build):
    def program():
        table = aws.dynamodb.Table(
            "mine",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        )
        return CdcDataLake("orders", CdcDataLakeArgs(table=table, kms_key_arn=KEY))

    plan = build(program)
    assert len(plan.of_type(TABLE)) == 1 and plan.of_type(KMS) == []
    assert plan.one(DESTINATION).inputs["tableName"] == plan.one(TABLE, "mine").outputs["name"]
    assert plan.one(STREAM).inputs["kmsKeyId"] == KEY
    assert s3_config(plan)["kmsKeyArn"] == KEY


def test_a_cross_account_bucket_is_written_by_the_firehose_role_only(build):
    arn = "arn:aws:s3:::central-lake"
    plan = build(lake(bucket=arn, consumer_account_id="210987654321"))
    assert plan.of_type(BUCKET) == []
    config = s3_config(plan)
    assert config["bucketArn"] == arn
    assert "kmsKeyArn" not in config  # the bucket owner's default encryption applies
    role_grants = grants(plan, "delivery-role")
    assert role_grants["s3:PutObject"] == {f"{arn}/cdc/*", f"{arn}/cdc-errors/*"}
    assert "kms:GenerateDataKey" not in role_grants


def test_the_consumer_bucket_policy_names_only_the_firehose_role():
    role = "arn:aws:iam::123456789012:role/orders-delivery-role"
    document = json.loads(
        consumer_bucket_policy("arn:aws:s3:::central-lake", role, ("cdc", "cdc-errors"))
    )
    deny, writes, locates = document["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"]["Bool"] == {
        "aws:SecureTransport": "false"
    }
    assert {json.dumps(s["Principal"]) for s in (writes, locates)} == {json.dumps({"AWS": role})}
    assert writes["Resource"] == [
        "arn:aws:s3:::central-lake/cdc/*",
        "arn:aws:s3:::central-lake/cdc-errors/*",
    ]
    assert set(writes["Action"]) == {"s3:AbortMultipartUpload", "s3:PutObject"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stream_mode": "FAST"}, "stream_mode must be one of ON_DEMAND, PROVISIONED"),
        ({"stream_mode": "PROVISIONED"}, "shard_count must be between 1 and 500"),
        ({"shard_count": 2}, "shard_count must be None with stream_mode ON_DEMAND"),
        ({"retention_hours": 12}, "retention_hours must be between 24 and 8760"),
        ({"buffer_interval_s": 30}, "buffer_interval_s must be between 60 and 900"),
        ({"buffer_size_mib": 1}, "buffer_size_mib must be between 64 and 128"),
        ({"bucket": "central-lake"}, "bucket must be an S3 bucket ARN"),
        ({"bucket": "arn:aws:s3:::lake"}, "consumer_account_id is required"),
        ({"consumer_account_id": "210987654321"}, "consumer_account_id applies only"),
        ({"kms_key_arn": "alias/aws/kinesis"}, "kms_key_arn must be a KMS key ARN"),
        ({"compression": "BZIP2"}, "compression must be one of"),
        ({"partition_time": "processing"}, "partition_time must be one of arrival, change"),
        ({"creation_time_precision": "SECOND"}, "creation_time_precision must be one of"),
        ({"prefix": "/cdc/"}, "prefix must be 1-200 letters"),
        ({"error_prefix": "cdc/errors"}, "error_prefix must lie outside prefix"),
        ({"glue_database": "Lake-DB"}, "glue_database must be 1-255 lowercase"),
        ({"timeout_s": 600}, "timeout_s must be between 1 and 300"),
        ({"memory_size": 64}, "memory_size must be between 128 and 10240"),
        ({"log_retention_days": 2}, "log_retention_days must be one of"),
    ],
)
def test_invalid_arguments_name_the_argument_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CdcDataLakeArgs(**kwargs)


def test_stack_config_builds_the_args():
    config = parse(
        {
            "serverless-patterns:patterns": json.dumps(
                {
                    "cdc-data-lake": {
                        "stream_mode": "PROVISIONED",
                        "shard_count": 4,
                        "partition_time": "change",
                    }
                }
            )
        }
    )
    (instance,) = config.patterns
    assert instance.args.shard_count == 4 and instance.args.partition_time == "change"


def test_the_prod_gate_has_no_mandatory_finding(build):
    plan = build(
        lambda: CdcDataLake(
            "orders",
            CdcDataLakeArgs(glue_database="lake", settings=Settings(environment="prod")),
        )
    )
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
