"""EventBridge Pipes rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Node
from serverless_wa.props import ABSENT, UNKNOWN, as_list
from serverless_wa.registry import Examples, Finding, Rule, anchors, register
from serverless_wa.rules._common import PIPE, arn, case, kind_from_arn

LOG_LEVELS = ("ERROR", "INFO", "TRACE")
LOG_DESTINATIONS = (
    "cloudwatchLogsLogDestination.logGroupArn",
    "firehoseLogDestination",
    "s3LogDestination",
)
STREAM_BLOCKS = {
    "dynamodb": ("dynamodbStreamParameters", "dynamodb_stream_parameters"),
    "kinesis": ("kinesisStreamParameters", "kinesis_stream_parameters"),
}
TABLE_STREAM = arn("dynamodb", "table/orders/stream/2030-01-01T00:00:00.000")
LOG_GROUP_ARN = arn("logs", "log-group:/aws/vendedlogs/pipes/orders")


def _present(value: Any) -> bool:
    """Presence check: unknown counts as present, an empty string as absent."""
    return value is UNKNOWN or (value is not ABSENT and value != "")


# PIPES-001 --------------------------------------------------------------------------------


def _logging(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("logConfiguration") is UNKNOWN:
        return
    level = node.get("logConfiguration.level")
    if level is not UNKNOWN and level not in LOG_LEVELS:
        shown = level if isinstance(level, str) and level else "absent (OFF)"
        yield Finding(f"log level is {shown}, so the pipe records nothing", detail="level")
    destinations = [node.get(f"logConfiguration.{p}") for p in LOG_DESTINATIONS]
    if not any(_present(d) for d in destinations):
        yield Finding(
            "logConfiguration has no CloudWatch Logs, Firehose or S3 destination",
            detail="destination",
            fix="log_level (raw: log_configuration.cloudwatch_logs_log_destination)",
        )
    data = node.get("logConfiguration.includeExecutionDatas")
    if data is not UNKNOWN and not config.get("allow_execution_data"):
        included = [str(d) for d in as_list(data) if d is not UNKNOWN]
        if included:
            yield Finding(
                f"includeExecutionDatas {', '.join(included)} writes event payloads to the log",
                detail="includeExecutionDatas",
                fix="log_level (raw: log_configuration.include_execution_datas=None)",
            )


register(
    Rule(
        id="PIPES-001",
        name="pipes-logging",
        title="Pipes log to a destination (Pipes has no tracing)",
        description=(
            "logConfiguration.level is ERROR, INFO or TRACE (absent means OFF) with at least "
            "one CloudWatch Logs, Firehose or S3 destination; includeExecutionDatas only when "
            "config allow_execution_data is true."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(PIPE,),
        reads={
            PIPE: (
                "logConfiguration.level",
                *(f"logConfiguration.{p}" for p in LOG_DESTINATIONS),
                "logConfiguration.includeExecutionDatas",
            )
        },
        anchors=anchors(),
        knob="log_level",
        raw="log_configuration",
        remediation=(
            "Raw: aws.pipes.Pipe(..., log_configuration=aws.pipes.PipeLogConfigurationArgs("
            "level='ERROR', cloudwatch_logs_log_destination=aws.pipes."
            "PipeLogConfigurationCloudwatchLogsLogDestinationArgs(log_group_arn=group.arn))). "
            "Component: PipeSourceSpec(log_level='ERROR') (the default)."
        ),
        check=_logging,
        config={"allow_execution_data": {"type": "boolean", "default": False}},
        examples=Examples(
            compliant=(
                case(
                    PIPE,
                    {
                        "logConfiguration": {
                            "level": "ERROR",
                            "cloudwatchLogsLogDestination": {"logGroupArn": LOG_GROUP_ARN},
                        }
                    },
                ),
                case(
                    PIPE,
                    {
                        "logConfiguration": {
                            "level": "TRACE",
                            "s3LogDestination": {"bucketName": "logs", "bucketOwner": "1234"},
                            "includeExecutionDatas": ["ALL"],
                        }
                    },
                    config={"allow_execution_data": True},
                ),
            ),
            non_compliant=(
                case(PIPE, {}),
                case(
                    PIPE,
                    {
                        "logConfiguration": {
                            "level": "OFF",
                            "cloudwatchLogsLogDestination": {"logGroupArn": LOG_GROUP_ARN},
                        }
                    },
                ),
                case(PIPE, {"logConfiguration": {"level": "INFO"}}),
                case(
                    PIPE,
                    {
                        "logConfiguration": {
                            "level": "INFO",
                            "cloudwatchLogsLogDestination": {"logGroupArn": LOG_GROUP_ARN},
                            "includeExecutionDatas": ["ALL"],
                        }
                    },
                ),
            ),
        ),
    )
)


# PIPES-002 --------------------------------------------------------------------------------


def _stream_kinds(node: Node) -> list[str]:
    """`dynamodb` / `kinesis` from the source ARN when known, else from the parameter blocks."""
    kind = kind_from_arn(node.get("source"))
    if kind is not None:
        return [kind] if kind in STREAM_BLOCKS else []
    blocks = STREAM_BLOCKS.items()
    return [k for k, (block, _) in blocks if node.get(f"sourceParameters.{block}") is not ABSENT]


def _stream_failure_handling(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("sourceParameters") is UNKNOWN:
        return
    for kind in _stream_kinds(node):
        block, raw = STREAM_BLOCKS[kind]
        base = f"sourceParameters.{block}"
        if node.get(base) is UNKNOWN:
            continue
        if not _present(node.get(f"{base}.deadLetterConfig.arn")):
            yield Finding(
                f"{kind} stream pipe has no {block}.deadLetterConfig.arn (failed records are "
                "dropped)",
                detail="deadLetterConfig.arn",
                fix=f"source_parameters.{raw}.dead_letter_config.arn",
            )
        for field, knob, snake in (
            ("maximumRetryAttempts", "max_retries", "maximum_retry_attempts"),
            ("maximumRecordAgeInSeconds", "max_record_age_s", "maximum_record_age_in_seconds"),
        ):
            value = node.get(f"{base}.{field}")
            if value is ABSENT or value == -1:
                yield Finding(
                    f"{block}.{field} is {'absent' if value is ABSENT else -1} (infinite), so "
                    "one bad record blocks its shard",
                    detail=field,
                    fix=f"{knob} (raw: source_parameters.{raw}.{snake})",
                )
        bisect = node.get(f"{base}.onPartialBatchItemFailure")
        if bisect is not UNKNOWN and bisect != "AUTOMATIC_BISECT":
            shown = bisect if isinstance(bisect, str) and bisect else "absent"
            yield Finding(
                f"{block}.onPartialBatchItemFailure is {shown}, not AUTOMATIC_BISECT",
                detail="onPartialBatchItemFailure",
                fix=f"source_parameters.{raw}.on_partial_batch_item_failure='AUTOMATIC_BISECT'",
            )


def _stream(**overrides: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "startingPosition": "LATEST",
        "deadLetterConfig": {"arn": arn("sqs", "orders-failures")},
        "maximumRetryAttempts": 5,
        "maximumRecordAgeInSeconds": 3600,
        "onPartialBatchItemFailure": "AUTOMATIC_BISECT",
    }
    block.update(overrides)
    return {k: v for k, v in block.items() if v is not None}


register(
    Rule(
        id="PIPES-002",
        name="pipes-stream-failure-handling",
        title="Stream pipes bound retries and send failures to a DLQ",
        description=(
            "A DynamoDB or Kinesis stream pipe sets deadLetterConfig.arn, maximumRetryAttempts "
            "and maximumRecordAgeInSeconds (neither absent nor -1) and onPartialBatchItemFailure "
            "AUTOMATIC_BISECT."
        ),
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(PIPE,),
        reads={
            PIPE: (
                "source",
                *(
                    f"sourceParameters.{block}.{field}"
                    for block, _ in STREAM_BLOCKS.values()
                    for field in (
                        "deadLetterConfig.arn",
                        "maximumRetryAttempts",
                        "maximumRecordAgeInSeconds",
                        "onPartialBatchItemFailure",
                    )
                ),
            )
        },
        anchors=anchors(),
        knob="max_retries / max_record_age_s",
        raw="source_parameters.<stream>_parameters",
        remediation=(
            "Raw: aws.pipes.PipeSourceParametersDynamodbStreamParametersArgs(..., "
            "dead_letter_config=...(arn=dlq.arn), maximum_retry_attempts=5, "
            "maximum_record_age_in_seconds=3600, on_partial_batch_item_failure="
            "'AUTOMATIC_BISECT'). Component: PipeSourceSpec(max_retries=..., "
            "max_record_age_s=...) sets all four."
        ),
        check=_stream_failure_handling,
        examples=Examples(
            compliant=(
                case(
                    PIPE,
                    {
                        "source": TABLE_STREAM,
                        "sourceParameters": {"dynamodbStreamParameters": _stream()},
                    },
                ),
                case(
                    PIPE,
                    {
                        "source": arn("kinesis", "stream/clicks"),
                        "sourceParameters": {"kinesisStreamParameters": _stream()},
                    },
                ),
                # SQS sources rely on SQS-001.
                case(PIPE, {"source": arn("sqs", "jobs")}),
            ),
            non_compliant=(
                case(
                    PIPE,
                    {
                        "source": TABLE_STREAM,
                        "sourceParameters": {
                            "dynamodbStreamParameters": _stream(deadLetterConfig=None)
                        },
                    },
                ),
                # Absent and set to the default (-1) agree.
                case(
                    PIPE,
                    {
                        "source": TABLE_STREAM,
                        "sourceParameters": {
                            "dynamodbStreamParameters": _stream(maximumRetryAttempts=None)
                        },
                    },
                ),
                case(
                    PIPE,
                    {
                        "source": TABLE_STREAM,
                        "sourceParameters": {
                            "dynamodbStreamParameters": _stream(maximumRetryAttempts=-1)
                        },
                    },
                ),
                # Kind from the block when the source is not known yet.
                case(
                    PIPE,
                    {
                        "sourceParameters": {
                            "kinesisStreamParameters": _stream(
                                maximumRecordAgeInSeconds=-1, onPartialBatchItemFailure=None
                            )
                        },
                    },
                ),
                case(PIPE, {"source": arn("kinesis", "stream/clicks")}),
            ),
        ),
    )
)
