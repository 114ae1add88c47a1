"""Lambda event source mapping rules (LAMBDA-014 to LAMBDA-016): stream
and queue mappings keep failed records, bound their retries and report partial batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN
from serverless_wa.registry import Case, Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._common import (
    ESM,
    KINESIS_STREAM,
    QUEUE,
    TABLE,
    arn,
    number,
    source_kind,
    stack_case,
    unset,
)
from serverless_wa.rules.lambda_ import _fix, _text, _worker

STREAM_KINDS = ("kinesis", "dynamodb")


# LAMBDA-014 to LAMBDA-016 (event source mappings) -----------------------------------------------


def _mappings(graph: Graph, kinds: tuple[str, ...]) -> Iterator[tuple[Node, str]]:
    for mapping in graph.of_type(ESM):
        kind = source_kind(graph, mapping)
        if kind is not None and kind in kinds:
            yield mapping, kind


def _stream_on_failure(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for mapping, kind in _mappings(graph, ("kinesis", "dynamodb", "msk", "kafka")):
        if unset(mapping.get("destinationConfig.onFailure.destinationArn")):
            yield Finding(
                f"{kind} mapping has no on-failure destination, so failed batches are lost",
                urn=mapping.urn,
            )


def _source(kind: str) -> Resource:
    if kind == "sqs":
        return Resource(QUEUE, "source", {"arn": arn("sqs", "source"), "url": "https://q/s"})
    if kind == "dynamodb":
        return Resource(
            TABLE,
            "source",
            {
                "arn": arn("dynamodb", "table/source"),
                "streamArn": arn("dynamodb", "table/source/stream/2026-01-01T00:00:00.000"),
            },
        )
    return Resource(KINESIS_STREAM, "source", {"arn": arn("kinesis", "stream/source")})


def _mapping_case(kind: str, **props: Any) -> Case:
    """Preview shape: the mapping depends on its source and its function."""
    return stack_case(
        _source(kind),
        _worker(),
        Resource(
            ESM,
            "mapping",
            props,
            depends={"eventSourceArn": ("source",), "functionName": ("worker",)},
        ),
        subject="mapping",
    )


def _mapping_fallback(source_arn: str, **props: Any) -> Case:
    """Fallback shape: known ARNs, no dependencies."""
    return stack_case(
        _worker(),
        Resource(
            ESM,
            "mapping",
            {
                "eventSourceArn": source_arn,
                "functionName": arn("lambda", "function:worker"),
                **props,
            },
        ),
        subject="mapping",
    )


STREAM_ARN = arn("kinesis", "stream/source")
TABLE_STREAM_ARN = arn("dynamodb", "table/source/stream/2026-01-01T00:00:00.000")
_ON_FAILURE = {"destinationConfig": {"onFailure": {"destinationArn": arn("sqs", "failures")}}}
_BOUNDED = {
    "bisectBatchOnFunctionError": True,
    "maximumRetryAttempts": 3,
    "maximumRecordAgeInSeconds": 3600,
}

register(
    Rule(
        id="LAMBDA-014",
        name="esm-stream-on-failure-destination",
        title="Stream and Kafka event source mappings have an on-failure destination",
        description=(
            "Kinesis, DynamoDB, MSK and Kafka mappings need "
            "destinationConfig.onFailure.destinationArn. SQS, MQ and DocumentDB mappings are "
            "not applicable (SQS failures go to the queue's DLQ); an unknown kind is skipped."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(ESM,),
        reads={
            ESM: (
                "eventSourceArn",
                "selfManagedEventSource",
                "destinationConfig.onFailure.destinationArn",
            )
        },
        anchors=anchors(
            serverless_rules="ES1001", cdk_nag="Serverless-LambdaEventSourceMappingDestination"
        ),
        knob="",
        raw="destination_config.on_failure.destination_arn",
        remediation=(
            "Raw: aws.lambda_.EventSourceMapping(..., destination_config="
            "aws.lambda_.EventSourceMappingDestinationConfigArgs(on_failure="
            "aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs("
            "destination_arn=dlq.arn))). Component: stream consumers always send failures to a DLQ."
        ),
        check=_stream_on_failure,
        examples=Examples(
            compliant=(
                _mapping_case("kinesis", **_ON_FAILURE),
                _mapping_fallback(TABLE_STREAM_ARN, **_ON_FAILURE),
                # SQS mappings do not support destinationConfig (aws-cdk#19917).
                _mapping_case("sqs"),
                _mapping_fallback(arn("sqs", "source")),
            ),
            non_compliant=(
                _mapping_case("kinesis"),
                _mapping_case("dynamodb"),
                _mapping_fallback(TABLE_STREAM_ARN),
            ),
        ),
    )
)


def _stream_bounded_retries(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for mapping, kind in _mappings(graph, STREAM_KINDS):
        bisect = mapping.get("bisectBatchOnFunctionError")
        if bisect is not UNKNOWN and bisect is not True:
            yield Finding(
                f"{kind} mapping does not bisect failed batches",
                urn=mapping.urn,
                detail="bisectBatchOnFunctionError",
                fix="bisect_batch_on_function_error=True",
            )
        for prop, what, knob, raw in (
            ("maximumRetryAttempts", "the retry count", "max_retries", "maximum_retry_attempts"),
            (
                "maximumRecordAgeInSeconds",
                "the record age",
                "max_record_age_s",
                "maximum_record_age_in_seconds",
            ),
        ):
            value = mapping.get(prop)
            if value is ABSENT or number(value) == -1:
                shown = "absent (-1)" if value is ABSENT else "-1"
                yield Finding(
                    f"{kind} mapping {prop} is {shown}, so {what} is unbounded and one poison "
                    "record blocks its shard",
                    urn=mapping.urn,
                    detail=prop,
                    fix=_fix(knob, raw),
                )


register(
    Rule(
        id="LAMBDA-015",
        name="esm-stream-bounded-retries",
        title="Stream event source mappings bisect failures and bound their retries",
        description=(
            "Kinesis and DynamoDB mappings need bisectBatchOnFunctionError == true and both "
            "maximumRetryAttempts and maximumRecordAgeInSeconds set and not -1 (forever)."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(ESM,),
        reads={
            ESM: (
                "eventSourceArn",
                "selfManagedEventSource",
                "bisectBatchOnFunctionError",
                "maximumRetryAttempts",
                "maximumRecordAgeInSeconds",
            )
        },
        anchors=anchors(),
        knob="max_retries / max_record_age_s",
        raw=(
            "bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_in_seconds"
        ),
        remediation=(
            "Raw: aws.lambda_.EventSourceMapping(..., bisect_batch_on_function_error=True, "
            "maximum_retry_attempts=3, maximum_record_age_in_seconds=3600). "
            "Component: StreamConsumerSpec(max_retries=..., max_record_age_s=...); consumers "
            "always bisect."
        ),
        check=_stream_bounded_retries,
        examples=Examples(
            compliant=(
                _mapping_case("kinesis", **_BOUNDED),
                _mapping_fallback(TABLE_STREAM_ARN, **_BOUNDED),
                _mapping_case("sqs"),
            ),
            non_compliant=(
                _mapping_case("kinesis"),
                _mapping_case("dynamodb", **{**_BOUNDED, "maximumRetryAttempts": -1}),
                _mapping_fallback(STREAM_ARN, **{**_BOUNDED, "bisectBatchOnFunctionError": False}),
            ),
        ),
    )
)


def _partial_batch_response(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for mapping, kind in _mappings(graph, ("sqs", *STREAM_KINDS)):
        size = mapping.get("batchSize")
        if size is UNKNOWN:
            continue
        effective = (10 if kind == "sqs" else 100) if size is ABSENT else number(size)
        if effective is None or effective <= 1:
            continue
        types = mapping.get("functionResponseTypes")
        if types is UNKNOWN or (isinstance(types, list) and UNKNOWN in types):
            continue
        if isinstance(types, list) and "ReportBatchItemFailures" in types:
            continue
        yield Finding(
            f"{kind} mapping with batch size {_text(effective)} does not report batch item "
            "failures, so one failed record retries the whole batch",
            urn=mapping.urn,
        )


register(
    Rule(
        id="LAMBDA-016",
        name="esm-partial-batch-response",
        title="Batched SQS and stream mappings report batch item failures",
        description=(
            "SQS, Kinesis and DynamoDB mappings with an effective batchSize > 1 (absent means "
            "10 for SQS, 100 for streams) need ReportBatchItemFailures in "
            "functionResponseTypes."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="stack",
        types=(ESM,),
        reads={
            ESM: ("eventSourceArn", "selfManagedEventSource", "batchSize", "functionResponseTypes")
        },
        anchors=anchors(),
        knob="",
        raw="function_response_types=['ReportBatchItemFailures']",
        remediation=(
            "Raw: aws.lambda_.EventSourceMapping(..., function_response_types="
            "['ReportBatchItemFailures']) and return batchItemFailures from the handler. "
            "Component: consumers use the Powertools batch utilities and set it."
        ),
        check=_partial_batch_response,
        examples=Examples(
            compliant=(
                _mapping_case("sqs", functionResponseTypes=["ReportBatchItemFailures"]),
                _mapping_case("kinesis", batchSize=1),
                _mapping_fallback(
                    STREAM_ARN, batchSize=50, functionResponseTypes=["ReportBatchItemFailures"]
                ),
            ),
            non_compliant=(
                _mapping_case("sqs"),
                _mapping_case("dynamodb", batchSize=10, functionResponseTypes=[]),
                _mapping_fallback(arn("sqs", "source"), batchSize=5),
            ),
        ),
    )
)
