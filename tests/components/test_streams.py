"""The stream-reading block: mapping and pipe defaults, the two-reader limit, filters, templates."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.core import iam, packaging, streams
from components.core.function import FunctionSpec, LambdaFunction
from components.core.scope import Scope
from components.core.settings import Settings
from components.core.streams import (
    FailureQueue,
    PipeSourceSpec,
    PipeTarget,
    StreamConsumer,
    StreamConsumerSpec,
    StreamPipe,
)
from tests.helpers import statements_of_role

ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
PIPE = "aws:pipes/pipe:Pipe"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
BUS = "arn:aws:events:eu-west-1:123456789012:event-bus/orders"


class Host(pulumi.ComponentResource):
    """A bare component to own the block's resources."""

    def __init__(self, name: str) -> None:
        super().__init__("test:index:Host", name, None, None)
        self.scope = Scope(self, name, Settings())


def stream_table(name: str = "orders") -> aws.dynamodb.Table:
    return aws.dynamodb.Table(
        name,
        hash_key="pk",
        attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
        billing_mode="PAY_PER_REQUEST",
        stream_enabled=True,
        stream_view_type="NEW_AND_OLD_IMAGES",
    )


def consumer(host: Host, table, suffix: str = "reader", **spec) -> StreamConsumer:
    reader = StreamConsumer(host.scope, suffix, table, StreamConsumerSpec(**spec))
    function = LambdaFunction(
        host.scope,
        suffix,
        FunctionSpec(handler="archiver.handler"),
        package=packaging.build("table_archive"),
        statements=reader.statements,
        service="test",
    )
    reader.attach(function)
    return reader


def bus_target() -> PipeTarget:
    return PipeTarget(
        arn=BUS,
        parameters=aws.pipes.PipeTargetParametersArgs(
            eventbridge_event_bus_parameters=aws.pipes.PipeTargetParametersEventbridgeEventBusParametersArgs(
                detail_type="OrderPlaced", source="app.orders"
            )
        ),
        statements=[iam.Statement(["events:PutEvents"], [BUS])],
    )


def pipe(host: Host, table, suffix: str = "pipe", **spec) -> StreamPipe:
    return StreamPipe(host.scope, suffix, table, PipeSourceSpec(**spec), bus_target())


def test_mapping_defaults(build):
    def program():
        consumer(Host("host"), stream_table(), event_names=("INSERT",))

    plan = build(program)
    mapping = plan.one(ESM).inputs
    dlq = plan.one(QUEUE, "reader-dlq")
    assert mapping["startingPosition"] == "TRIM_HORIZON"
    assert mapping["bisectBatchOnFunctionError"] is True
    assert (mapping["maximumRetryAttempts"], mapping["maximumRecordAgeInSeconds"]) == (5, 86400)
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["destinationConfig"]["onFailure"]["destinationArn"] == dlq.outputs["arn"]
    assert [json.loads(f["pattern"]) for f in mapping["filterCriteria"]["filters"]] == [
        {"eventName": ["INSERT"]}
    ]
    assert dlq.inputs["messageRetentionSeconds"] == 1_209_600  # 14 days, the SQS maximum
    alarms = {a.name for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {"host-reader-dlq-depth", "host-reader-iterator-age"} <= alarms
    stream = plan.one(TABLE).outputs["streamArn"]
    by_action = {tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "reader-role")}
    assert by_action[("sqs:SendMessage",)] == dlq.outputs["arn"]
    assert stream in by_action.values()


def test_pipe_defaults(build):
    def program():
        pipe(
            Host("host"),
            stream_table(),
            patterns=({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}},),
        )

    plan = build(program)
    piped = plan.one(PIPE)
    inputs = piped.inputs
    source = inputs["sourceParameters"]["dynamodbStreamParameters"]
    dlq = plan.one(QUEUE, "pipe-dlq")
    assert inputs["source"] == plan.one(TABLE).outputs["streamArn"]
    assert source["startingPosition"] == "LATEST"
    assert source["onPartialBatchItemFailure"] == "AUTOMATIC_BISECT"
    assert (source["maximumRetryAttempts"], source["maximumRecordAgeInSeconds"]) == (5, 3600)
    assert source["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    assert [
        json.loads(f["pattern"]) for f in inputs["sourceParameters"]["filterCriteria"]["filters"]
    ] == [{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}}]
    log_group = plan.one("aws:cloudwatch/logGroup:LogGroup", "pipe-logs")
    assert log_group.inputs["name"] == f"/aws/vendedlogs/pipes/{inputs['name']}"
    assert log_group.inputs["retentionInDays"] == 30
    assert inputs["logConfiguration"] == {
        "level": "ERROR",
        "cloudwatchLogsLogDestination": {"logGroupArn": log_group.outputs["arn"]},
    }
    role = plan.one("aws:iam/role:Role", "pipe-role")
    assert inputs["roleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    by_action = {tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "pipe-role")}
    assert by_action[("events:PutEvents",)] == BUS
    assert by_action[("sqs:SendMessage",)] == dlq.outputs["arn"]
    assert by_action[("logs:CreateLogStream", "logs:PutLogEvents")] == (
        f"{log_group.outputs['arn']}:log-stream:*"
    )
    assert plan.one("aws:iam/rolePolicy:RolePolicy", "pipe-policy").urn in piped.dependencies


def test_a_third_reader_is_refused_at_construction(build):
    def program():
        table = stream_table()
        host = Host("host")
        consumer(host, table, "archiver")
        pipe(host, table, "events")
        assert streams.stream_readers(table) == ("host/archiver", "host/events")
        with pytest.raises(ValueError) as error:
            pipe(host, table, "third")
        message = str(error.value)
        assert "table 'orders' allows at most 2 stream readers" in message
        assert "host/third needs 1 and 2 are taken (host/archiver, host/events)" in message
        with pytest.raises(ValueError, match="at most 2 stream readers"):
            consumer(host, table, "fourth")
        # Another table has its own two slots.
        pipe(host, stream_table("other"), "other")

    plan = build(program)
    assert sorted(p.name for p in plan.of_type(PIPE)) == ["host-events", "host-other"]
    assert len(plan.of_type(ESM)) == 1


def test_claims_do_not_leak_between_programs(build):
    def program():
        table = stream_table()
        host = Host("host")
        pipe(host, table, "one")
        pipe(host, table, "two")

    # The same program (same table name and URN) twice: each run starts with free slots.
    build(program)
    assert len(build(program).of_type(PIPE)) == 2


def test_capacity_check_counts_what_a_component_needs():
    table = object.__new__(aws.dynamodb.Table)
    streams.ensure_reader_capacity(table, "two-pipes", readers=2)
    streams.claim_stream_reader(table, "archive/archiver")
    with pytest.raises(ValueError, match="two-pipes needs 2 and 1 are taken"):
        streams.ensure_reader_capacity(table, "two-pipes", readers=2)


def test_one_failure_queue_can_serve_several_readers(build):
    def program():
        host = Host("host")
        shared = FailureQueue(host.scope, "events-dlq")
        table = stream_table()
        for suffix in ("a", "b"):
            StreamPipe(
                host.scope, suffix, table, PipeSourceSpec(), bus_target(), failure_queue=shared
            )

    plan = build(program)
    (queue,) = plan.of_type(QUEUE)
    for piped in plan.of_type(PIPE):
        params = piped.inputs["sourceParameters"]["dynamodbStreamParameters"]
        assert params["deadLetterConfig"]["arn"] == queue.outputs["arn"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"starting_position": "AT_TIMESTAMP"}, "starting_position must be one of TRIM_HORIZON"),
        ({"batch_size": 10_001}, "batch_size must be between 1 and 10000"),
        ({"max_retries": -1}, "max_retries must be between 0 and 10000"),
        ({"max_record_age_s": -1}, "max_record_age_s must be between 60 and 604800"),
        ({"parallelization_factor": 11}, "parallelization_factor must be between 1 and 10"),
        ({"event_names": ()}, "event_names must be a non-empty list"),
        ({"iterator_age_alarm_s": 0}, "iterator_age_alarm_s must be at least 1"),
    ],
)
def test_consumer_spec_ranges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StreamConsumerSpec(**kwargs)


def test_pipe_spec_ranges():
    with pytest.raises(ValueError, match="log_level must be one of ERROR, INFO, TRACE"):
        PipeSourceSpec(log_level="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size must be between 1 and 10"):
        PipeSourceSpec(batch_size=11, max_batch_size=10)


def test_filter_patterns_and_each_pattern_with_the_event_names():
    assert streams.filter_patterns(None) == []
    assert streams.filter_patterns(["MODIFY", "INSERT", "INSERT"]) == [
        {"eventName": ["INSERT", "MODIFY"]}
    ]
    order = {"dynamodb": {"NewImage": {"type": {"S": ["Order"]}}}}
    guard = {"dynamodb": {"NewImage": {"cost": {"S": [{"exists": False}]}}}}
    merged = streams.filter_patterns(["INSERT"], [streams.merge_patterns(order, guard)])
    assert merged == [
        {
            "eventName": ["INSERT"],
            "dynamodb": {
                "NewImage": {"type": {"S": ["Order"]}, "cost": {"S": [{"exists": False}]}}
            },
        }
    ]
    with pytest.raises(ValueError, match=r"both constrain \$.dynamodb.NewImage.type"):
        streams.merge_patterns(order, order)
    with pytest.raises(ValueError, match="at most 5 filter patterns"):
        streams.filter_patterns(None, [order] * 6)


RECORD = {
    "eventID": "7f9c",
    "eventName": "INSERT",
    "dynamodb": {
        "Keys": {"pk": {"S": 'ORDER#"1"'}},
        "NewImage": {"total": {"N": "12.5"}, "lines": {"L": [{"S": "a"}]}},
    },
}


def test_render_input_template_quotes_scalars_and_embeds_objects():
    template = (
        '{"orderId": "<$.dynamodb.Keys.pk.S>", "total": "<$.dynamodb.NewImage.total.N>", '
        '"lines": <$.dynamodb.NewImage.lines.L>, "first": "<$.dynamodb.NewImage.lines.L[0].S>", '
        '"sourceEventId": "<$.eventID>", "pipe": "<aws.pipes.pipe-name>", "n": <$.eventName>}'
    )
    rendered = json.loads(
        streams.render_input_template(template, RECORD, {"aws.pipes.pipe-name": "p1"})
    )
    assert rendered == {
        "orderId": 'ORDER#"1"',
        "total": "12.5",
        "lines": [{"S": "a"}],
        "first": "a",
        "sourceEventId": "7f9c",
        "pipe": "p1",
        "n": "INSERT",
    }
    assert json.loads(streams.render_input_template("<aws.pipes.event.json>", RECORD)) == RECORD
    with pytest.raises(KeyError, match=r"\$.dynamodb.OldImage is not in the record"):
        streams.render_input_template('{"old": <$.dynamodb.OldImage>}', RECORD)


def test_check_input_template():
    streams.check_input_template('{"sourceEventId": "<$.eventID>"}', "t", ["sourceEventId"])
    with pytest.raises(ValueError, match="t must render to JSON"):
        streams.check_input_template('{"a": <$.eventID>,}', "t")
    with pytest.raises(ValueError, match="t must set sourceEventId"):
        streams.check_input_template('{"a": "<$.eventID>"}', "t", ["sourceEventId"])
    with pytest.raises(ValueError, match="t must render to a JSON object"):
        streams.check_input_template('"<$.eventID>"', "t")
