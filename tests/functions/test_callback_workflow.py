"""callback-workflow end to end in moto: the definition runs in the interpreter, the real
`starter` and `poller` handlers (with the fake job adapter) answer its task token.

The interpreter runs the SQS `.waitForTaskToken` task, the DynamoDB tasks, the S3
ItemReader and ResultWriter of the Distributed Map; its Lambda tasks only echo, so
`process_file` is tested on its own against moto S3 and DynamoDB.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from components.callback_workflow.definition import (
    EPOCH,
    WorkflowNames,
    WorkflowSettings,
    definition,
)
from tests import workflows
from tests.functions.conftest import EVENTS_DIR, REGION

PATTERN = "callback-workflow"
JOB = "exports"
BUCKET = "callback-workflow-test-results"
RUNS = "callback-workflow-test-runs"
RECORDS = "callback-workflow-test-records"
PROCESS_FILE = "arn:aws:lambda:eu-west-1:123456789012:function:process-file"
SOURCE = "serverless-patterns.test"
RUN_ID = "2026-01-01T02:00:00Z"

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]

pytestmark = pytest.mark.disable_socket


def settings(**overrides: Any) -> WorkflowSettings:
    values: dict[str, Any] = {
        "heartbeat_s": 300,
        "job_timeout_s": 3600,
        "timeout_s": 7200,
        "map_max_concurrency": 4,
        "tolerated_failure_pct": 0,
        # moto's grammar rejects `ExecutionType: EXPRESS`; the component's default is STANDARD.
        "child_execution_type": "STANDARD",
        "process_file_timeout_s": 300,
    }
    values.update(overrides)
    return WorkflowSettings(**values)


@dataclass
class World:
    machine: str
    start_queue: str
    poll_queue: str
    starter: ModuleType
    poller: ModuleType
    template: dict[str, Any]

    def run_item(self, run_id: str = RUN_ID) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            boto3.resource("dynamodb")
            .Table(RUNS)
            .get_item(Key={"jobName": JOB, "runId": run_id}, ConsistentRead=True)
            .get("Item")
        )
        return item

    def watermark(self) -> dict[str, Any] | None:
        return self.run_item("watermark")

    def take(self, queue: str) -> list[dict[str, Any]]:
        """Lambda SQS records for the messages on `queue`, deleted as the mapping would."""
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        records = []
        for message in messages:
            record = copy.deepcopy(self.template)
            record.update(
                messageId=message["MessageId"],
                receiptHandle=message["ReceiptHandle"],
                body=message["Body"],
            )
            records.append(record)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return records

    def await_message(self, queue: str) -> list[dict[str, Any]]:
        """The state machine sends from its own thread: wait for its message to land."""
        deadline = time.monotonic() + workflows.DEADLINE_S
        while time.monotonic() < deadline:
            records = self.take(queue)
            if records:
                return records
            time.sleep(0.01)
        raise AssertionError(f"no message on {queue}")

    def feed(self, module: ModuleType, records: list[dict[str, Any]], context: Any) -> list[str]:
        response = module.handler({"Records": records}, context)
        return [f["itemIdentifier"] for f in response["batchItemFailures"]]


@pytest.fixture
def world(
    load_function: LoadFunction,
    load_event: LoadEvent,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[World]:
    """Indirect parameters: definition settings, plus `env` for the fake job adapter."""
    overrides = dict(getattr(request, "param", {}))
    job_env = overrides.pop("env", {})
    with mock_aws(config=workflows.INTERPRETER):
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=RUNS,
            KeySchema=[
                {"AttributeName": "jobName", "KeyType": "HASH"},
                {"AttributeName": "runId", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "jobName", "AttributeType": "S"},
                {"AttributeName": "runId", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        sqs = boto3.client("sqs")
        start_queue = sqs.create_queue(QueueName="start")["QueueUrl"]
        poll_queue = sqs.create_queue(QueueName="poll")["QueueUrl"]
        names = WorkflowNames(
            job_name=JOB,
            runs_table=RUNS,
            start_queue_url=start_queue,
            results_bucket=BUCKET,
            process_file_arn=PROCESS_FILE,
            source=SOURCE,
        )
        machine = workflows.create_machine(definition(names, settings(**overrides)), "runs")
        for name, value in {
            "JOB_ADAPTER": "fake_job",
            "RUNS_TABLE": RUNS,
            "JOB_NAME": JOB,
            "POLL_QUEUE_URL": poll_queue,
            "POLL_INTERVAL_S": "0",
            "RESULTS_BUCKET": BUCKET,
            "FAKE_JOB_POLLS": "2",
            **job_env,
        }.items():
            monkeypatch.setenv(name, value)
        yield World(
            machine=machine,
            start_queue=start_queue,
            poll_queue=poll_queue,
            starter=load_function(PATTERN, "starter"),
            poller=load_function(PATTERN, "poller"),
            template=load_event(PATTERN, "sqs-record"),
        )


def poll_until_done(world: World, execution: str, context: Any) -> list[str]:
    """Feed poll messages to the poller until the execution ends; the states it reported."""
    reported = []
    deadline = time.monotonic() + workflows.DEADLINE_S
    while (
        boto3.client("stepfunctions").describe_execution(executionArn=execution)["status"]
        == "RUNNING"
    ):
        records = world.take(world.poll_queue)
        if records:
            assert world.feed(world.poller, records, context) == []
            reported.append(len(records))
        elif time.monotonic() > deadline:
            raise AssertionError("the execution did not finish")
        else:
            time.sleep(0.01)
    return reported


def start_run(world: World, run_id: str = RUN_ID, name: str = "run-1") -> str:
    return workflows.start(world.machine, name, {"runId": run_id})


# The happy path -----------------------------------------------------------------------------


def test_a_run_goes_from_schedule_to_processed_files_and_moves_the_watermark(world, lambda_context):
    execution = start_run(world)
    (start_message,) = world.await_message(world.start_queue)
    body = json.loads(start_message["body"])
    assert set(body) == {"token", "jobName", "runId", "since"}
    assert (body["runId"], body["since"]) == (RUN_ID, EPOCH)  # no watermark yet
    assert world.run_item()["status"] == "RUNNING"

    assert world.feed(world.starter, [start_message], lambda_context) == []
    job_id = world.run_item()["jobId"]
    assert job_id.startswith("fake-")

    # Two RUNNING checks (each a heartbeat and a new poll message), then COMPLETED.
    checks = poll_until_done(world, execution, lambda_context)
    assert len(checks) == 3
    result = workflows.wait(execution)
    assert result["status"] == "SUCCEEDED", result.get("cause")

    run = world.run_item()
    assert run["status"] == "SUCCEEDED"
    assert run["jobId"] == job_id
    assert run["outputPrefix"] == f"exports/{job_id}/"
    assert run["executionArn"] == execution
    watermark = world.watermark()
    assert watermark["since"] == run["startedAt"]
    assert watermark["lastRunId"] == RUN_ID
    assert "activeRun" not in watermark

    # The Distributed Map read the job's files from S3 and wrote its results there.
    map_run = boto3.client("stepfunctions").list_map_runs(executionArn=execution)["mapRuns"]
    described = boto3.client("stepfunctions").describe_map_run(mapRunArn=map_run[0]["mapRunArn"])
    assert described["itemCounts"]["succeeded"] == 2  # FAKE_JOB_FILES
    manifest = boto3.client("s3").get_object(Bucket=BUCKET, Key=run["resultsManifest"])
    assert run["resultsManifest"].startswith("results/")
    assert json.loads(manifest["Body"].read())

    # The next run starts its window where this one started.
    second = start_run(world, "2026-01-02T02:00:00Z", "run-2")
    (message,) = world.await_message(world.start_queue)
    assert json.loads(message["body"])["since"] == run["startedAt"]
    boto3.client("stepfunctions").stop_execution(executionArn=second)


def test_a_late_success_after_the_workflow_finished_is_dropped(world, lambda_context):
    execution = start_run(world)
    (start_message,) = world.await_message(world.start_queue)
    world.feed(world.starter, [start_message], lambda_context)
    poll_until_done(world, execution, lambda_context)
    token = json.loads(start_message["body"])["token"]
    stale = copy.deepcopy(start_message)
    stale["body"] = json.dumps(
        {"token": token, "jobName": JOB, "runId": RUN_ID, "jobId": world.run_item()["jobId"]}
    )
    # moto answers a finished execution's token with InvalidToken: logged and dropped.
    assert world.feed(world.poller, [stale], lambda_context) == []
    assert world.take(world.poll_queue) == []


# Failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "world", [{"env": {"FAKE_JOB_OUTCOME": "FAILED", "FAKE_JOB_POLLS": "0"}}], indirect=True
)
def test_a_failed_job_fails_the_run_with_its_reason(world, lambda_context):
    execution = start_run(world)
    world.feed(world.starter, world.await_message(world.start_queue), lambda_context)
    poll_until_done(world, execution, lambda_context)
    result = workflows.wait(execution)
    assert (result["status"], result["error"]) == ("FAILED", "RunFailed")
    run = world.run_item()
    assert run["status"] == "FAILED"
    # moto's SendTaskFailure keeps the error but drops the cause (its handler never passes
    # `cause` on); that the poller sends the reason is checked with Stubber below.
    assert json.loads(run["error"])["Error"] == "JobFailed"
    watermark = world.watermark()
    assert "activeRun" not in watermark and "since" not in watermark  # window not advanced
    assert workflows.entered(execution)[-4:] == [
        "MarkFailed",
        "ReleaseClaim",
        "AnnounceFailure",
        "Failed",
    ]


@pytest.mark.parametrize("world", [{"heartbeat_s": 1, "job_timeout_s": 60}], indirect=True)
def test_a_job_that_stops_heartbeating_times_out_and_fails_the_run(world, lambda_context):
    """Nobody answers the token (the starter never ran): the heartbeat lapses."""
    execution = start_run(world)
    world.await_message(world.start_queue)
    result = workflows.wait(execution)
    assert (result["status"], result["error"]) == ("FAILED", "RunFailed")
    run = world.run_item()
    assert run["status"] == "FAILED"
    # AWS names a lapsed heartbeat States.HeartbeatTimeout; moto calls it States.Timeout.
    assert json.loads(run["error"])["Error"] in ("States.HeartbeatTimeout", "States.Timeout")
    assert "activeRun" not in world.watermark()


def test_a_timed_out_task_swallows_the_late_report(world, lambda_context):
    """moto cannot time a task out on demand, so Stubber answers as Step Functions does."""
    stale = copy.deepcopy(world.template)
    stale["body"] = json.dumps({"token": "t0k3n", "jobName": JOB, "runId": RUN_ID, "jobId": "j"})
    with Stubber(world.poller.sfn) as stub:
        stub.add_client_error("send_task_success", service_error_code="TaskTimedOut")
        world.poller.adapter.status = lambda job_id: world.poller.jobs.JobStatus.completed(
            BUCKET, "exports/j/"
        )
        assert world.feed(world.poller, [stale], lambda_context) == []
        stub.assert_no_pending_responses()
    assert world.take(world.poll_queue) == []


def test_a_failed_job_is_reported_with_its_reason(world, lambda_context):
    message = copy.deepcopy(world.template)
    message["body"] = json.dumps({"token": "t", "jobName": JOB, "runId": RUN_ID, "jobId": "j"})
    failed = world.poller.jobs.JobStatus.failed("quota exceeded")
    world.poller.adapter.status = lambda job_id: failed
    with Stubber(world.poller.sfn) as stub:
        stub.add_response(
            "send_task_failure",
            {},
            {"taskToken": "t", "error": "JobFailed", "cause": "quota exceeded"},
        )
        assert world.feed(world.poller, [message], lambda_context) == []
        stub.assert_no_pending_responses()


def test_other_step_functions_errors_are_retried_by_sqs(world, lambda_context):
    stale = copy.deepcopy(world.template)
    stale["body"] = json.dumps({"token": "t", "jobName": JOB, "runId": RUN_ID, "jobId": "j"})
    with Stubber(world.poller.sfn) as stub:
        stub.add_client_error("send_task_heartbeat", service_error_code="ThrottlingException")
        world.poller.adapter.status = lambda job_id: world.poller.jobs.JobStatus.running()
        assert world.feed(world.poller, [stale], lambda_context) == [stale["messageId"]]


# Exactly one job per run ------------------------------------------------------------------


def test_a_redelivered_start_message_starts_one_job(world, lambda_context):
    start_run(world)
    (message,) = world.await_message(world.start_queue)
    started = []
    start = world.starter.adapter.start

    def counting(run_id: str, since: str | None) -> str:
        started.append(run_id)
        return f"{start(run_id, since)}-{len(started)}"  # a real API gives a new id each time

    world.starter.adapter.start = counting
    redelivered = {**copy.deepcopy(message), "messageId": str(uuid.uuid4())}
    assert world.feed(world.starter, [message], lambda_context) == []
    assert world.feed(world.starter, [redelivered], lambda_context) == []
    assert started == [RUN_ID]
    polls = [json.loads(r["body"]) for r in world.take(world.poll_queue)]
    assert {p["jobId"] for p in polls} == {world.run_item()["jobId"]}


def test_a_second_trigger_while_a_run_is_active_starts_nothing(world, lambda_context):
    first = start_run(world)
    world.await_message(world.start_queue)
    second = workflows.run(world.machine, "run-2", {"runId": "2026-01-01T02:05:00Z"})
    assert second["status"] == "SUCCEEDED"
    assert workflows.entered(second["executionArn"])[-1] == "AlreadyRunning"
    assert world.run_item("2026-01-01T02:05:00Z") is None
    assert world.take(world.start_queue) == []
    assert world.watermark()["activeRun"] == first


def test_the_same_run_triggered_again_later_is_already_recorded(world, lambda_context):
    execution = start_run(world)
    world.feed(world.starter, world.await_message(world.start_queue), lambda_context)
    poll_until_done(world, execution, lambda_context)
    again = workflows.run(world.machine, "run-1-again", {"runId": RUN_ID})
    assert again["status"] == "SUCCEEDED"
    assert workflows.entered(again["executionArn"])[-2:] == ["ReleaseDuplicate", "AlreadyRecorded"]
    assert world.take(world.start_queue) == []
    assert "activeRun" not in world.watermark()
    assert world.run_item()["status"] == "SUCCEEDED"


def test_a_stopped_execution_releases_its_claim_through_the_release_input(world):
    """EventBridge routes TIMED_OUT/ABORTED/FAILED status events back as `{release}`; moto
    does not deliver them, so the test sends the same input the rule's transformer makes."""
    first = start_run(world)
    world.await_message(world.start_queue)
    boto3.client("stepfunctions").stop_execution(executionArn=first)
    assert world.watermark()["activeRun"] == first
    released = workflows.run(world.machine, "release-1", {"release": first})
    assert released["status"] == "SUCCEEDED"
    assert "activeRun" not in world.watermark()
    # Releasing again, or releasing for an execution that holds nothing, is harmless.
    assert workflows.run(world.machine, "release-2", {"release": first})["status"] == "SUCCEEDED"
    retry = start_run(world, "2026-01-01T03:00:00Z", "run-after-release")
    world.await_message(world.start_queue)
    assert world.watermark()["activeRun"] == retry
    boto3.client("stepfunctions").stop_execution(executionArn=retry)


# Handlers on their own ----------------------------------------------------------------------


def test_a_malformed_message_is_reported_as_a_batch_failure(world, lambda_context):
    bad = {**copy.deepcopy(world.template), "body": "{not json"}
    assert world.feed(world.starter, [bad], lambda_context) == [bad["messageId"]]
    assert world.feed(world.poller, [bad], lambda_context) == [bad["messageId"]]


def test_a_rejected_job_fails_the_task_at_once(world, lambda_context):
    execution = start_run(world)
    (message,) = world.await_message(world.start_queue)

    def reject(run_id: str, since: str | None) -> str:
        raise world.starter.jobs.JobRejectedError("the export role is missing")

    world.starter.adapter.start = reject
    assert world.feed(world.starter, [message], lambda_context) == []
    result = workflows.wait(execution)
    assert result["status"] == "FAILED"
    assert json.loads(world.run_item()["error"])["Error"] == "JobRejected"
    assert world.take(world.poll_queue) == []


@pytest.fixture
def workers(load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The workers' tables, bucket, queues and environment, without a workflow; tests load
    `starter` and `poller` themselves, so their log lines reach `capsys`."""
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=RUNS,
            KeySchema=[
                {"AttributeName": "jobName", "KeyType": "HASH"},
                {"AttributeName": "runId", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "jobName", "AttributeType": "S"},
                {"AttributeName": "runId", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        poll_queue = boto3.client("sqs").create_queue(QueueName="poll")["QueueUrl"]
        for name, value in {
            "JOB_ADAPTER": "fake_job",
            "RUNS_TABLE": RUNS,
            "JOB_NAME": JOB,
            "POLL_QUEUE_URL": poll_queue,
            "POLL_INTERVAL_S": "0",
            "RESULTS_BUCKET": BUCKET,
        }.items():
            monkeypatch.setenv(name, value)
        yield load_event(PATTERN, "sqs-record")


def sqs_record(template: dict[str, Any], message_id: str, body: str) -> dict[str, Any]:
    return {**copy.deepcopy(template), "messageId": message_id, "body": body}


def error_lines(output: str) -> list[dict[str, Any]]:
    """Each ERROR log line, reduced to its message, exception type and message id."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [
        {k: line.get(k) for k in ("message", "exception_name", "messageId")}
        for line in lines
        if line.get("level") == "ERROR"
    ]


POISON = {
    "not-json": "{not json",
    "not-an-object": '["token", "jobName"]',
    "empty-token": json.dumps({"token": "", "jobName": JOB, "runId": RUN_ID}),
    "no-run-id": json.dumps({"token": "t", "jobName": JOB}),
}


def test_each_poison_message_fails_alone_with_one_error_line(
    workers, load_function, lambda_context, capsys
):
    """Poison messages among a good one: the good one starts its job, each poison message is
    a batch item failure (never dropped) with exactly one ERROR line naming it."""
    boto3.resource("dynamodb").Table(RUNS).put_item(Item={"jobName": JOB, "runId": RUN_ID})
    good = json.dumps({"token": "t1", "jobName": JOB, "runId": RUN_ID, "since": EPOCH})
    batch = [sqs_record(workers, "good", good)]
    batch += [sqs_record(workers, name, body) for name, body in POISON.items()]
    starter = load_function(PATTERN, "starter")
    response = starter.handler({"Records": batch}, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": name} for name in POISON]}
    assert starter.runs.job_id_of(starter.table, JOB, RUN_ID) is not None  # the good one ran
    assert error_lines(capsys.readouterr().out) == [
        {
            "message": "Message failed; SQS redelivers it",
            "exception_name": "InvalidMessageError",
            "messageId": name,
        }
        for name in POISON
    ]


def test_the_poller_logs_each_message_it_fails(workers, load_function, lambda_context, capsys):
    poison = {**POISON, "no-job-id": json.dumps({"token": "t", "jobName": JOB, "runId": RUN_ID})}
    batch = [sqs_record(workers, name, body) for name, body in poison.items()]
    poller = load_function(PATTERN, "poller")
    response = poller.handler({"Records": batch}, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": name} for name in poison]}
    assert error_lines(capsys.readouterr().out) == [
        {
            "message": "Message failed; SQS redelivers it",
            "exception_name": "InvalidMessageError",
            "messageId": name,
        }
        for name in poison
    ]


def test_a_step_functions_failure_is_logged_with_its_message(
    workers, load_function, lambda_context, capsys
):
    """Not only poison: a report Step Functions refuses (throttled) fails the message too."""
    poller = load_function(PATTERN, "poller")
    poller.adapter.status = lambda job_id: poller.jobs.JobStatus.completed(BUCKET, "exports/j/")
    body = json.dumps({"token": "t", "jobName": JOB, "runId": RUN_ID, "jobId": "j"})
    with Stubber(poller.sfn) as stub:
        stub.add_client_error("send_task_success", "ThrottlingException")
        response = poller.handler({"Records": [sqs_record(workers, "m1", body)]}, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert error_lines(capsys.readouterr().out) == [
        {
            "message": "Message failed; SQS redelivers it",
            "exception_name": "ClientError",
            "messageId": "m1",
        }
    ]


@pytest.fixture
def records_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        boto3.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        boto3.client("dynamodb").create_table(
            TableName=RECORDS,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("RECORDS_TABLE", RECORDS)
        yield


def stored_records() -> dict[str, dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=RECORDS)["Items"]
    return {i["id"]["S"]: i for i in items}


def test_process_file_loads_a_file_once_however_often_it_runs(
    records_world, load_function, load_event, lambda_context
):
    item = load_event(PATTERN, "process-file-item")
    body = (EVENTS_DIR / PATTERN / "export-part.ndjson").read_bytes()
    boto3.client("s3").put_object(Bucket=BUCKET, Key=item["key"], Body=body)
    process_file = load_function(PATTERN, "process_file")
    assert process_file.handler(item, lambda_context) == {"key": item["key"], "records": 3}
    process_file.handler(load_event(PATTERN, "process-file-item"), lambda_context)
    stored = stored_records()
    assert set(stored) == {"Patient/1001", "Patient/1002", "Observation/77"}
    assert stored["Observation/77"]["sourceKey"]["S"] == item["key"]
    assert json.loads(stored["Observation/77"]["record"]["S"])["value"] == 98.6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a"}\nnot json\n', ":2: not JSON"),
        ('{"id": 5}\n', ":1: a record needs a string id"),
    ],
)
def test_process_file_raises_on_bad_data_and_loads_nothing(
    records_world, load_function, load_event, lambda_context, content, message
):
    item = load_event(PATTERN, "process-file-item")
    boto3.client("s3").put_object(Bucket=BUCKET, Key=item["key"], Body=content.encode())
    process_file = load_function(PATTERN, "process_file")
    with pytest.raises(process_file.records.BadRecordError, match=message):
        process_file.handler(item, lambda_context)
    assert stored_records() == {}


EXACT = "12345678901234567890.123456789"  # more digits than a float holds


def test_process_file_stores_dynamodb_export_items_and_numbers_exactly(
    records_world, load_function, load_event, lambda_context
):
    item = load_event(PATTERN, "process-file-item")
    body = (EVENTS_DIR / PATTERN / "export-dynamodb.ndjson").read_bytes()
    boto3.client("s3").put_object(Bucket=BUCKET, Key=item["key"], Body=body)
    process_file = load_function(PATTERN, "process_file")
    assert process_file.handler(item, lambda_context) == {"key": item["key"], "records": 2}
    stored = stored_records()
    assert stored["Order/1003"]["record"]["S"] == (
        '{"id": "Order/1003", "total": ' + EXACT + ', "signature": "3q2+7w==", '
        '"attachments": ["AQID", "BAUG"], "zones": [4, 12], '
        '"shipping": {"city": "Dublin", "floor": -0.5}, "lines": ["A-1", 2], '
        '"note": null, "paid": true}'
    )
    assert stored["Observation/78"]["record"]["S"] == (
        '{"id": "Observation/78", "resourceType": "Observation", "value": ' + EXACT + "}"
    )
    assert stored["Order/1003"]["sourceKey"]["S"] == item["key"]


def test_process_file_names_the_line_and_attribute_of_a_bad_number(
    records_world, load_function, load_event, lambda_context, capsys
):
    item = load_event(PATTERN, "process-file-item")
    content = '{"id": "a"}\n{"Item": {"id": {"S": "b"}, "total": {"N": "12.3.4"}}}\n'
    boto3.client("s3").put_object(Bucket=BUCKET, Key=item["key"], Body=content.encode())
    process_file = load_function(PATTERN, "process_file")
    with pytest.raises(process_file.records.BadRecordError) as raised:
        process_file.handler(item, lambda_context)
    assert str(raised.value) == f"{item['key']}:2: attribute 'total': invalid number '12.3.4'"
    assert stored_records() == {}  # the whole file or nothing
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "level" in line]
    assert [
        {k: line.get(k) for k in ("message", "exception_name", "key", "runId")}
        for line in lines
        if line["level"] == "ERROR"
    ] == [
        {
            "message": "File not loaded",
            "exception_name": "BadRecordError",
            "key": item["key"],
            "runId": item["runId"],
        }
    ]


def test_the_healthlake_adapter_maps_export_states(load_function, monkeypatch):
    """moto has no HealthLake exports: Stubber answers DescribeFHIRExportJob."""
    for name, value in {
        "RESULTS_BUCKET": BUCKET,
        "DATASTORE_ID": "ds1",
        "EXPORT_ROLE_ARN": "arn:aws:iam::123456789012:role/export",
        "EXPORT_KMS_KEY_ARN": "arn:aws:kms:eu-west-1:123456789012:key/k",
    }.items():
        monkeypatch.setenv(name, value)
    adapter = load_function(PATTERN, "healthlake_export")

    def described(state: str, message: str | None = None) -> dict[str, Any]:
        job: dict[str, Any] = {
            "JobId": "j1",
            "JobStatus": state,
            "SubmitTime": "2026-01-01T02:00:00Z",
            "DatastoreId": "ds1",
            "OutputDataConfig": {
                "S3Configuration": {
                    "S3Uri": f"s3://{BUCKET}/exports/run1/",
                    "KmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k",
                }
            },
        }
        if message:
            job["Message"] = message
        return {"ExportJobProperties": job}

    with Stubber(adapter.healthlake) as stub:
        for state in ("IN_PROGRESS", "COMPLETED", "FAILED"):
            stub.add_response(
                "describe_fhir_export_job",
                described(state, "access denied" if state == "FAILED" else None),
                {"DatastoreId": "ds1", "JobId": "j1"},
            )
        assert adapter.status("j1").state == "RUNNING"
        done = adapter.status("j1")
        assert (done.state, done.bucket, done.prefix) == (
            "COMPLETED",
            BUCKET,
            "exports/run1/ds1-FHIR_EXPORT-j1/",
        )
        failed = adapter.status("j1")
        assert (failed.state, failed.reason) == ("FAILED", "access denied")
