"""TableArchive under mocks: stream mapping, bucket hardening, IAM scope, Glue layout, args."""

from __future__ import annotations

import importlib.util
import json
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

# urllib3 (under boto3, which the archiver's logic imports) probes IPv6 with a socket on
# import; importing it at collection keeps that probe out of the tests' socket guard.
import boto3.dynamodb.types  # noqa: F401
import pulumi
import pulumi_aws as aws
import pytest

from components.config import parse
from components.core import streams
from components.core.settings import Settings
from components.table_archive import TableArchive, TableArchiveArgs
from tests.helpers import policy, statements_of_role

FN = "aws:lambda/function:Function"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
BUCKET = "aws:s3/bucket:Bucket"
GLUE_TABLE = "aws:glue/catalogTable:CatalogTable"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b6c1f3e-1111-2222-3333-444455556666"


def archive(**kwargs):
    return lambda: TableArchive("orders", TableArchiveArgs(**kwargs))


def test_stream_mapping_has_the_failure_model(build):
    plan = build(archive(event_names=["INSERT", "MODIFY"]))
    table = plan.one(TABLE)
    assert table.inputs["streamEnabled"] is True
    assert table.inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"
    mapping = plan.one(ESM)
    inputs = mapping.inputs
    assert inputs["eventSourceArn"] == table.outputs["streamArn"]
    assert inputs["startingPosition"] == "TRIM_HORIZON"
    assert inputs["bisectBatchOnFunctionError"] is True
    assert inputs["maximumRetryAttempts"] == 5
    assert inputs["maximumRecordAgeInSeconds"] == 86_400
    assert inputs["batchSize"] == 500
    assert inputs["maximumBatchingWindowInSeconds"] == 30
    assert inputs["parallelizationFactor"] == 1
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq = plan.one(QUEUE, "archive-dlq")
    assert inputs["destinationConfig"]["onFailure"]["destinationArn"] == dlq.outputs["arn"]
    patterns = [json.loads(f["pattern"]) for f in inputs["filterCriteria"]["filters"]]
    assert patterns == [{"eventName": ["INSERT", "MODIFY"]}]
    assert mapping.property_dependencies["functionName"] == [plan.one(FN, "archiver").urn]
    assert mapping.property_dependencies["eventSourceArn"] == [table.urn]
    assert plan.one("aws:iam/rolePolicy:RolePolicy", "archiver-policy").urn in (
        mapping.dependencies
    )


def test_all_events_are_archived_without_a_filter_by_default(build):
    assert "filterCriteria" not in build(archive()).one(ESM).inputs


def test_failure_queue_and_alarms(build):
    plan = build(archive())
    dlq = plan.one(QUEUE, "archive-dlq")
    assert dlq.inputs["sqsManagedSseEnabled"] is True
    assert dlq.inputs["messageRetentionSeconds"] == 1_209_600  # 14 days, the SQS maximum
    queue_policy = policy(plan.one("aws:sqs/queuePolicy:QueuePolicy"))["Statement"][0]
    assert queue_policy["Effect"] == "Deny"
    assert queue_policy["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    alarms = {a.name: a.inputs for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    depth = alarms["orders-archive-dlq-depth"]
    assert depth["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert depth["dimensions"] == {"QueueName": dlq.outputs["name"]}
    age = alarms["orders-archiver-iterator-age"]
    assert (age["namespace"], age["metricName"]) == ("AWS/Lambda", "IteratorAge")
    assert age["threshold"] == 300_000
    assert age["dimensions"] == {"FunctionName": plan.one(FN).outputs["name"]}


def test_archiver_defaults_and_environment(build):
    plan = build(archive())
    archiver = plan.one(FN, "archiver").inputs
    assert (archiver["memorySize"], archiver["timeout"]) == (512, 60)
    assert archiver["tracingConfig"] == {"mode": "Active"}
    assert archiver["architectures"] == ["arm64"] and archiver["runtime"] == "python3.13"
    assert archiver["handler"] == "archiver.handler"
    assert "reservedConcurrentExecutions" not in archiver
    assert not [tag for tag in archiver["tags"] if tag.startswith("wa:")]
    variables = archiver["environment"]["variables"]
    bucket = plan.one(BUCKET)
    assert variables["BUCKET_NAME"] == bucket.outputs["bucket"]
    assert variables["ARCHIVE_PREFIX"] == "archive"
    assert variables["SOURCE_TABLE_NAME"] == plan.one(TABLE).inputs["name"]


def test_role_is_limited_to_stream_reads_prefix_writes_and_the_key(build):
    plan = build(archive(prefix="history/orders", kms_key_arn=KEY))
    stream = plan.one(TABLE).outputs["streamArn"]
    bucket = plan.one(BUCKET).outputs["arn"]
    dlq = plan.one(QUEUE, "archive-dlq").outputs["arn"]
    by_action = {
        tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "archiver-role")
    }
    assert by_action[
        (
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        )
    ] == (stream)
    assert by_action[("dynamodb:ListStreams",)] == "*"  # it accepts only "*"
    assert by_action[("s3:PutObject",)] == f"{bucket}/history/orders/*"
    assert by_action[("kms:GenerateDataKey",)] == KEY
    assert by_action[("sqs:SendMessage",)] == dlq
    assert len(by_action) == 6  # plus the log group's own streams
    for statement in statements_of_role(plan, "archiver-role"):
        assert all("*" not in action for action in statement["Action"])
        resources = statement["Resource"]
        if statement["Action"] == ["dynamodb:ListStreams"]:
            continue
        assert all(r.startswith("arn:aws:") for r in [resources] if isinstance(r, str))


def test_bucket_blocks_public_access_encrypts_denies_plain_http_and_tiers(build):
    plan = build(archive(kms_key_arn=KEY, transition_days=60))
    bucket = plan.one(BUCKET)
    block = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert block["bucket"] == bucket.id
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    sse = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KEY,
    }
    assert sse["bucketKeyEnabled"] is True
    statement = policy(plan.one("aws:s3/bucketPolicy:BucketPolicy"))["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Resource"] == [bucket.outputs["arn"], f"{bucket.outputs['arn']}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rule = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs[
        "rules"
    ][0]
    assert rule["filter"] == {"prefix": "archive/"}
    assert rule["transitions"] == [{"days": 60, "storageClass": "STANDARD_IA"}]
    versioning = plan.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}


def test_s3_managed_encryption_without_a_key(build):
    sse = build(archive()).one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    rule = sse.inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_glue_table_projects_the_key_layout(build):
    plan = build(archive(glue_database="archive_db", projection_start_year=2025, prefix="h"))
    database = plan.one("aws:glue/catalogDatabase:CatalogDatabase")
    assert database.inputs["name"] == "archive_db"
    glue = plan.one(GLUE_TABLE).inputs
    assert glue["databaseName"] == "archive_db"
    assert glue["tableType"] == "EXTERNAL_TABLE"
    assert "eventId" in glue["description"]
    bucket = plan.one(BUCKET).outputs["bucket"]
    table = plan.one(TABLE).inputs["name"]
    base = f"s3://{bucket}/h/table={table}/"
    params = glue["parameters"]
    assert glue["storageDescriptor"]["location"] == base
    assert params["storage.location.template"] == (
        base + "year=${year}/month=${month}/day=${day}/hour=${hour}"
    )
    assert params["projection.enabled"] == "true"
    assert params["projection.year.range"] == "2025,2055"
    assert (params["projection.month.range"], params["projection.month.digits"]) == ("1,12", "2")
    assert (params["projection.day.range"], params["projection.day.digits"]) == ("1,31", "2")
    assert (params["projection.hour.range"], params["projection.hour.digits"]) == ("0,23", "2")
    assert [(k["name"], k["type"]) for k in glue["partitionKeys"]] == [
        ("year", "string"),
        ("month", "string"),
        ("day", "string"),
        ("hour", "string"),
    ]
    serde = glue["storageDescriptor"]["serDeInfo"]["serializationLibrary"]
    assert serde == "org.openx.data.jsonserde.JsonSerDe"
    columns = [c["name"] for c in glue["storageDescriptor"]["columns"]]
    assert columns == [
        "eventId",
        "eventName",
        "sequenceNumber",
        "approximateCreationTime",
        "keys",
        "newImage",
        "oldImage",
        "ttlExpired",
    ]


def archive_logic():
    """The archiver's pure logic module (functions/ is a zip root, not a package), with the
    shared `ddb_json` it imports from its zip's root."""
    functions = Path(__file__).resolve().parents[2] / "functions"
    path = functions / "table_archive" / "archive.py"
    spec = importlib.util.spec_from_file_location("table_archive_logic", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    sys.path.insert(0, str(functions / "shared"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(functions / "shared"))
    return module


def test_handler_keys_match_the_glue_template(build):
    """The key the archiver writes for a record is the Glue location template filled in."""
    plan = build(archive(glue_database="archive_db", projection_start_year=2026))
    template = plan.one(GLUE_TABLE).inputs["parameters"]["storage.location.template"]
    bucket = plan.one(BUCKET).outputs["bucket"]
    table = plan.one(TABLE).inputs["name"]
    created = datetime(2026, 3, 1, 9, 41, 7, tzinfo=UTC)
    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": created.timestamp(),
            "Keys": {"pk": {"S": "a"}},
            "SequenceNumber": "100",
        },
    }
    (written,), poison = archive_logic().plan([record], prefix="archive", table=table)
    assert poison is None
    filled = (
        template.replace("${year}", "2026")
        .replace("${month}", "03")
        .replace("${day}", "01")
        .replace("${hour}", "09")
    )
    assert f"s3://{bucket}/{written.key}" == f"{filled}/100-100.json.gz"


def test_no_glue_objects_without_a_database(build):
    plan = build(archive())
    assert plan.of_type(GLUE_TABLE) == []
    assert plan.of_type("aws:glue/catalogDatabase:CatalogDatabase") == []


def test_existing_table_bucket_and_database_are_used(build):
    outputs = {}

    def program():
        table = aws.dynamodb.Table(
            "mine",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            billing_mode="PAY_PER_REQUEST",
            stream_enabled=True,
            stream_view_type="NEW_AND_OLD_IMAGES",
        )
        bucket = aws.s3.Bucket("lake")
        database = aws.glue.CatalogDatabase("lake-db", name="lake")
        component = TableArchive(
            "orders",
            TableArchiveArgs(table=table, bucket=bucket, glue_database=database),
        )
        for key, value in component.exports.items():
            pulumi.Output.from_input(value).apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    assert [t.name for t in plan.of_type(TABLE)] == ["mine"]
    assert [b.name for b in plan.of_type(BUCKET)] == ["lake"]
    assert plan.of_type("aws:s3/bucketPolicy:BucketPolicy") == []  # the owner's business
    assert [d.name for d in plan.of_type("aws:glue/catalogDatabase:CatalogDatabase")] == ["lake-db"]
    assert plan.one(ESM).property_dependencies["eventSourceArn"] == [plan.one(TABLE).urn]
    assert outputs["bucket_name"] == plan.one(BUCKET).outputs["bucket"]
    assert outputs["prefix"] == "archive"
    assert outputs["function_name"] == plan.one(FN).outputs["name"]
    assert outputs["dlq_url"] == plan.one(QUEUE, "archive-dlq").outputs["url"]
    assert outputs["glue_table_name"] == plan.one(GLUE_TABLE).inputs["name"]


def test_the_archiver_is_one_of_the_tables_two_readers(build):
    def program():
        table = aws.dynamodb.Table(
            "shared",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            stream_enabled=True,
            stream_view_type="NEW_AND_OLD_IMAGES",
        )
        TableArchive("first", TableArchiveArgs(table=table))
        TableArchive("second", TableArchiveArgs(table=table, prefix="copy"))
        assert streams.stream_readers(table) == ("first/archiver", "second/archiver")
        with pytest.raises(ValueError, match="at most 2 stream readers") as error:
            TableArchive("third", TableArchiveArgs(table=table, prefix="again"))
        assert "first/archiver, second/archiver" in str(error.value)

    plan = build(program)
    # The refused component was stopped before it registered anything.
    assert all(not r.name.startswith("third") for r in plan.registrations)


def test_every_child_is_parented_and_prefixed(build):
    plan = build(archive(glue_database="archive_db"))
    component = plan.one("serverless-patterns:patterns:TableArchive")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert all(r.name.startswith("orders-") for r in children)


def test_prod_settings_and_retention_override(build):
    settings = Settings(environment="prod", log_retention_days=365)
    plan = build(archive(settings=settings))
    assert plan.one(TABLE).inputs["deletionProtectionEnabled"] is True
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {365}
    plan = build(archive(settings=settings, log_retention_days=90))
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {90}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefix": "/archive"}, "prefix must be 1-200 letters"),
        ({"prefix": "a//b"}, "prefix must be"),
        ({"event_names": ["UPSERT"]}, "event_names must be a non-empty list of INSERT"),
        ({"batch_size": 0}, "batch_size must be between 1 and 10000"),
        ({"batching_window_s": 301}, "batching_window_s must be between 0 and 300"),
        ({"max_retries": -1}, "max_retries must be between 0 and 10000"),
        ({"max_record_age_s": 30}, "max_record_age_s must be between 60 and 604800"),
        ({"glue_database": "Archive-DB"}, "glue_database must be 1-255 lowercase"),
        ({"projection_start_year": 1900}, "projection_start_year must be between 1970"),
        ({"transition_days": 10}, "transition_days must be between 30 and 36500"),
        ({"kms_key_arn": "alias/aws/s3"}, "kms_key_arn must be a KMS key ARN"),
        ({"memory_size": 64}, "memory_size must be between 128"),
        ({"timeout_s": 0}, "timeout_s must be between 1 and 900"),
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TableArchiveArgs(**kwargs)


def test_stack_config_names_a_glue_database_to_create():
    config = {"table-archive": {"glue_database": "history", "event_names": ["REMOVE"]}}
    (choice,) = parse({"serverless-patterns:patterns": json.dumps(config)}).patterns
    assert choice.args.glue_database == "history"
    assert choice.args.consumer_spec().filters() == [{"eventName": ["REMOVE"]}]


def test_every_function_zip_carries_the_shared_stream_decoder(build):
    """The handlers import `ddb_json` from their zip's root (functions/shared/ddb_json.py)."""
    shared = (
        Path(__file__).resolve().parents[2] / "functions" / "shared" / "ddb_json.py"
    ).read_bytes()
    carried = {}
    for function in build(archive()).of_type(FN):
        with zipfile.ZipFile(function.inputs["code"].path) as zipped:
            carried[function.name] = zipped.read("ddb_json.py") == shared
    assert carried == {name: True for name in ["orders-archiver"]}
