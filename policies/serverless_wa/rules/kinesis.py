"""Kinesis Data Streams and Firehose rules (docs/rules.md, group 3.11): encryption (001, 002,
004), failure visibility (003), prefixes Firehose accepts (005) and processor timeouts (006)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, known
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, figure, register
from serverless_wa.rules._common import FUNCTION, KINESIS_STREAM, arn, case, stack_case

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


# KINESIS-005 -----------------------------------------------------------------------------

PARTITIONED_MIN_BUFFER_MIB = 64
PROVIDER_BUFFER_MIB = 5  # the provider's bufferingSize when none is set
PARTITION_KEY_EXPRESSIONS = ("!{partitionKeyFromLambda:", "!{partitionKeyFromQuery:")
ERROR_TYPE_EXPRESSION = "!{firehose:error-output-type}"


def _firehose_prefixes(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("destination") != "extended_s3":
        return
    prefix = node.get("extendedS3Configuration.prefix")
    errors = node.get("extendedS3Configuration.errorOutputPrefix")
    partitioned = node.get("extendedS3Configuration.dynamicPartitioningConfiguration.enabled")
    if (
        isinstance(prefix, str)
        and "!{" in prefix
        and isinstance(errors, str)
        and errors
        and ERROR_TYPE_EXPRESSION not in errors
    ):
        yield Finding(
            f"prefix uses expressions but errorOutputPrefix lacks {ERROR_TYPE_EXPRESSION}, "
            "so Firehose refuses the configuration and failure kinds would mix",
            fix=f"error_output_prefix='errors/{ERROR_TYPE_EXPRESSION}/'",
        )
    if (
        isinstance(prefix, str)
        and any(e in prefix for e in PARTITION_KEY_EXPRESSIONS)
        and partitioned is not UNKNOWN
        and partitioned is not True
    ):
        yield Finding(
            "prefix uses partition keys but dynamic partitioning is "
            f"{'off' if known(partitioned) else 'absent (off)'}",
            fix="dynamic_partitioning_configuration.enabled=True",
        )
    if partitioned is True:
        size = node.get("extendedS3Configuration.bufferingSize")
        if size is UNKNOWN:
            return
        value = size if known(size) else PROVIDER_BUFFER_MIB
        shown = f"{figure(value)}" if known(size) else f"absent ({PROVIDER_BUFFER_MIB})"
        if isinstance(value, int | float) and value < PARTITIONED_MIN_BUFFER_MIB:
            yield Finding(
                f"dynamic partitioning with a {shown} MiB buffer; it needs at least "
                f"{PARTITIONED_MIN_BUFFER_MIB} MiB",
                fix=f"extended_s3_configuration.buffering_size={PARTITIONED_MIN_BUFFER_MIB}",
            )


PARTITIONED_PREFIX = (
    "cdc/table=!{partitionKeyFromLambda:table}/year=!{partitionKeyFromLambda:year}/"
)

register(
    Rule(
        id="KINESIS-005",
        name="firehose-prefix-expressions",
        title="Firehose S3 prefixes that use expressions are deliverable and separate failures",
        description=(
            "An extended_s3 prefix with !{...} expressions needs an errorOutputPrefix holding "
            "!{firehose:error-output-type}; a prefix with partitionKeyFromLambda or "
            "partitionKeyFromQuery needs dynamic partitioning on; dynamic partitioning needs "
            "bufferingSize >= 64 MiB. Firehose refuses each at deployment: the rule finds them "
            "at preview."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(FIREHOSE,),
        reads={
            FIREHOSE: (
                "destination",
                "extendedS3Configuration.prefix",
                "extendedS3Configuration.errorOutputPrefix",
                "extendedS3Configuration.dynamicPartitioningConfiguration.enabled",
                "extendedS3Configuration.bufferingSize",
            )
        },
        anchors=anchors(),
        knob="buffer_size_mib / error_prefix",
        raw=(
            "extended_s3_configuration.error_output_prefix, "
            "dynamic_partitioning_configuration.enabled, buffering_size"
        ),
        check=_firehose_prefixes,
        remediation=(
            "Raw: extended_s3_configuration=aws.kinesis."
            "FirehoseDeliveryStreamExtendedS3ConfigurationArgs(..., prefix='data/"
            "!{partitionKeyFromLambda:day}/', error_output_prefix='errors/"
            "!{firehose:error-output-type}/', buffering_size=64, "
            "dynamic_partitioning_configuration={'enabled': True})."
        ),
        examples=Examples(
            compliant=(
                case(
                    FIREHOSE,
                    _extended_s3(
                        prefix=PARTITIONED_PREFIX,
                        errorOutputPrefix=f"errors/{ERROR_TYPE_EXPRESSION}/",
                        bufferingSize=64,
                        dynamicPartitioningConfiguration={"enabled": True},
                    ),
                ),
                case(FIREHOSE, _extended_s3(prefix="plain/", errorOutputPrefix="errors/")),
                case(FIREHOSE, {"destination": "http_endpoint"}),
            ),
            non_compliant=(
                case(
                    FIREHOSE,
                    _extended_s3(
                        prefix="data/year=!{timestamp:yyyy}/",
                        errorOutputPrefix="errors/",
                    ),
                ),
                case(
                    FIREHOSE,
                    _extended_s3(
                        prefix=PARTITIONED_PREFIX,
                        errorOutputPrefix=f"errors/{ERROR_TYPE_EXPRESSION}/",
                        bufferingSize=64,
                    ),
                ),
                case(
                    FIREHOSE,
                    _extended_s3(
                        prefix=PARTITIONED_PREFIX,
                        errorOutputPrefix=f"errors/{ERROR_TYPE_EXPRESSION}/",
                        bufferingSize=5,
                        dynamicPartitioningConfiguration={"enabled": True},
                    ),
                ),
            ),
        ),
    )
)


# KINESIS-006 -----------------------------------------------------------------------------

PROCESSOR_MAX_TIMEOUT_S = 300  # Firehose waits at most 5 minutes for a transformation


def _lambda_processors(node: Node) -> list[Any]:
    """The LambdaArn values of the stream's Lambda processors (UNKNOWN entries kept)."""
    processors = node.get("extendedS3Configuration.processingConfiguration.processors")
    if not isinstance(processors, list):
        return []
    found = []
    for processor in processors:
        if not isinstance(processor, dict) or processor.get("type") != "Lambda":
            continue
        for parameter in processor.get("parameters") or []:
            if isinstance(parameter, dict) and parameter.get("parameterName") == "LambdaArn":
                found.append(parameter.get("parameterValue"))
    return found


def _processor_timeout(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for stream in graph.of_type(FIREHOSE):
        for value in _lambda_processors(stream):
            if not isinstance(value, str):
                continue
            function = graph.find(value, (FUNCTION,))
            if function is None:
                continue
            timeout = function.get("timeout")
            if timeout is UNKNOWN:
                continue
            seconds = timeout if known(timeout) else 3
            if isinstance(seconds, int | float) and seconds > PROCESSOR_MAX_TIMEOUT_S:
                yield Finding(
                    f"transformation function {function.name} has a {figure(seconds)} s timeout; "
                    f"Firehose stops waiting after {PROCESSOR_MAX_TIMEOUT_S} s and retries the "
                    "batch, so records are transformed twice or fail",
                    urn=stream.urn,
                    fix=f"timeout<={PROCESSOR_MAX_TIMEOUT_S}",
                )


def _processing(function_arn: str) -> dict[str, Any]:
    return _extended_s3(
        errorOutputPrefix="errors/",
        processingConfiguration={
            "enabled": True,
            "processors": [
                {
                    "type": "Lambda",
                    "parameters": [
                        {"parameterName": "LambdaArn", "parameterValue": f"{function_arn}:$LATEST"}
                    ],
                }
            ],
        },
    )


TRANSFORM_ARN = arn("lambda", "function:transform")

register(
    Rule(
        id="KINESIS-006",
        name="firehose-processor-timeout",
        title="Firehose transformation functions finish within Firehose's 5-minute wait",
        description=(
            "A function named by a Firehose Lambda processor (LambdaArn) needs timeout <= "
            "300 s: Firehose waits no longer, then retries the batch (duplicates) and finally "
            "writes it under the error prefix."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="stack",
        types=(FIREHOSE, FUNCTION),
        reads={
            FIREHOSE: ("extendedS3Configuration.processingConfiguration.processors",),
            FUNCTION: ("timeout",),
        },
        anchors=anchors(),
        knob="timeout_s",
        raw="timeout",
        check=_processor_timeout,
        remediation="Raw: aws.lambda_.Function(..., timeout=60) for a Firehose processor.",
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(FUNCTION, "transform", {"arn": TRANSFORM_ARN, "timeout": 60}),
                    Resource(FIREHOSE, "delivery", _processing(TRANSFORM_ARN)),
                    subject="delivery",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(FUNCTION, "transform", {"arn": TRANSFORM_ARN, "timeout": 900}),
                    Resource(FIREHOSE, "delivery", _processing(TRANSFORM_ARN)),
                    subject="delivery",
                ),
            ),
        ),
    )
)
