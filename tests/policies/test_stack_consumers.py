"""STACK-001: which functions are throttled consumers, and what each must reserve.

A throttled consumer is a function fed by an SQS event source mapping, or one tagged
`wa:throttled-consumer` (how a component declares a downstream budget). A DynamoDB or Kinesis
stream consumer is one only when tagged, or when `consumer_source_kinds` lists its kind.
"""

from __future__ import annotations

from typing import Any

from preview import gate
from serverless_wa.registry import REGISTRY, Case, Resource
from serverless_wa.rules._common import ESM, FUNCTION, THROTTLED_TAG, arn, stack_case
from tests.policies.harness import findings_of, run_case, subject_urn

RULE = REGISTRY["STACK-001"]
TABLE_STREAM = arn("dynamodb", "table/orders/stream/2026-01-01T00:00:00.000")
KINESIS_STREAM = arn("kinesis", "stream/clicks")
QUEUE_ARN = arn("sqs", "jobs")


def found(pack: Any, case: Case, **config: Any) -> list[gate.Finding]:
    return findings_of(run_case(pack, RULE, case, **config), RULE)


def consumer(source_arn: str, reserved: int = -1, tags: dict[str, str] | None = None) -> Case:
    props: dict[str, Any] = {"reservedConcurrentExecutions": reserved}
    if tags:
        props["tags"] = tags
    return stack_case(
        Resource(FUNCTION, "reader", props),
        Resource(
            ESM, "mapping", {"eventSourceArn": source_arn}, depends={"functionName": ("reader",)}
        ),
        subject="reader",
    )


def test_stream_consumers_are_not_throttled_consumers_by_default(pack):
    assert found(pack, consumer(TABLE_STREAM)) == []
    assert found(pack, consumer(KINESIS_STREAM)) == []
    assert RULE.config["consumer_source_kinds"]["default"] == ["sqs"]


def test_a_queue_consumer_without_reserved_concurrency_is_one_finding(pack):
    (finding,) = found(pack, consumer(QUEUE_ARN))
    assert finding.urn == subject_urn(consumer(QUEUE_ARN))
    assert "throttled consumer (it drains a queue) has reserved concurrency unset" in (
        finding.message
    )


def test_a_tagged_stream_consumer_must_reserve(pack):
    case = consumer(TABLE_STREAM, tags={THROTTLED_TAG: "4"})
    (finding,) = found(pack, case)
    assert f"it is tagged {THROTTLED_TAG}) has reserved concurrency unset" in finding.message
    assert found(pack, consumer(TABLE_STREAM, reserved=4, tags={THROTTLED_TAG: "4"})) == []
    (over,) = found(pack, consumer(TABLE_STREAM, reserved=5, tags={THROTTLED_TAG: "4"}))
    assert "reserved concurrency 5 exceeds the downstream budget 4" in over.message


def test_consumer_source_kinds_opts_stream_kinds_in(pack):
    kinds = ["sqs", "dynamodb"]
    (finding,) = found(pack, consumer(TABLE_STREAM), consumer_source_kinds=kinds)
    assert "it drains a dynamodb source" in finding.message
    assert found(pack, consumer(KINESIS_STREAM), consumer_source_kinds=kinds) == []
    assert found(pack, consumer(QUEUE_ARN), consumer_source_kinds=["kinesis"]) == []


def test_reserved_concurrency_zero_is_a_finding(pack):
    (finding,) = found(pack, consumer(QUEUE_ARN, reserved=0))
    assert "has reserved concurrency 0" in finding.message


def test_a_mapping_whose_source_is_unknown_is_skipped(pack):
    assert found(pack, consumer(gate.UNKNOWN)) == []
