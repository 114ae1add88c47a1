"""ImagePipeline under mocks: EventBridge notifications on the input bucket, the upload rule
(bucket, prefix, suffixes) and its target (role, retries, DLQ), a separate output bucket
(or disjoint prefixes), per-function S3 grants, the machine's role, encrypted topics,
existing resources, argument checks, the prod gate and the Pillow package's size."""

from __future__ import annotations

import json
import zipfile

import pulumi
import pulumi_aws as aws
import pytest

from components.config import parse
from components.core import packaging
from components.core.settings import Settings
from components.image_pipeline import ImagePipeline, ImagePipelineArgs
from preview import gate
from serverless_wa.asl import check
from tests.helpers import children_of, scoped_grants

FN = "aws:lambda/function:Function"
BUCKET = "aws:s3/bucket:Bucket"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
MACHINE = "aws:sfn/stateMachine:StateMachine"
TOPIC = "aws:sns/topic:Topic"
ROLE = "aws:iam/role:Role"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# Lambda's quota: function code and all its layers, unzipped.
UNZIPPED_LIMIT_MB = 250
# Room kept for the Powertools layer (AWS-managed, not measurable offline; v3 for arm64 is
# a few tens of MB unzipped) and anything a user adds.
LAYER_ALLOWANCE_MB = 100
ZIPPED_DIRECT_UPLOAD_MB = 50


def pipeline(**kwargs):
    return lambda: ImagePipeline("images", ImagePipelineArgs(**kwargs))


def bucket_arn(plan, name: str) -> str:
    return plan.one(BUCKET, name).outputs["arn"]


def test_the_input_bucket_sends_its_events_to_eventbridge(build):
    plan = build(pipeline())
    notification = plan.one(NOTIFICATION).inputs
    assert notification["eventbridge"] is True
    assert notification["bucket"] == plan.one(BUCKET, "images-input").id
    assert "lambdaFunctions" not in notification and "queues" not in notification


def test_the_rule_matches_this_bucket_prefix_and_suffixes_on_the_default_bus(build):
    plan = build(pipeline(input_prefix="uploads/", suffixes=[".png", ".webp"]))
    rule = plan.one(RULE).inputs
    assert rule["eventBusName"] == "default"
    pattern = json.loads(rule["eventPattern"])
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [
        plan.one(BUCKET, "images-input").outputs["bucket"]
    ]
    assert pattern["detail"]["object"]["key"] == [
        {"wildcard": "uploads/*.PNG"},
        {"wildcard": "uploads/*.WEBP"},
        {"wildcard": "uploads/*.png"},
        {"wildcard": "uploads/*.webp"},
    ]


def test_the_target_starts_the_machine_with_its_own_role_retries_and_a_dlq(build):
    plan = build(pipeline())
    target = plan.one(TARGET).inputs
    machine = plan.one(MACHINE).outputs["arn"]
    assert target["arn"] == machine
    assert target["roleArn"] == plan.one(ROLE, "images-uploads-start-role").outputs["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 8, "maximumEventAgeInSeconds": 3600}
    dlq = plan.one("aws:sqs/queue:Queue", "images-uploads-target-dlq").outputs["arn"]
    assert target["deadLetterConfig"] == {"arn": dlq}
    assert scoped_grants(plan, "images-uploads-start-role") == {("states:StartExecution", machine)}
    trust = json.loads(plan.one(ROLE, "images-uploads-start-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": plan.one(RULE).outputs["arn"]}


def test_renditions_go_to_a_separate_bucket_by_default(build):
    plan = build(pipeline())
    buckets = {b.name for b in plan.of_type(BUCKET)}
    assert buckets == {"images-input", "images-output"}
    resize = plan.one(FN, "images-resize").inputs["environment"]["variables"]
    assert resize["OUTPUT_BUCKET"] == plan.one(BUCKET, "images-output").outputs["bucket"]
    assert resize["OUTPUT_BUCKET"] != plan.one(BUCKET, "images-input").outputs["bucket"]


def test_each_function_reads_only_the_input_prefix_and_resize_writes_only_the_output_prefix(
    build,
):
    plan = build(pipeline())
    source = f"{bucket_arn(plan, 'images-input')}/incoming/*"
    renditions = f"{bucket_arn(plan, 'images-output')}/processed/*"
    logs = "logs:CreateLogStream"
    validate = {g for g in scoped_grants(plan, "images-validate-role") if g[0] != logs}
    resize = {g for g in scoped_grants(plan, "images-resize-role") if g[0] != logs}
    assert validate - {("logs:PutLogEvents", r) for _, r in validate} == {("s3:GetObject", source)}
    assert resize - {("logs:PutLogEvents", r) for _, r in resize} == {
        ("s3:GetObject", source),
        ("s3:PutObject", renditions),
    }


def test_one_bucket_is_shared_only_with_disjoint_prefixes(build):
    plan = build(pipeline(output_bucket="input", output_prefix="renditions/"))
    assert [b.name for b in plan.of_type(BUCKET)] == ["images-input"]
    arn = bucket_arn(plan, "images-input")
    assert ("s3:PutObject", f"{arn}/renditions/*") in scoped_grants(plan, "images-resize-role")
    for prefixes in (("incoming/", "incoming/resized/"), ("", "processed/"), ("in", "i")):
        with pytest.raises(ValueError, match=r"output_prefix .* overlaps input_prefix"):
            ImagePipelineArgs(
                output_bucket="input", input_prefix=prefixes[0], output_prefix=prefixes[1]
            )


def test_the_machine_invokes_only_its_functions_and_publishes_only_to_its_topics(build):
    plan = build(pipeline())
    functions = [plan.one(FN, f"images-{n}").outputs["arn"] for n in ("validate", "resize")]
    topics = [plan.one(TOPIC, f"images-{n}").outputs["arn"] for n in ("success", "error")]
    assert scoped_grants(plan, "images-workflow-role") == {
        *(("lambda:InvokeFunction", arn) for f in functions for arn in (f, f"{f}:*")),
        *(("sns:Publish", topic) for topic in topics),
    }
    definition = json.loads(plan.one(MACHINE).inputs["definition"])
    assert check(definition, workflow_type="STANDARD") == []
    states = definition["States"]
    assert states["Validate"]["Parameters"]["FunctionName"] == functions[0]
    item = states["Resize"]["ItemProcessor"]["States"]["ResizeOne"]
    assert item["Parameters"]["FunctionName"] == functions[1]
    assert states["NotifySuccess"]["Parameters"]["TopicArn"] == topics[0]
    assert states["NotifyFailure"]["Parameters"]["TopicArn"] == topics[1]


def test_topics_are_encrypted_and_traced(build):
    plan = build(pipeline())
    for name in ("images-success", "images-error"):
        topic = plan.one(TOPIC, name).inputs
        assert topic["kmsMasterKeyId"] == "alias/aws/sns"
        assert topic["tracingConfig"] == "Active"


def test_functions_and_machine_have_the_catalog_defaults(build):
    plan = build(pipeline())
    for name in ("images-validate", "images-resize"):
        function = plan.one(FN, name).inputs
        assert (function["memorySize"], function["timeout"]) == (1024, 30)
        assert function["architectures"] == ["arm64"]
        assert function["runtime"] == "python3.13"
        assert function["tracingConfig"] == {"mode": "Active"}
        variables = function["environment"]["variables"]
        assert variables["MAX_BYTES"] == "20000000"
        assert variables["ALLOWED_SUFFIXES"] == ".jpg,.jpeg,.png"
        assert variables["INPUT_PREFIX"] == "incoming/"
    machine = plan.one(MACHINE).inputs
    assert machine["type"] == "STANDARD"
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["loggingConfiguration"]["logDestination"].endswith(":*")
    assert json.loads(machine["definition"])["TimeoutSeconds"] == 900
    alarms = {a.name for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert "images-workflow-failed" in alarms
    express = build(pipeline(workflow_type="EXPRESS", execution_timeout_s=300)).one(MACHINE)
    assert express.inputs["type"] == "EXPRESS"


def test_a_kms_key_encrypts_new_buckets_and_the_functions_may_use_it(build):
    plan = build(pipeline(kms_key_arn=KEY_ARN))
    assert ("kms:Decrypt", KEY_ARN) in scoped_grants(plan, "images-validate-role")
    resize = scoped_grants(plan, "images-resize-role")
    assert {("kms:Decrypt", KEY_ARN), ("kms:GenerateDataKey", KEY_ARN)} <= resize
    encryption = plan.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    for config in encryption:
        (rule,) = config.inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == KEY_ARN


def test_existing_buckets_and_topics_are_used(build):
    outputs = {}

    def program():
        uploads = aws.s3.Bucket("uploads")
        renditions = aws.s3.Bucket("renditions")
        success = aws.sns.Topic("done")
        errors = aws.sns.Topic("alerts")
        component = ImagePipeline(
            "images",
            ImagePipelineArgs(
                input_bucket=uploads,
                output_bucket=renditions,
                success_topic=success,
                error_topic=errors,
            ),
        )
        for key, value in component.exports.items():
            pulumi.Output.from_input(value).apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    assert sorted(b.name for b in plan.of_type(BUCKET)) == ["renditions", "uploads"]
    assert sorted(t.name for t in plan.of_type(TOPIC)) == ["alerts", "done"]
    assert plan.one(NOTIFICATION).inputs["bucket"] == plan.one(BUCKET, "uploads").id
    assert outputs == {
        "input_bucket": plan.one(BUCKET, "uploads").outputs["bucket"],
        "output_bucket": plan.one(BUCKET, "renditions").outputs["bucket"],
        "state_machine_arn": plan.one(MACHINE).outputs["arn"],
        "success_topic_arn": plan.one(TOPIC, "done").outputs["arn"],
        "error_topic_arn": plan.one(TOPIC, "alerts").outputs["arn"],
    }


def test_the_input_bucket_as_output_counts_as_one_bucket(build):
    def program():
        uploads = aws.s3.Bucket("uploads")
        with pytest.raises(ValueError, match="overlaps input_prefix"):
            ImagePipelineArgs(
                input_bucket=uploads, output_bucket=uploads, output_prefix="incoming/out/"
            )
        ImagePipeline(
            "images",
            ImagePipelineArgs(
                input_bucket=uploads, output_bucket=uploads, enable_bucket_notifications=False
            ),
        )

    plan = build(program)
    assert [b.name for b in plan.of_type(BUCKET)] == ["uploads"]
    assert plan.of_type(NOTIFICATION) == []  # the owner already sends its events
    resize = plan.one(FN, "images-resize").inputs["environment"]["variables"]
    assert resize["OUTPUT_BUCKET"] == plan.one(BUCKET, "uploads").outputs["bucket"]


def test_every_child_is_parented_to_the_component(build):
    plan = build(pipeline())
    component = plan.one("serverless-patterns:patterns:ImagePipeline")
    children = children_of(plan, component)
    assert children and all(r.parent == component.urn for r in children)


def test_the_prod_gate_has_no_mandatory_finding(build):
    settings = Settings(
        environment="prod",
        log_retention_days=365,
        alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",),
    )
    plan = build(pipeline(settings=settings, kms_key_arn=KEY_ARN))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    advised = {f.id for f in report.findings}
    assert advised.isdisjoint({"SFN-003", "SFN-004", "SFN-007", "EVENTS-001", "EVENTS-002"})


def test_stack_config_gives_resize_targets_as_pairs():
    config = parse(
        {
            "serverless-patterns:patterns": {
                "image-pipeline": {"resize_targets": [[1600, 1200], [320, 240]]}
            }
        }
    )
    (choice,) = config.patterns
    assert choice.args.resize_targets == [(1600, 1200), (320, 240)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_prefix": "/incoming/"}, "input_prefix must be at most 1024"),
        ({"input_prefix": "in*coming/"}, "input_prefix must be at most 1024"),
        ({"output_prefix": "out\\"}, "output_prefix must be at most 1024"),
        ({"suffixes": []}, "suffixes must list distinct suffixes"),
        ({"suffixes": [".jpg", ".jpg"]}, "suffixes must list distinct suffixes"),
        ({"suffixes": [".tiff"]}, "suffixes must each be one of .gif, .jpeg"),
        ({"output_bucket": "elsewhere"}, "output_bucket must be 'input'"),
        ({"enable_bucket_notifications": False}, "enable_bucket_notifications=False needs"),
        ({"resize_targets": []}, "resize_targets must list 1-10"),
        ({"resize_targets": [(800, 0)]}, "resize_targets must be \\(width, height\\) pairs"),
        ({"resize_targets": [(800,)]}, "resize_targets must be \\(width, height\\) pairs"),
        ({"resize_targets": [(800, 600.5)]}, "resize_targets must be \\(width, height\\) pairs"),
        ({"resize_targets": [(80, 60), (80, 60)]}, "resize_targets must be distinct"),
        ({"max_concurrency": 0}, "max_concurrency must be between 1 and 40"),
        ({"workflow_type": "BATCH"}, "workflow_type must be one of STANDARD, EXPRESS"),
        ({"max_bytes": 0}, "max_bytes must be between 1 and 200000000"),
        ({"max_pixels": 10**9}, "max_pixels must be between 1 and 250000000"),
        ({"memory_size": 64}, "memory_size must be between 128"),
        ({"timeout_s": 0}, "timeout_s must be between 1 and 900"),
        ({"workflow_type": "EXPRESS"}, r"execution_timeout_s must exceed .* at most 300"),
        ({"execution_timeout_s": 60}, "execution_timeout_s must exceed the steps' timeouts"),
        ({"kms_key_arn": "alias/images"}, "kms_key_arn must be a KMS key ARN"),
    ],
)
def test_invalid_arguments_are_refused_before_any_resource(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImagePipelineArgs(**kwargs)


def test_pillow_is_bundled_for_arm64_and_the_package_fits_lambda_s_limits():
    """Unzipped, the function's code (Pillow included) must leave room for the Powertools
    layer within Lambda's 250 MB (code plus layers); zipped it must stay under the 50 MB
    direct-upload limit."""

    def not_cached(command):
        pytest.skip(
            "Pillow's arm64 wheel is not in the build cache (.build/deps): `make setup` "
            "fetches it from PyPI; this test never downloads"
        )

    package = packaging.build("image_pipeline", runner=not_cached)
    with zipfile.ZipFile(package.path) as archive:
        entries = archive.infolist()
    names = {entry.filename for entry in entries}
    assert {"validate.py", "resize.py", "imaging.py", "PIL/Image.py"} <= names
    extensions = [n for n in names if n.startswith("PIL/_imaging.") and n.endswith(".so")]
    assert extensions == ["PIL/_imaging.cpython-313-aarch64-linux-gnu.so"]
    unzipped_mb = sum(entry.file_size for entry in entries) / 1_000_000
    zipped_mb = package.path.stat().st_size / 1_000_000
    assert unzipped_mb < UNZIPPED_LIMIT_MB - LAYER_ALLOWANCE_MB, unzipped_mb
    assert zipped_mb < ZIPPED_DIRECT_UPLOAD_MB, zipped_mb
