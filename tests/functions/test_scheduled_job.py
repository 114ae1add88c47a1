"""scheduled-job's `job` handler against moto: at most one completed run per slot.

The idempotency table is a real (moto) DynamoDB table in Powertools' layout, so what is
checked is what Powertools writes and reads: the same scheduled time twice runs the work
once, two times run it twice, a failed run leaves no record and its retry runs again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from moto import mock_aws

from tests.functions.conftest import EVENTS_DIR, FakeLambdaContext

PATTERN = "scheduled-job"
TABLE = "idempotency"
REGION = "eu-west-1"
SECRET_VALUE = "sk-live-0123456789"

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


class Work:
    """The job's task: counts the runs per slot, raises while `failures` remain."""

    def __init__(self, failures: int = 0) -> None:
        self.runs: list[str] = []
        self.secrets: list[str | None] = []
        self.failures = failures

    def __call__(self, job: Any, secret: str | None) -> dict[str, Any]:
        self.runs.append(job.slot)
        self.secrets.append(secret)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the story API answered 503")
        return {"slot": job.slot, "stories": 3}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "dev-nightly-job")
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        table = dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield table


def load_job(
    load_function: LoadFunction,
    monkeypatch: pytest.MonkeyPatch,
    work: Work,
    *,
    idempotency: bool = True,
    secret_arn: str | None = None,
) -> ModuleType:
    if idempotency:
        monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    else:
        monkeypatch.delenv("IDEMPOTENCY_TABLE", raising=False)
    if secret_arn:
        monkeypatch.setenv("SECRET_ARN", secret_arn)
    else:
        monkeypatch.delenv("SECRET_ARN", raising=False)
    job = load_function(PATTERN, "job")
    monkeypatch.setattr(job.task, "run", work)
    return job


def records(table: Any) -> list[dict[str, Any]]:
    return sorted(table.scan()["Items"], key=lambda item: item["id"])


def test_the_same_scheduled_time_twice_runs_the_work_once(
    aws, load_function, load_event, monkeypatch
):
    work = Work()
    job = load_job(load_function, monkeypatch, work)
    first = job.handler(load_event(PATTERN, "scheduled-run"), FakeLambdaContext())
    # Scheduler's retry of the slot: another execution id and attempt, the same time.
    again = job.handler(load_event(PATTERN, "retried-run"), FakeLambdaContext())
    assert work.runs == ["dev-nightly-job@2030-01-01T19:15:00Z"]
    assert again == first == {"slot": "dev-nightly-job@2030-01-01T19:15:00Z", "stories": 3}
    (record,) = records(aws)
    assert record["status"] == "COMPLETED"
    assert record["id"].startswith("dev-nightly-job.job.perform#")
    assert json.loads(record["data"]) == first
    assert record["expiration"] > 0


def test_two_scheduled_times_run_the_work_twice(aws, load_function, load_event, monkeypatch):
    work = Work()
    job = load_job(load_function, monkeypatch, work)
    job.handler(load_event(PATTERN, "scheduled-run"), FakeLambdaContext())
    job.handler(load_event(PATTERN, "next-run"), FakeLambdaContext())
    assert work.runs == [
        "dev-nightly-job@2030-01-01T19:15:00Z",
        "dev-nightly-job@2030-01-02T19:15:00Z",
    ]
    assert [r["status"] for r in records(aws)] == ["COMPLETED", "COMPLETED"]


def test_one_slot_written_two_ways_is_one_slot(aws, load_function, load_event, monkeypatch):
    work = Work()
    job = load_job(load_function, monkeypatch, work)
    event = load_event(PATTERN, "scheduled-run")
    job.handler(event, FakeLambdaContext())
    job.handler({**event, "scheduledTime": "2030-01-01T20:15:00+01:00"}, FakeLambdaContext())
    assert len(work.runs) == 1 and len(records(aws)) == 1


def test_the_same_time_on_another_schedule_is_another_slot(
    aws, load_function, load_event, monkeypatch
):
    work = Work()
    job = load_job(load_function, monkeypatch, work)
    event = load_event(PATTERN, "scheduled-run")
    job.handler(event, FakeLambdaContext())
    job.handler({**event, "schedule": "dev-cleanup-job"}, FakeLambdaContext())
    assert len(work.runs) == 2 and len(records(aws)) == 2


def test_a_failure_raises_leaves_no_record_and_the_retry_runs_again(
    aws, load_function, load_event, monkeypatch
):
    work = Work(failures=1)
    job = load_job(load_function, monkeypatch, work)
    with pytest.raises(RuntimeError, match="503"):
        job.handler(load_event(PATTERN, "scheduled-run"), FakeLambdaContext())
    assert records(aws) == []  # nothing completed, nothing left in progress
    # Lambda's retry of the failed slot does the work, and only then is it done.
    result = job.handler(load_event(PATTERN, "retried-run"), FakeLambdaContext())
    assert result["stories"] == 3
    assert len(work.runs) == 2
    assert [r["status"] for r in records(aws)] == ["COMPLETED"]


def test_a_duplicate_of_a_running_slot_fails_and_is_retried_later(
    aws, load_function, load_event, monkeypatch
):
    event = load_event(PATTERN, "scheduled-run")
    seen: list[BaseException] = []
    work = Work()

    def reentrant(job_run: Any, secret: str | None) -> dict[str, Any]:
        # While this slot runs, Scheduler's retry of it arrives.
        try:
            job.handler(load_event(PATTERN, "retried-run"), FakeLambdaContext())
        except IdempotencyAlreadyInProgressError as error:
            seen.append(error)
        return work(job_run, secret)

    job = load_job(load_function, monkeypatch, work)
    monkeypatch.setattr(job.task, "run", reentrant)
    job.handler(event, FakeLambdaContext())
    assert len(seen) == 1 and len(work.runs) == 1
    assert [r["status"] for r in records(aws)] == ["COMPLETED"]


def test_without_idempotency_every_delivery_runs(load_function, load_event, monkeypatch):
    work = Work()
    with mock_aws():
        job = load_job(load_function, monkeypatch, work, idempotency=False)
        job.handler(load_event(PATTERN, "scheduled-run"), FakeLambdaContext())
        job.handler(load_event(PATTERN, "retried-run"), FakeLambdaContext())
    assert len(work.runs) == 2


MALFORMED = sorted(json.loads((EVENTS_DIR / PATTERN / "malformed-runs.json").read_text()))


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_event_is_a_typed_error_and_runs_nothing(
    aws, load_function, load_event, monkeypatch, capsys, case
):
    work = Work()
    job = load_job(load_function, monkeypatch, work)
    event = load_event(PATTERN, "malformed-runs")[case]
    with pytest.raises(job.InvalidScheduledEvent):
        job.handler(event, FakeLambdaContext())
    assert work.runs == [] and records(aws) == []
    errors = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"level"' in line
    ]
    assert [e["message"] for e in errors if e["level"] == "ERROR"] == ["Not a scheduled run"]


@pytest.mark.parametrize("event", [None, "not json", ["a"], 7])
def test_an_event_that_is_not_an_object_is_a_typed_error(aws, load_function, monkeypatch, event):
    work = Work()
    job = load_job(load_function, monkeypatch, work)
    with pytest.raises(job.InvalidScheduledEvent, match="JSON object"):
        job.handler(event, FakeLambdaContext())
    assert work.runs == []


def test_the_key_comes_from_secrets_manager_not_the_environment(
    aws, load_function, load_event, monkeypatch
):
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="story-api-key", SecretString=SECRET_VALUE)["ARN"]
    work = Work()
    job = load_job(load_function, monkeypatch, work, secret_arn=arn)
    job.handler(load_event(PATTERN, "scheduled-run"), FakeLambdaContext())
    assert work.secrets == [SECRET_VALUE]
    assert SECRET_VALUE not in json.dumps(dict(os.environ))


def test_the_template_task_returns_a_summary(aws, load_function, load_event, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    job = load_function(PATTERN, "job")
    result = job.handler(load_event(PATTERN, "scheduled-run"), FakeLambdaContext())
    assert result == {
        "slot": "dev-nightly-job@2030-01-01T19:15:00Z",
        "inputKeys": ["collection", "limit"],
    }
