"""components.core.streams at its limits: every reader setting accepted at its edge and refused
one step past it, the five-pattern filter limit, and input templates' odd corners (issue #19)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from components.core import streams
from components.core.streams import PipeSourceSpec, StreamConsumer, StreamConsumerSpec, StreamPipe
from tests.components.test_streams import ESM, PIPE, Host, bus_target, consumer, stream_table
from tests.helpers import statements_of_role

# (setting, lowest accepted, highest accepted) for a Lambda mapping on a table stream.
CONSUMER_RANGES = [
    ("batch_size", 1, 10_000),
    ("batching_window_s", 0, 300),
    ("max_retries", 0, 10_000),
    ("max_record_age_s", 60, 604_800),
    ("parallelization_factor", 1, 10),
]


@pytest.mark.parametrize(("setting", "low", "high"), CONSUMER_RANGES)
@pytest.mark.parametrize("spec", [StreamConsumerSpec, PipeSourceSpec])
def test_reader_settings_are_accepted_at_their_edges_and_refused_past_them(
    spec: Any, setting: str, low: int, high: int
):
    extra = {"max_batch_size": 10_000} if spec is PipeSourceSpec else {}
    for value in (low, high):
        assert getattr(spec(**{setting: value}, **extra), setting) == value
    for value in (low - 1, high + 1):
        with pytest.raises(ValueError, match=f"{setting} must be between {low} and {high}"):
            spec(**{setting: value}, **extra)


def test_a_pipe_batch_is_bounded_by_its_target():
    assert PipeSourceSpec(batch_size=10, max_batch_size=10).batch_size == 10
    with pytest.raises(ValueError, match=r"batch_size must be between 1 and 10 \(got 11\)"):
        PipeSourceSpec(batch_size=11, max_batch_size=10)


@pytest.mark.parametrize("position", ["TRIM_HORIZON", "LATEST"])
def test_both_starting_positions_are_accepted(position: Any):
    assert StreamConsumerSpec(starting_position=position).starting_position == position
    assert PipeSourceSpec(starting_position=position).starting_position == position


@pytest.mark.parametrize("level", ["ERROR", "INFO", "TRACE"])
def test_every_pipe_log_level_is_accepted(level: Any):
    assert PipeSourceSpec(log_level=level).log_level == level


def test_the_iterator_age_alarm_needs_at_least_a_second():
    assert StreamConsumerSpec(iterator_age_alarm_s=1).iterator_age_alarm_s == 1
    with pytest.raises(ValueError, match=r"iterator_age_alarm_s must be at least 1 \(got 0\)"):
        StreamConsumerSpec(iterator_age_alarm_s=0)


# Filters ------------------------------------------------------------------------------------

PATTERN = {"dynamodb": {"NewImage": {"status": {"S": ["DONE"]}}}}


def test_five_filter_patterns_are_the_limit():
    assert len(streams.filter_patterns(None, [PATTERN] * 5)) == 5
    assert len(StreamConsumerSpec(patterns=(PATTERN,) * 5).filters()) == 5
    with pytest.raises(ValueError, match=r"at most 5 filter patterns \(got 6\)"):
        streams.filter_patterns(["INSERT"], [PATTERN] * 6)
    with pytest.raises(ValueError, match="at most 5 filter patterns"):
        PipeSourceSpec(patterns=(PATTERN,) * 6)


def test_event_names_come_in_the_streams_order_and_join_every_pattern():
    assert streams.filter_patterns(["REMOVE", "INSERT"]) == [{"eventName": ["INSERT", "REMOVE"]}]
    other = {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}}
    assert streams.filter_patterns(["MODIFY"], [PATTERN, other]) == [
        {"eventName": ["MODIFY"], **PATTERN},
        {"eventName": ["MODIFY"], **other},
    ]
    assert streams.filter_patterns(None, [PATTERN]) == [PATTERN]


@pytest.mark.parametrize("names", [["UPDATE"], ["INSERT", "insert"], []])
def test_unknown_or_no_event_names_are_refused(names: list[str]):
    with pytest.raises(ValueError, match="event_names must be a non-empty list of INSERT, MODIFY"):
        streams.filter_patterns(names)


def test_merging_names_the_path_both_patterns_constrain():
    left = {"dynamodb": {"NewImage": {"a": {"S": ["x"]}}}}
    right = {"dynamodb": {"NewImage": {"b": {"S": ["y"]}}, "Keys": {"pk": {"S": ["k"]}}}}
    assert streams.merge_patterns(left, right) == {
        "dynamodb": {
            "NewImage": {"a": {"S": ["x"]}, "b": {"S": ["y"]}},
            "Keys": {"pk": {"S": ["k"]}},
        }
    }
    assert left == {"dynamodb": {"NewImage": {"a": {"S": ["x"]}}}}  # inputs are not changed
    with pytest.raises(ValueError, match=r"both constrain \$\.eventName; combine them in one"):
        streams.merge_patterns({"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]})
    with pytest.raises(ValueError, match=r"both constrain \$\.dynamodb\.NewImage"):
        streams.merge_patterns({"dynamodb": {"NewImage": ["x"]}}, left)


# Input templates ----------------------------------------------------------------------------

RECORD = {"eventID": "e1", "dynamodb": {"Keys": {"pk": {"S": "a"}}, "Lines": [{"S": "x"}]}}


def test_a_placeholder_after_an_escaped_quote_is_still_inside_its_string():
    template = '{"a": "say \\"<$.eventID>\\"", "b": <$.dynamodb.Keys>}'
    assert streams.render_input_template(template, RECORD) == (
        '{"a": "say \\"e1\\"", "b": {"pk": {"S": "a"}}}'
    )
    assert streams.render_input_template('{"k": "<$.dynamodb.Keys>"}', RECORD) == (
        '{"k": "{\\"pk\\": {\\"S\\": \\"a\\"}}"}'
    )


def test_reserved_variables_are_filled_when_given_and_kept_when_not():
    template = '{"p": "<aws.pipes.pipe-arn>", "t": "<aws.pipes.target-arn>"}'
    rendered = streams.render_input_template(template, RECORD, {"aws.pipes.pipe-arn": "arn:p"})
    assert rendered == '{"p": "arn:p", "t": "<aws.pipes.target-arn>"}'
    with pytest.raises(KeyError, match=r"unknown reserved variable <aws\.pipes\.nope>"):
        streams.render_input_template('{"x": "<aws.pipes.nope>"}', RECORD)


def test_the_whole_event_is_text_or_json_by_its_variable():
    assert streams.render_input_template('{"e": "<aws.pipes.event>"}', {"a": 1}) == (
        '{"e": "{\\"a\\": 1}"}'
    )
    assert streams.render_input_template('{"e": <aws.pipes.event.json>}', {"a": 1}) == (
        '{"e": {"a": 1}}'
    )


@pytest.mark.parametrize(
    "path", ["$.dynamodb.Lines[1]", "$.dynamodb.Lines[0].N", "$.eventID.S", "$.missing"]
)
def test_a_path_not_in_the_record_is_named(path: str):
    with pytest.raises(KeyError, match=f"input template path {re.escape(path)} is not"):
        streams.render_input_template(f'{{"x": <{path}>}}', RECORD)


def test_templates_are_checked_with_sample_values():
    streams.check_input_template('{"n": <$.count>, "s": "<$.id>"}', "t", ["n", "s"])
    with pytest.raises(ValueError, match="t must set s, z"):
        streams.check_input_template('{"n": <$.count>}', "t", ["n", "s", "z"])
    # json's own wording: "Unterminated string starting at: line 1 column 7 (char 6)"
    with pytest.raises(
        ValueError, match=r"t must render to JSON \(Unterminated string .*\(char 6\)\)$"
    ):
        streams.check_input_template('{"n": "<$.id>}', "t")


# Defaults and wiring ------------------------------------------------------------------------


def test_the_specs_defaults():
    consumer_spec = StreamConsumerSpec()
    assert (
        consumer_spec.starting_position,
        consumer_spec.batch_size,
        consumer_spec.batching_window_s,
        consumer_spec.max_retries,
        consumer_spec.max_record_age_s,
        consumer_spec.parallelization_factor,
        consumer_spec.event_names,
        consumer_spec.patterns,
        consumer_spec.iterator_age_alarm_s,
    ) == ("TRIM_HORIZON", 100, 0, 5, 86_400, 1, None, (), 300)
    pipe_spec = PipeSourceSpec()
    assert (
        pipe_spec.starting_position,
        pipe_spec.batch_size,
        pipe_spec.max_batch_size,
        pipe_spec.batching_window_s,
        pipe_spec.max_retries,
        pipe_spec.max_record_age_s,
        pipe_spec.parallelization_factor,
        pipe_spec.event_names,
        pipe_spec.log_level,
    ) == ("LATEST", 1, 10_000, 0, 5, 3600, 1, ("INSERT",), "ERROR")
    assert PipeSourceSpec(batch_size=10_000).batch_size == 10_000
    with pytest.raises(ValueError, match="batch_size must be between 1 and 10000"):
        PipeSourceSpec(batch_size=10_001)


@pytest.mark.parametrize("spec", [StreamConsumerSpec, PipeSourceSpec])
def test_specs_are_keyword_only_values(spec: Any):
    with pytest.raises(TypeError):
        spec("LATEST")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec().batch_size = 5


def test_the_mapping_waits_for_its_policy_and_alarms_on_iterator_age(build):
    def program():
        consumer(Host("host"), stream_table(), batching_window_s=30, parallelization_factor=4)

    plan = build(program)
    mapping = plan.one(ESM)
    assert plan.one("aws:iam/rolePolicy:RolePolicy", "reader-policy").urn in mapping.dependencies
    assert mapping.inputs["batchSize"] == 100
    assert mapping.inputs["maximumBatchingWindowInSeconds"] == 30
    assert mapping.inputs["parallelizationFactor"] == 4
    assert "filterCriteria" not in mapping.inputs  # no event names, no patterns: no filter
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "reader-iterator-age")
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == ("AWS/Lambda", "IteratorAge")
    assert alarm.inputs["threshold"] == 300_000  # milliseconds
    assert alarm.inputs["evaluationPeriods"] == 5


def test_filter_patterns_are_sent_as_canonical_json(build):
    def program():
        consumer(Host("host"), stream_table(), event_names=("MODIFY",), patterns=(PATTERN,))

    (criteria,) = build(program).one(ESM).inputs["filterCriteria"]["filters"]
    assert criteria["pattern"] == (
        '{"dynamodb":{"NewImage":{"status":{"S":["DONE"]}}},"eventName":["MODIFY"]}'
    )


ENRICHMENT = "arn:aws:lambda:eu-west-1:123456789012:function:enrich"


def test_a_pipe_invokes_its_enrichment_only_when_given_one(build):
    def program():
        host = Host("host")
        table = stream_table()
        StreamPipe(host.scope, "plain", table, PipeSourceSpec(), bus_target())
        StreamPipe(
            host.scope,
            "enriched",
            table,
            PipeSourceSpec(),
            bus_target(),
            enrichment_arn=ENRICHMENT,
            enrichment_input_template='{"id": "<$.eventID>"}',
            description="orders to the bus",
        )

    plan = build(program)
    plain, enriched = plan.one(PIPE, "plain").inputs, plan.one(PIPE, "enriched").inputs
    assert "enrichment" not in plain and "enrichmentParameters" not in plain
    assert "description" not in plain
    assert enriched["enrichment"] == ENRICHMENT
    assert enriched["enrichmentParameters"] == {"inputTemplate": '{"id": "<$.eventID>"}'}
    assert enriched["description"] == "orders to the bus"
    invoke = [
        s for s in statements_of_role(plan, "plain-role") if "lambda:InvokeFunction" in s["Action"]
    ]
    assert invoke == []
    invoke = [
        s
        for s in statements_of_role(plan, "enriched-role")
        if "lambda:InvokeFunction" in s["Action"]
    ]
    assert [s["Resource"] for s in invoke] == [ENRICHMENT]


def test_readers_take_their_failure_queue_by_name(build):
    def program():
        host = Host("host")
        table = stream_table()
        shared = streams.FailureQueue(host.scope, "shared-dlq")
        with pytest.raises(TypeError):
            StreamConsumer(host.scope, "r", table, StreamConsumerSpec(), shared)  # type: ignore[misc]
        with pytest.raises(TypeError):
            StreamPipe(host.scope, "p", table, PipeSourceSpec(), bus_target(), shared)  # type: ignore[misc]

    build(program)


def test_a_template_that_starts_with_a_string_quotes_its_placeholder_as_text():
    assert streams.render_input_template('"<$.eventID>"', RECORD) == '"e1"'
    assert streams.render_input_template("<aws.pipes.event>", {"a": 1}) == '"{\\"a\\": 1}"'


def test_a_pipe_target_is_an_immutable_value():
    target = bus_target()
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.arn = "arn:aws:events:eu-west-1:123456789012:event-bus/other"  # type: ignore[misc]
