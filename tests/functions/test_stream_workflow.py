"""stream-workflow behaviour: the loop guard on real stream records, the definition under the
ASL checks and in moto's Step Functions interpreter (write-back included), the example steps.

The records the filter is tested on are the ones moto's DynamoDB stream produces for the
test's own put and for the state machine's write-back, so the guard is checked against the
exact attribute types the write-back uses. moto's EventBridge `TestEventPattern` is not
implemented, so filters go through `moto.events.models.EventPattern`, the matcher behind it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from moto.events.models import EventPattern
from statelint.linter import Linter

from components.core import streams
from components.stream_workflow import (
    EXAMPLE_TEMPLATE,
    EXAMPLE_WRITEBACK,
    StreamWorkflowArgs,
    Writeback,
    workflow_definition,
)
from serverless_wa.asl import check
from tests import workflows

TABLE = "launches"
REGION = "eu-west-1"
FUNCTIONS = {
    "collect": f"arn:aws:lambda:{REGION}:123456789012:function:collect",
    "price": f"arn:aws:lambda:{REGION}:123456789012:function:price",
}
COMPLETE = {"dynamodb": {"NewImage": {"status": {"S": ["COMPLETE"]}}}}
LAUNCH = {
    "pk": {"S": "LAUNCH#2026-03-01-001"},
    "sk": {"S": "LAUNCH"},
    "status": {"S": "COMPLETE"},
    "instanceType": {"S": "c6g.4xlarge"},
    "instanceCount": {"N": "4"},
    "runtimeHours": {"N": "2.5"},
    "volumeGb": {"N": "500"},
    "filesystemGb": {"N": "1200"},
}
KEY = {"pk": LAUNCH["pk"], "sk": LAUNCH["sk"]}


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(record)


class Stream:
    """The table's stream as moto keeps it: every record since the table was created."""

    def __init__(self, stream_arn: str) -> None:
        # botocore sends stream calls to the account's `<account>.streams-ddb.<region>`
        # endpoint, which moto 5.2.5 does not serve; the regional endpoint it does.
        self.client = boto3.client(
            "dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
        )
        self.arn = stream_arn
        self.seen = 0

    def new_records(self) -> list[dict[str, Any]]:
        shard = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]
        iterator = self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = self.client.get_records(ShardIterator=iterator)["Records"]
        fresh, self.seen = records[self.seen :], len(records)
        # What Pipes filter and transform: the record as JSON (times as epoch seconds).
        return [json.loads(json.dumps(r, default=lambda t: t.timestamp())) for r in fresh]


@pytest.fixture
def cloud():
    with mock_aws(config=workflows.INTERPRETER):
        client = boto3.client("dynamodb")
        table = client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        yield Stream(table["TableDescription"]["LatestStreamArn"])


def queue_lambda_results(*results: dict[str, Any]) -> None:
    """moto's docker-free Lambda returns these, in order, to the next invocations."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
        json={"results": [json.dumps(r) for r in results], "region": REGION},
    )
    assert response.status_code == 201


def item() -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key=KEY)["Item"]


def pipe_input(args: StreamWorkflowArgs, record: dict[str, Any]) -> list[dict[str, Any]]:
    """What the pipe sends the machine: the batch (of one) of transformed records."""
    return [json.loads(streams.render_input_template(args.input_template, record))]


@pytest.fixture
def example_steps(load_function):
    return load_function("stream-workflow", "costs")


def test_definition_passes_the_asl_checks_and_statelint():
    for args in (
        StreamWorkflowArgs(filter=COMPLETE),
        StreamWorkflowArgs(filter=COMPLETE, wait_seconds=600),
        StreamWorkflowArgs(writeback=None, input_template='{"Keys": <$.dynamodb.Keys>}'),
    ):
        definition = workflow_definition(args, functions=FUNCTIONS, table_name=TABLE)
        assert check(definition, workflow_type="STANDARD") == []
        assert Linter.validate(definition) == []


def test_every_failure_leads_to_mark_failed_then_fail():
    """Structurally, since moto's stub Lambdas cannot fail."""
    states = workflow_definition(
        StreamWorkflowArgs(filter=COMPLETE), functions=FUNCTIONS, table_name=TABLE
    )["States"]
    for step in ("collect", "price"):
        assert states[step]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}
        ]
    assert [c["Next"] for c in states["WriteBack"]["Catch"]] == ["AlreadyRecorded", "MarkFailed"]
    assert states["WriteBack"]["Catch"][0]["ErrorEquals"] == [
        "DynamoDB.ConditionalCheckFailedException"
    ]
    marked = states["MarkFailed"]
    assert marked["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"
    assert marked["Parameters"]["ExpressionAttributeNames"]["#failure"] == "workflowFailure"
    assert {c["Next"] for c in marked["Catch"]} == {"AlreadyRecorded", "Failed"}


def test_write_back_records_the_result_and_its_record_does_not_pass_the_filter(
    cloud, example_steps
):
    args = StreamWorkflowArgs(filter=COMPLETE)
    pipe_filter = args.pipe_filter()
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=LAUNCH)
    (inserted,) = cloud.new_records()
    assert inserted["eventName"] == "INSERT"
    assert matches(pipe_filter, inserted)  # a finished launch without a price starts a run

    payload = pipe_input(args, inserted)
    usage = example_steps.usage(payload[0])
    breakdown = example_steps.price(usage)
    queue_lambda_results(usage, breakdown)
    machine = workflows.create_machine(
        workflow_definition(args, functions=FUNCTIONS, table_name=TABLE)
    )
    execution = workflows.start(machine, "first", payload)
    assert workflows.wait(execution)["status"] == "SUCCEEDED"
    assert workflows.entered(execution) == ["Record", "collect", "price", "WriteBack", "Done"]

    recorded = item()
    assert recorded["totalCost"] == {"S": breakdown["totalCost"]} == {"S": "6.17"}
    assert recorded["instanceCost"] == {"S": "5.44"}
    (written_back,) = cloud.new_records()
    assert written_back["eventName"] == "MODIFY"
    assert written_back["dynamodb"]["NewImage"]["totalCost"] == {"S": "6.17"}
    # The loop guard: the write-back's own record is filtered out.
    assert not matches(pipe_filter, written_back)
    # A guard on the wrong type key would have let it through: S vs N matters.
    wrong_key = streams.merge_patterns(
        COMPLETE, {"dynamodb": {"NewImage": {"totalCost": {"N": [{"exists": False}]}}}}
    )
    assert matches(wrong_key, written_back)


def test_a_duplicate_execution_succeeds_through_the_conditional_check(cloud, example_steps):
    args = StreamWorkflowArgs(filter=COMPLETE)
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=LAUNCH)
    (inserted,) = cloud.new_records()
    payload = pipe_input(args, inserted)
    usage = example_steps.usage(payload[0])
    queue_lambda_results(usage, example_steps.price(usage))
    machine = workflows.create_machine(
        workflow_definition(args, functions=FUNCTIONS, table_name=TABLE)
    )
    assert workflows.run(machine, "first", payload)["status"] == "SUCCEEDED"
    first = item()

    # The pipe is at-least-once: the same record starts a second run, whose steps (here fed
    # different results) must not overwrite the recorded ones.
    queue_lambda_results(usage, {**example_steps.price(usage), "totalCost": "999.99"})
    second = workflows.start(machine, "second", payload)
    assert workflows.wait(second)["status"] == "SUCCEEDED"
    assert workflows.entered(second)[-2:] == ["WriteBack", "AlreadyRecorded"]
    assert item() == first
    cloud.new_records()  # the first write-back
    assert cloud.new_records() == []  # the second wrote nothing


def test_a_dynamodb_failure_marks_the_item_and_the_mark_does_not_retrigger(cloud):
    writeback = Writeback(
        guard_attribute="totalCost",
        set_expression="SET totalCost = :total, runs = runs + :one",
        values={":total": {"S": "$.results.price.output.totalCost"}, ":one": {"N": "1"}},
    )
    args = StreamWorkflowArgs(filter=COMPLETE, writeback=writeback)
    # Bad data on the item: DynamoDB refuses `runs + 1` on a string.
    boto3.client("dynamodb").put_item(TableName=TABLE, Item={**LAUNCH, "runs": {"S": "three"}})
    (inserted,) = cloud.new_records()
    queue_lambda_results({"usage": 1}, {"totalCost": "1.00"})
    machine = workflows.create_machine(
        workflow_definition(args, functions=FUNCTIONS, table_name=TABLE)
    )
    execution = workflows.start(machine, "bad-data", pipe_input(args, inserted))
    assert workflows.wait(execution)["status"] == "FAILED"
    assert workflows.entered(execution)[-3:] == ["WriteBack", "MarkFailed", "Failed"]
    marked = item()
    assert "totalCost" not in marked
    assert marked["workflowFailure"]["S"].startswith("DynamoDB.")
    (mark,) = cloud.new_records()
    assert not matches(args.pipe_filter(), mark)  # a failure is not retried forever


def test_the_filter_rejects_removals_and_unfinished_items(cloud):
    pipe_filter = StreamWorkflowArgs(filter=COMPLETE).pipe_filter()
    client = boto3.client("dynamodb")
    client.put_item(TableName=TABLE, Item={**LAUNCH, "status": {"S": "RUNNING"}})
    client.delete_item(TableName=TABLE, Key=KEY)
    running, removed = cloud.new_records()
    assert removed["eventName"] == "REMOVE"
    assert not matches(pipe_filter, running)
    assert not matches(pipe_filter, removed)


def test_a_guard_type_mismatch_is_refused_at_construction():
    with pytest.raises(ValueError, match="writes 'totalCost' as S but guard_type is N"):
        Writeback(
            guard_attribute="totalCost",
            guard_type="N",
            set_expression="SET totalCost = :total",
            values={":total": {"S": "$.results.price.output.totalCost"}},
        )


def test_example_steps_are_deterministic_and_typed(load_function, lambda_context):
    steps = load_function("stream-workflow", "steps")
    record = {
        "launchId": "LAUNCH#1",
        "instanceType": "c6g.4xlarge",
        "instanceCount": "4",
        "runtimeHours": "2.5",
        "volumeGb": "500",
        "filesystemGb": "1200",
    }
    usage = steps.collect({"record": record, "results": {}}, lambda_context)
    assert usage == {
        "launchId": "LAUNCH#1",
        "instanceType": "c6g.4xlarge",
        "instanceHours": "10.0",
        "volumeGbHours": "1250.0",
        "filesystemGbHours": "3000.0",
    }
    state = {"record": record, "results": {"collect": {"output": usage}}}
    breakdown = steps.price(state, lambda_context)
    assert breakdown == steps.price(state, lambda_context)
    assert breakdown == {
        "totalCost": "6.17",
        "instanceCost": "5.44",
        "volumeCost": "0.14",
        "filesystemCost": "0.60",
    }
    parts = sum(Decimal(breakdown[k]) for k in ("instanceCost", "volumeCost", "filesystemCost"))
    assert abs(Decimal(breakdown["totalCost"]) - parts) <= Decimal("0.02")  # rounding only
    json.dumps(breakdown)  # no Decimal escapes
    unknown = {
        "record": record,
        "results": {"collect": {"output": {**usage, "instanceType": "x1.32xlarge"}}},
    }
    with pytest.raises(steps.costs.PriceUnavailable):
        steps.price(unknown, lambda_context)
    with pytest.raises(steps.costs.UsageMissing):
        steps.collect({"record": {"instanceType": "c6g.4xlarge"}, "results": {}}, lambda_context)


def test_example_writeback_guards_on_the_attribute_it_writes():
    # The seed's filter tested `totalCost` while its output wrote `total_cost`.
    assert "totalCost = :total" in EXAMPLE_WRITEBACK.set_expression
    assert EXAMPLE_WRITEBACK.guard_pattern()["dynamodb"]["NewImage"]["totalCost"] == {
        "S": [{"exists": False}]
    }


EXACT = "12345678901234567890.123456789"  # more digits than a float, or Python's default 28
TYPED_TEMPLATE = (
    '{"Keys": <$.dynamodb.Keys>, "launchId": "<$.dynamodb.Keys.pk.S>", '
    '"instanceType": "<$.dynamodb.NewImage.instanceType.S>", '
    '"instanceCount": <$.dynamodb.NewImage.instanceCount>, '
    '"runtimeHours": <$.dynamodb.NewImage.runtimeHours>, '
    '"volumeGb": <$.dynamodb.NewImage.volumeGb>, '
    '"filesystemGb": <$.dynamodb.NewImage.filesystemGb>, '
    '"checksums": <$.dynamodb.NewImage.checksums>, "owner": <$.dynamodb.NewImage.owner>}'
)


def log_records(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if "level" in line]


@pytest.mark.parametrize("template", [EXAMPLE_TEMPLATE, TYPED_TEMPLATE])
def test_collect_keeps_every_digit_of_a_real_record(
    load_function, load_event, lambda_context, template
):
    """A record with a binary sort key, sets, maps and lists, and figures beyond a float,
    rendered by the example template (figures as text) or one passing typed attributes."""
    steps = load_function("stream-workflow", "steps")
    record = load_event("stream-workflow", "launch-insert")
    args = StreamWorkflowArgs(filter=COMPLETE, input_template=template)
    assert matches(args.pipe_filter(), record)
    (transformed,) = pipe_input(args, record)
    usage = steps.collect({"record": transformed, "results": {}}, lambda_context)
    assert usage == {
        "launchId": "LAUNCH#2026-03-01-002",
        "instanceType": "c6g.4xlarge",
        "instanceHours": EXACT,
        "volumeGbHours": "6172839450617283945.0617283945",
        "filesystemGbHours": "24691357802469135780.246913578",
    }


@pytest.mark.parametrize(
    ("figure", "error", "attribute"),
    [
        ("NaN", "InvalidAttributeError", "runtimeHours"),
        ({"N": "12.3.4"}, "InvalidAttributeError", "runtimeHours"),
        ({"S": "2.5"}, "InvalidAttributeError", "runtimeHours"),
        ("", "InvalidAttributeError", "runtimeHours"),
        (None, "UsageMissing", None),
    ],
)
def test_a_bad_figure_fails_the_step_with_one_error_line(
    load_function, lambda_context, capsys, figure, error, attribute
):
    steps = load_function("stream-workflow", "steps")
    keys = {"pk": {"S": "LAUNCH#1"}, "sk": {"B": "3q2+7w=="}}
    record = {
        "Keys": keys,
        "launchId": "LAUNCH#1",
        "instanceType": "c6g.4xlarge",
        "instanceCount": "4",
        "volumeGb": "500",
        "filesystemGb": "1200",
    }
    if figure is not None:
        record["runtimeHours"] = figure
    with pytest.raises(Exception) as raised:  # its exact type is asserted below
        steps.collect({"record": record, "results": {}}, lambda_context)
    assert type(raised.value).__name__ == error  # the name Retry and Catch match
    assert getattr(raised.value, "attribute", None) == attribute
    failed = [
        {k: line.get(k) for k in ("message", "exception_name", "keys", "launchId")}
        for line in log_records(capsys.readouterr().out)
        if line["level"] == "ERROR"
    ]
    assert failed == [
        {"message": "Step failed", "exception_name": error, "keys": keys, "launchId": "LAUNCH#1"}
    ]
