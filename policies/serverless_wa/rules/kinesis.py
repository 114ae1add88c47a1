"""Kinesis Data Streams and Firehose rules (docs/rules.md, group 3.11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Node
from serverless_wa.props import ABSENT, UNKNOWN, known
from serverless_wa.registry import Examples, Finding, Rule, anchors, register
from serverless_wa.rules._common import KINESIS_STREAM, arn, case

FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
AWS_MANAGED_KEY = "alias/aws/kinesis"
KEY_ARN = arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")


# KINESIS-001 -----------------------------------------------------------------------------


def _stream_encryption(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    encryption = node.get("encryptionType")
    if encryption is UNKNOWN or encryption == "KMS":
        return
    yield Finding(f"encryption type is {encryption if known(encryption) else 'absent (NONE)'}")


register(
    Rule(
        id="KINESIS-001",
        name="kinesis-stream-encryption",
        title="Kinesis data streams encrypt at rest",
        description=(
            "encryptionType absent (= NONE) or NONE is a finding; KMS with alias/aws/kinesis "
            "is accepted."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(KINESIS_STREAM,),
        reads={KINESIS_STREAM: ("encryptionType",)},
        anchors=anchors(cdk_nag="AwsSolutions-KDS1", checkov="CKV_AWS_43"),
        knob="",
        raw="encryption_type='KMS', kms_key_id='alias/aws/kinesis'",
        check=_stream_encryption,
        remediation=(
            "Raw: aws.kinesis.Stream(..., encryption_type='KMS', kms_key_id='alias/aws/kinesis')."
        ),
        examples=Examples(
            compliant=(
                case(KINESIS_STREAM, {"encryptionType": "KMS", "kmsKeyId": AWS_MANAGED_KEY}),
            ),
            non_compliant=(
                case(KINESIS_STREAM, {}),
                case(KINESIS_STREAM, {"encryptionType": "NONE"}),
            ),
        ),
    )
)


# KINESIS-002 -----------------------------------------------------------------------------


def _firehose_encryption(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    # Not Direct PUT: the source's encryption applies (KINESIS-001 for Kinesis sources).
    # An unknown source block counts as present.
    if any(
        node.get(p) is not ABSENT for p in ("kinesisSourceConfiguration", "mskSourceConfiguration")
    ):
        return
    enabled = node.get("serverSideEncryption.enabled")
    if enabled is UNKNOWN:
        return
    if enabled is not True:
        shown = "off" if known(enabled) else "absent (off)"
        yield Finding(f"Direct PUT delivery stream has server-side encryption {shown}")
        return
    key_type = node.get("serverSideEncryption.keyType")
    if config.get("require_cmk") and key_type is not UNKNOWN and key_type != "CUSTOMER_MANAGED_CMK":
        shown = key_type if known(key_type) else "absent (AWS_OWNED_CMK)"
        yield Finding(
            f"server-side encryption key type is {shown}, not CUSTOMER_MANAGED_CMK",
            fix="server_side_encryption.key_type='CUSTOMER_MANAGED_CMK', key_arn",
        )


register(
    Rule(
        id="KINESIS-002",
        name="firehose-encryption",
        title="Direct PUT Firehose delivery streams encrypt at rest",
        description=(
            "Direct PUT streams (no kinesisSourceConfiguration) need "
            "serverSideEncryption.enabled true; with require_cmk, a customer-managed key. "
            "Kinesis-sourced streams rely on the source stream's encryption (KINESIS-001)."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(FIREHOSE,),
        reads={
            FIREHOSE: (
                "kinesisSourceConfiguration",
                "mskSourceConfiguration",
                "serverSideEncryption.enabled",
                "serverSideEncryption.keyType",
            )
        },
        anchors=anchors(
            cdk_nag="AwsSolutions-KDF1", checkov="CKV_AWS_240 (CKV_AWS_241 with require_cmk)"
        ),
        knob="",
        raw="server_side_encryption.enabled=True",
        check=_firehose_encryption,
        config={"require_cmk": {"type": "boolean", "default": False}},
        remediation=(
            "Raw: aws.kinesis.FirehoseDeliveryStream(..., server_side_encryption="
            "aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(enabled=True))."
        ),
        examples=Examples(
            compliant=(
                case(
                    FIREHOSE,
                    {"destination": "extended_s3", "serverSideEncryption": {"enabled": True}},
                ),
                case(
                    FIREHOSE,
                    {
                        "destination": "extended_s3",
                        "kinesisSourceConfiguration": {
                            "kinesisStreamArn": arn("kinesis", "stream/events"),
                            "roleArn": arn("iam", "role/firehose"),
                        },
                    },
                ),
                case(
                    FIREHOSE,
                    {
                        "destination": "extended_s3",
                        "serverSideEncryption": {
                            "enabled": True,
                            "keyType": "CUSTOMER_MANAGED_CMK",
                            "keyArn": KEY_ARN,
                        },
                    },
                    config={"require_cmk": True},
                ),
            ),
            non_compliant=(
                case(FIREHOSE, {"destination": "extended_s3"}),
                case(
                    FIREHOSE,
                    {"destination": "extended_s3", "serverSideEncryption": {"enabled": False}},
                ),
                case(
                    FIREHOSE,
                    {"destination": "extended_s3", "serverSideEncryption": {"enabled": True}},
                    config={"require_cmk": True},
                ),
            ),
        ),
    )
)


# KINESIS-003 -----------------------------------------------------------------------------


def _firehose_failures(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("destination") != "extended_s3":
        return
    prefix = node.get("extendedS3Configuration.errorOutputPrefix")
    if prefix is not UNKNOWN and not (isinstance(prefix, str) and prefix):
        yield Finding(
            "extended_s3 destination has no errorOutputPrefix, so failed records mix with good ones"
        )
    logging = node.get("extendedS3Configuration.cloudwatchLoggingOptions.enabled")
    if logging is not UNKNOWN and logging is not True:
        shown = "off" if known(logging) else "absent (off)"
        yield Finding(f"extended_s3 destination has CloudWatch error logging {shown}")


def _extended_s3(**settings: Any) -> dict[str, Any]:
    return {
        "destination": "extended_s3",
        "serverSideEncryption": {"enabled": True},
        "extendedS3Configuration": {
            "bucketArn": "arn:aws:s3:::archive",
            "roleArn": arn("iam", "role/firehose"),
            **settings,
        },
    }


LOGGING_ON = {"enabled": True, "logGroupName": "/aws/kinesisfirehose/archive"}

register(
    Rule(
        id="KINESIS-003",
        name="firehose-failure-visibility",
        title="Firehose S3 delivery separates and logs failed records",
        description=(
            "extended_s3 destinations need extendedS3Configuration.errorOutputPrefix and "
            "cloudwatchLoggingOptions.enabled true."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="resource",
        types=(FIREHOSE,),
        reads={
            FIREHOSE: (
                "destination",
                "extendedS3Configuration.errorOutputPrefix",
                "extendedS3Configuration.cloudwatchLoggingOptions.enabled",
            )
        },
        anchors=anchors(),
        knob="",
        raw="extended_s3_configuration.error_output_prefix, cloudwatch_logging_options.enabled",
        check=_firehose_failures,
        remediation=(
            "Raw: extended_s3_configuration=aws.kinesis."
            "FirehoseDeliveryStreamExtendedS3ConfigurationArgs(..., error_output_prefix="
            "'errors/!{firehose:error-output-type}/', cloudwatch_logging_options={'enabled': "
            "True, 'log_group_name': ..., 'log_stream_name': ...})."
        ),
        examples=Examples(
            compliant=(
                case(
                    FIREHOSE,
                    _extended_s3(errorOutputPrefix="errors/", cloudwatchLoggingOptions=LOGGING_ON),
                ),
                case(FIREHOSE, {"destination": "http_endpoint"}),
            ),
            non_compliant=(
                case(FIREHOSE, _extended_s3()),
                case(FIREHOSE, _extended_s3(cloudwatchLoggingOptions=LOGGING_ON)),
                case(
                    FIREHOSE,
                    _extended_s3(
                        errorOutputPrefix="errors/", cloudwatchLoggingOptions={"enabled": False}
                    ),
                ),
            ),
        ),
    )
)


# KINESIS-004 -----------------------------------------------------------------------------


def _stream_cmk(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    key = node.get("kmsKeyId")
    if key is UNKNOWN:
        return
    if not (isinstance(key, str) and key):
        yield Finding("stream has no KMS key, so it uses no customer-managed key")
    elif key.endswith(AWS_MANAGED_KEY):
        yield Finding(
            f"stream uses the AWS managed key {AWS_MANAGED_KEY}, not a customer-managed key"
        )


register(
    Rule(
        id="KINESIS-004",
        name="kinesis-stream-cmk",
        title="Kinesis data streams encrypt with a customer-managed KMS key",
        description="kmsKeyId absent or alias/aws/kinesis is a finding.",
        severity="LOW",
        pillar="SEC",
        scope="resource",
        enabled=False,
        types=(KINESIS_STREAM,),
        reads={KINESIS_STREAM: ("kmsKeyId",)},
        anchors=anchors(cdk_nag="AwsSolutions-KDS3", checkov="CKV_AWS_185"),
        knob="",
        raw="kms_key_id",
        check=_stream_cmk,
        remediation="Raw: aws.kinesis.Stream(..., encryption_type='KMS', kms_key_id=key.arn).",
        examples=Examples(
            compliant=(case(KINESIS_STREAM, {"encryptionType": "KMS", "kmsKeyId": KEY_ARN}),),
            non_compliant=(
                case(KINESIS_STREAM, {}),
                case(KINESIS_STREAM, {"encryptionType": "KMS", "kmsKeyId": AWS_MANAGED_KEY}),
            ),
        ),
    )
)
