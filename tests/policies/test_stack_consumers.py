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


# accept_sqs_max_concurrency, budgets and odd mappings (issue #19) ----------------------------

RULE_2 = REGISTRY["STACK-002"]
ACCEPT = {"accept_sqs_max_concurrency": True}


def fed_by(
    *sources: tuple[str, Any], reserved: Any = -1, tags: dict[str, str] | None = None
) -> Case:
    """A function fed by one mapping per (source ARN, maximumConcurrency or None for unset)."""
    props: dict[str, Any] = {"reservedConcurrentExecutions": reserved}
    if tags:
        props["tags"] = tags
    mappings = []
    for n, (source, cap) in enumerate(sources):
        mapping: dict[str, Any] = {"eventSourceArn": source}
        if cap is not None:
            mapping["scalingConfig"] = {"maximumConcurrency": cap}
        mappings.append(
            Resource(ESM, f"mapping-{n}", mapping, depends={"functionName": ("reader",)})
        )
    return stack_case(Resource(FUNCTION, "reader", props), *mappings, subject="reader")


def problems(pack: Any, rule: Any, case: Case, **config: Any) -> list[str]:
    """The finding messages, each checked to be raised on the case's subject."""
    found_ = findings_of(run_case(pack, rule, case, **config), rule)
    assert {f.urn for f in found_} <= {subject_urn(case)}
    return [f.message for f in found_]


UNSET = "throttled consumer (it drains a queue) has reserved concurrency unset"


def test_accept_sqs_max_concurrency_is_off_unless_configured(pack):
    capped = fed_by((QUEUE_ARN, 2))
    assert RULE.config["accept_sqs_max_concurrency"]["default"] is False
    for config in ({}, {"accept_sqs_max_concurrency": False}):
        (message,) = problems(pack, RULE, capped, **config)
        assert UNSET in message
    assert problems(pack, RULE, capped, **ACCEPT) == []


def test_accepted_caps_must_all_be_set_and_known(pack):
    second = arn("sqs", "more-jobs")
    (message,) = problems(pack, RULE, fed_by((QUEUE_ARN, 2), (second, None)), **ACCEPT)
    assert UNSET in message
    (message,) = problems(pack, RULE, fed_by((QUEUE_ARN, True)), **ACCEPT)
    assert UNSET in message  # a boolean is not a number of concurrent batches
    # An unknown cap may well be within the budget: never a violation at preview.
    assert problems(pack, RULE, fed_by((QUEUE_ARN, gate.UNKNOWN), (second, None)), **ACCEPT) == []
    assert problems(pack, RULE, fed_by((QUEUE_ARN, 2), (second, 3)), **ACCEPT) == []


def test_accepted_caps_sum_within_the_tagged_budget(pack):
    second = arn("sqs", "more-jobs")
    budget = {THROTTLED_TAG: "5"}
    assert problems(pack, RULE, fed_by((QUEUE_ARN, 2), (second, 3), tags=budget), **ACCEPT) == []
    assert problems(pack, RULE, fed_by((QUEUE_ARN, 5), tags=budget), **ACCEPT) == []
    (message,) = problems(pack, RULE, fed_by((QUEUE_ARN, 3), (second, 3), tags=budget), **ACCEPT)
    assert UNSET in message
    (message,) = problems(pack, RULE, fed_by((QUEUE_ARN, 6), tags=budget), **ACCEPT)
    assert UNSET in message


def test_accepted_caps_do_not_cover_a_stream_source_of_the_same_function(pack):
    mixed = fed_by((QUEUE_ARN, 2), (TABLE_STREAM, None))
    # Streams are not consumer kinds by default: only the capped queue mapping counts.
    assert problems(pack, RULE, mixed, **ACCEPT) == []
    kinds = ["sqs", "dynamodb"]
    (message,) = problems(pack, RULE, mixed, consumer_source_kinds=kinds, **ACCEPT)
    assert "(it drains a dynamodb source and a queue) has reserved concurrency unset" in message


def test_reserved_concurrency_zero_is_a_finding_even_with_accepted_caps(pack):
    (message,) = problems(pack, RULE, fed_by((QUEUE_ARN, 2), reserved=0), **ACCEPT)
    assert "(it drains a queue) has reserved concurrency 0" in message


def test_reserved_concurrency_is_judged_against_the_budget_only_when_tagged(pack):
    assert problems(pack, RULE, fed_by((QUEUE_ARN, None), reserved=50)) == []
    assert problems(pack, RULE, fed_by((QUEUE_ARN, None), reserved=1)) == []
    tagged = {THROTTLED_TAG: "3"}
    assert problems(pack, RULE, fed_by((QUEUE_ARN, None), reserved=3, tags=tagged)) == []
    (message,) = problems(pack, RULE, fed_by((QUEUE_ARN, None), reserved=4, tags=tagged))
    assert "reserved concurrency 4 exceeds the downstream budget 3" in message
    # A tag without a number marks a throttled consumer with no budget to exceed.
    assert problems(pack, RULE, fed_by(reserved=40, tags={THROTTLED_TAG: "yes"})) == []
    (message,) = problems(pack, RULE, fed_by(tags={THROTTLED_TAG: "yes"}))
    assert f"(it is tagged {THROTTLED_TAG}) has reserved concurrency unset" in message


def test_unknown_reserved_concurrency_is_never_a_violation(pack):
    assert problems(pack, RULE, fed_by((QUEUE_ARN, None), reserved=gate.UNKNOWN)) == []
    assert problems(pack, RULE_2, fed_by((QUEUE_ARN, None), reserved=gate.UNKNOWN)) == []


def test_an_empty_consumer_source_kinds_falls_back_to_the_default(pack):
    (message,) = problems(pack, RULE, consumer(QUEUE_ARN), consumer_source_kinds=[])
    assert UNSET in message


def test_mappings_that_cannot_be_judged_do_not_hide_the_ones_after_them(pack):
    """A mapping of another kind, and one whose function is not in the stack, come first."""
    elsewhere = arn("lambda", "function:elsewhere")
    case = stack_case(
        Resource(FUNCTION, "streamer", {"reservedConcurrentExecutions": -1}),
        Resource(FUNCTION, "reader", {"reservedConcurrentExecutions": -1}),
        Resource(
            ESM,
            "stream-mapping",
            {"eventSourceArn": TABLE_STREAM},
            depends={"functionName": ("streamer",)},
        ),
        Resource(ESM, "orphan", {"eventSourceArn": QUEUE_ARN, "functionName": elsewhere}),
        Resource(
            ESM,
            "queue-mapping",
            {"eventSourceArn": QUEUE_ARN},
            depends={"functionName": ("reader",)},
        ),
        subject="reader",
    )
    (message,) = problems(pack, RULE, case)
    assert UNSET in message


# STACK-002 ---------------------------------------------------------------------------------


def test_stack_002_every_mapping_sets_a_cap(pack):
    second = arn("sqs", "more-jobs")
    case = fed_by((QUEUE_ARN, None), (second, None), (arn("sqs", "capped"), 2), reserved=10)
    (message,) = problems(pack, RULE_2, case)
    assert "SQS mapping mapping-0, mapping-1 sets no scalingConfig.maximumConcurrency" in message
    assert "outrun reserved concurrency 10" in message
    assert "Fix: consumer_concurrency (raw: scaling_config.maximum_concurrency)" in message
    (message,) = problems(pack, RULE_2, fed_by((QUEUE_ARN, True), reserved=2))
    assert "SQS mapping mapping-0 sets no scalingConfig.maximumConcurrency" in message


def test_stack_002_caps_sum_within_reserved_concurrency(pack):
    second = arn("sqs", "more-jobs")
    assert problems(pack, RULE_2, fed_by((QUEUE_ARN, 2), (second, 2), reserved=4)) == []
    assert problems(pack, RULE_2, fed_by((QUEUE_ARN, 2.0), reserved=2)) == []
    (message,) = problems(pack, RULE_2, fed_by((QUEUE_ARN, 2), (second, 3), reserved=4))
    assert "SQS maximumConcurrency 5 exceeds reserved concurrency 4" in message
    (message,) = problems(pack, RULE_2, fed_by((QUEUE_ARN, 3.0), reserved=1))
    assert "SQS maximumConcurrency 3 exceeds reserved concurrency 1" in message


def test_stack_002_reserved_concurrency_one_cannot_be_matched(pack):
    (message,) = problems(pack, RULE_2, fed_by((QUEUE_ARN, 1), reserved=1))
    assert "reserved concurrency 1 cannot be matched by maximumConcurrency (minimum 2)" in message


def test_stack_002_leaves_reserved_zero_and_unset_to_stack_001(pack):
    for reserved in (0, -1):
        assert problems(pack, RULE_2, fed_by((QUEUE_ARN, None), reserved=reserved)) == []
        assert problems(pack, RULE_2, fed_by((QUEUE_ARN, 5), reserved=reserved)) == []


def test_stack_002_caps_sum_within_the_budget(pack):
    second = arn("sqs", "more-jobs")
    budget = {THROTTLED_TAG: "3"}
    (message,) = problems(
        pack, RULE_2, fed_by((QUEUE_ARN, 2), (second, 2), reserved=4, tags=budget)
    )
    assert "SQS maximumConcurrency 4 exceeds the budget 3" in message
    assert problems(pack, RULE_2, fed_by((QUEUE_ARN, 3), reserved=4, tags=budget)) == []


def test_stack_002_unknown_cap_is_never_a_violation(pack):
    case = fed_by((QUEUE_ARN, gate.UNKNOWN), (arn("sqs", "more-jobs"), None), reserved=2)
    assert problems(pack, RULE_2, case) == []


def test_stack_002_judges_queue_mappings_only(pack):
    kinds = ["sqs", "dynamodb"]
    case = fed_by((QUEUE_ARN, 2), (TABLE_STREAM, None), reserved=2)
    assert problems(pack, RULE_2, case, consumer_source_kinds=kinds) == []


def consumers(*functions: tuple[str, Any, Any]) -> Case:
    """One queue-fed function per (name, reserved concurrency, maximumConcurrency or None),
    in this order, each with its own queue mapping."""
    resources = []
    for name, reserved, cap in functions:
        resources.append(Resource(FUNCTION, name, {"reservedConcurrentExecutions": reserved}))
        mapping: dict[str, Any] = {"eventSourceArn": arn("sqs", f"{name}-jobs")}
        if cap is not None:
            mapping["scalingConfig"] = {"maximumConcurrency": cap}
        resources.append(
            Resource(ESM, f"{name}-mapping", mapping, depends={"functionName": (name,)})
        )
    return stack_case(*resources, subject=functions[-1][0])


def flagged(pack: Any, rule: Any, case: Case, **config: Any) -> dict[str, str]:
    """Function name -> its one finding's message."""
    found_ = findings_of(run_case(pack, rule, case, **config), rule)
    by_name = {f.urn.rsplit("::", 1)[1]: f.message for f in found_}
    assert len(by_name) == len(found_)
    return by_name


def test_skipped_consumers_do_not_hide_the_ones_after_them(pack):
    case = consumers(
        ("unknown", gate.UNKNOWN, None),
        ("unknown-cap", -1, gate.UNKNOWN),
        ("accepted", -1, 2),
        ("unset", -1, None),
    )
    assert list(flagged(pack, RULE, case, **ACCEPT)) == ["unset"]


def test_stack_002_skipped_or_reported_consumers_do_not_hide_the_ones_after_them(pack):
    case = consumers(
        ("zero", 0, None),
        ("unknown-cap", 4, gate.UNKNOWN),
        ("uncapped", 4, None),
        ("fine", 4, 2),
        ("over", 2, 3),
    )
    found_ = flagged(pack, RULE_2, case)
    assert sorted(found_) == ["over", "uncapped"]
    assert "SQS mapping uncapped-mapping sets no" in found_["uncapped"]
    assert "SQS maximumConcurrency 3 exceeds reserved concurrency 2" in found_["over"]


def test_caps_and_reservations_below_the_budget_pass(pack):
    budget = {THROTTLED_TAG: "5"}
    assert problems(pack, RULE, fed_by((QUEUE_ARN, 2), tags=budget), **ACCEPT) == []
    assert problems(pack, RULE, fed_by((QUEUE_ARN, None), reserved=2, tags=budget)) == []
    assert problems(pack, RULE_2, fed_by((QUEUE_ARN, 2), reserved=4, tags=budget)) == []


def test_accepted_caps_need_every_mapping_to_be_a_queue_whatever_its_caps(pack):
    # A stream mapping has no scalingConfig in AWS; given one here, it still does not count.
    mixed = fed_by((QUEUE_ARN, 2), (TABLE_STREAM, 2))
    kinds = ["sqs", "dynamodb"]
    (message,) = problems(pack, RULE, mixed, consumer_source_kinds=kinds, **ACCEPT)
    assert "(it drains a dynamodb source and a queue) has reserved concurrency unset" in message
