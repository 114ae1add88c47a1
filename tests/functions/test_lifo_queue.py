"""lifo-queue handlers against moto (DynamoDB, SNS, SQS) with a frozen clock.

The claim protocol is also run by many threads at once (the benchmark's harness): moto
does not serialise writes to one item across threads as DynamoDB does, so those tests wrap
moto's item operations in one lock (`atomic_items`) and what they check is our protocol.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench import bench_lifo_queue as harness
from tests.functions.conftest import FakeLambdaContext

PATTERN = "lifo-queue"
TABLE = harness.TABLE
REGION = "eu-west-1"
NOW_S = 1_796_472_000.0  # 2026-12-04T09:20:00Z
TTL_S = 3600

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


class Clock:
    """A frozen clock the test moves; `step` advances it on every downstream call."""

    def __init__(self, now: float = NOW_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    @property
    def ms(self) -> int:
        return int(self.now * 1000)


@dataclass
class LongContext(FakeLambdaContext):
    """A processor with its whole timeout ahead (the loop budget, not the context, binds)."""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class Recorder:
    """A downstream that records the task ids it is called with, then does `then`."""

    def __init__(self, then: Callable[[Any], Any] | None = None) -> None:
        self.calls: list[str] = []
        self.then = then

    def call(self, task: Any) -> Any:
        self.calls.append(task.task_id)
        return self.then(task) if self.then else {"ok": True}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("TABLE_NAME", "TOPIC_ARN", "MAX_LOOP_S", "BATCH_LIMIT", "CLAIM_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    return harness.create_table()


@pytest.fixture
def topic(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The process topic, with a queue subscribed to see what was published."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(Name="lifo-test-process")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="lifo-test-observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    return {"arn": topic_arn, "observer": queue_url}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def processor(
    table: Any, topic: dict[str, str], clock: Clock, load_function: LoadFunction, monkeypatch: Any
) -> ModuleType:
    monkeypatch.setenv("BATCH_LIMIT", "10")
    monkeypatch.setenv("MAX_LOOP_S", "60")
    monkeypatch.setenv("CLAIM_TIMEOUT_S", "120")
    module = load_function(PATTERN, "processor")
    monkeypatch.setattr(module, "clock", clock)
    return module


def published(topic: dict[str, str]) -> list[dict[str, Any]]:
    messages = (
        boto3.client("sqs")
        .receive_message(QueueUrl=topic["observer"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        .get("Messages", [])
    )
    return [json.loads(m["Body"]) for m in messages]


def seed_tasks(table: Any, count: int, *, now_ms: int, ttl_s: int = TTL_S) -> list[str]:
    """`count` PENDING tasks one second apart, oldest first; returns their ids in that order."""
    tasks, _ = harness.modules()
    ids = []
    for i in range(count):
        created = now_ms - (count - i) * 1000
        ids.append(
            tasks.put_task(
                table, {"ip": f"192.0.2.{i + 1}"}, now_ms=created, ttl_s=ttl_s, task_id=f"t{i:02d}"
            )
        )
    return ids


def item(table: Any, task_id: str) -> dict[str, Any]:
    found: dict[str, Any] = table.get_item(Key={"taskId": task_id}, ConsistentRead=True)["Item"]
    return found


def error_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    """The ERROR records the handlers logged (Powertools' extra keys are attributes)."""
    return [r for r in caplog.records if r.levelname == "ERROR"]


def queries(module: ModuleType) -> list[dict[str, Any]]:
    """Every Query the module's table client makes from now on (its parameters)."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    module.table.meta.client.meta.events.register("provide-client-params.dynamodb.Query", record)
    return seen


# --- processor -----------------------------------------------------------------------------


def test_fifteen_pending_tasks_are_processed_newest_first_in_pages_of_ten(
    processor: ModuleType, table: Any, clock: Clock, monkeypatch: Any
) -> None:
    ids = seed_tasks(table, 15, now_ms=clock.ms)
    recorder = Recorder(then=processor.downstream.call)  # the shipped IP check
    monkeypatch.setattr(processor, "downstream", recorder)
    seen = queries(processor)

    summary = processor.handler({"Records": []}, LongContext())

    assert recorder.calls == list(reversed(ids))
    pending_reads = [q for q in seen if q["ExpressionAttributeValues"].get(":pending") == "PENDING"]
    newest_first = [q for q in pending_reads if q["ScanIndexForward"] is False]
    assert [q["Limit"] for q in newest_first] == [10, 10, 10]  # 10, then 5, then empty
    assert summary == {
        "succeeded": 15,
        "failed": 0,
        "released": 0,
        "reclaimed": 0,
        "lostRaces": 0,
        "stopped": "empty",
        "tailCall": False,
    }
    done = item(table, ids[0])
    assert done["taskStatus"] == "SUCCESS" and "claimToken" not in done
    assert json.loads(done["result"])["ip"] == "192.0.2.1"
    assert done["expiresAt"] == int(NOW_S) + 86_400  # kept for processed_ttl_s


def test_expired_tasks_that_still_exist_are_never_processed(
    processor: ModuleType, table: Any, clock: Clock, monkeypatch: Any
) -> None:
    tasks, _ = harness.modules()
    stale = [
        tasks.put_task(table, {"ip": "192.0.2.9"}, now_ms=clock.ms - 7200_000 + i, ttl_s=TTL_S)
        for i in range(3)
    ]  # created two hours ago with a one-hour TTL: TTL has not deleted them yet
    fresh = seed_tasks(table, 2, now_ms=clock.ms)
    recorder = Recorder()
    monkeypatch.setattr(processor, "downstream", recorder)

    processor.handler({"Records": []}, LongContext())

    assert recorder.calls == list(reversed(fresh))
    assert {item(table, task_id)["taskStatus"] for task_id in stale} == {"PENDING"}


def test_a_task_taken_by_a_competitor_is_skipped(table: Any, clock: Clock) -> None:
    tasks, lifo = harness.modules()
    seed_tasks(table, 3, now_ms=clock.ms)
    page = tasks.live_pending_page(table, now_ms=clock.ms, limit=10)
    competitor = tasks.claim(table, page[1], now_ms=clock.ms, lease_ms=60_000, token="rival")
    assert competitor is not None

    outcome = lifo.Outcome()
    mine = list(
        lifo.claim_from(table, page, now_ms=lambda: clock.ms, lease_ms=60_000, outcome=outcome)
    )

    assert [t.task_id for t in mine] == [page[0]["taskId"], page[2]["taskId"]]
    assert outcome.lost_races == 1
    assert item(table, page[1]["taskId"])["claimToken"] == "rival"
    # The loser cannot release or complete what it never held.
    not_mine = tasks.Task(page[1]["taskId"], None, 0, 1, claim_token=mine[0].claim_token)
    assert not tasks.release(table, not_mine, now_ms=clock.ms)
    assert not tasks.complete(table, not_mine, "SUCCESS", now_ms=clock.ms, retain_s=60)


def test_several_processors_spread_over_the_page(table: Any, clock: Clock) -> None:
    tasks, lifo = harness.modules()
    ids = seed_tasks(table, 4, now_ms=clock.ms)
    page = tasks.live_pending_page(table, now_ms=clock.ms, limit=10)
    assert [i["taskId"] for i in page] == list(reversed(ids))

    def claimed(spread: bool) -> list[str]:
        outcome = lifo.Outcome()
        order = lifo.claim_from(
            table,
            page,
            now_ms=lambda: clock.ms,
            lease_ms=1000,
            outcome=outcome,
            spread=spread,
            shuffle=lambda items: items.reverse(),  # a "random" order the test can predict
        )
        return [task.task_id for task in order]

    assert claimed(spread=True) == ids  # reversed page: oldest of the page first
    assert claimed(spread=False) == []  # all taken: three lost races, then the page is dropped


def test_downstream_busy_returns_the_task_and_publishes_a_tail_call(
    processor: ModuleType, table: Any, topic: dict[str, str], clock: Clock, monkeypatch: Any
) -> None:
    ids = seed_tasks(table, 4, now_ms=clock.ms)
    _, lifo = harness.modules()

    def busy(task: Any) -> Any:
        raise lifo.DownstreamBusy("legacy validator at capacity")

    recorder = Recorder(then=busy)
    monkeypatch.setattr(processor, "downstream", recorder)

    summary = processor.handler({"Records": []}, LongContext())

    assert recorder.calls == [ids[-1]]
    newest = item(table, ids[-1])
    assert newest["taskStatus"] == "PENDING" and "claimToken" not in newest
    assert newest["attempts"] == 1
    assert summary["stopped"] == "busy" and summary["released"] == 1
    assert published(topic) == [{"reason": "busy"}]


def test_the_loop_stops_at_max_loop_s_and_tail_calls(
    processor: ModuleType, table: Any, topic: dict[str, str], clock: Clock, monkeypatch: Any
) -> None:
    ids = seed_tasks(table, 15, now_ms=clock.ms)

    def slow(task: Any) -> dict[str, Any]:
        clock.now += 10  # each downstream call takes 10 s; the budget is 60 s
        return {}

    recorder = Recorder(then=slow)
    monkeypatch.setattr(processor, "downstream", recorder)

    summary = processor.handler({"Records": []}, LongContext())

    assert recorder.calls == list(reversed(ids))[:6]
    assert summary["stopped"] == "time" and summary["tailCall"] is True
    statuses = Counter(item(table, task_id)["taskStatus"] for task_id in ids)
    assert statuses == Counter({"SUCCESS": 6, "PENDING": 9})
    assert published(topic) == [{"reason": "time"}]


def test_the_run_ends_before_the_function_would_time_out(
    processor: ModuleType, table: Any, clock: Clock, monkeypatch: Any
) -> None:
    """A context with 20 s left caps the 60 s loop at 15 s (5 s kept back)."""
    ids = seed_tasks(table, 5, now_ms=clock.ms)

    def slow(task: Any) -> dict[str, Any]:
        clock.now += 10
        return {}

    monkeypatch.setattr(processor, "downstream", Recorder(then=slow))

    @dataclass
    class ShortContext(FakeLambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 20_000

    summary = processor.handler({"Records": []}, ShortContext())

    assert summary["succeeded"] == 2 and summary["stopped"] == "time"
    assert Counter(item(table, t)["taskStatus"] for t in ids)["PENDING"] == 3


def test_an_expired_claim_returns_to_the_queue(
    processor: ModuleType, table: Any, clock: Clock, monkeypatch: Any
) -> None:
    tasks, _ = harness.modules()
    (task_id,) = seed_tasks(table, 1, now_ms=clock.ms)
    page = tasks.live_pending_page(table, now_ms=clock.ms, limit=10)
    dead = tasks.claim(table, page[0], now_ms=clock.ms, lease_ms=120_000)  # then it crashed
    assert dead is not None
    recorder = Recorder()
    monkeypatch.setattr(processor, "downstream", recorder)

    clock.now += 60  # the lease still holds: nobody may take the task
    early = processor.handler({"Records": []}, LongContext())
    assert recorder.calls == [] and early["reclaimed"] == 0
    assert item(table, task_id)["taskStatus"] == "TAKEN"

    clock.now += 61  # 121 s after the claim: the lease has run out
    late = processor.handler({"Records": []}, LongContext())

    assert late["reclaimed"] == 1 and recorder.calls == [task_id]
    assert item(table, task_id)["taskStatus"] == "SUCCESS"
    assert item(table, task_id)["attempts"] == 2
    # The dead processor, had it woken up, cannot overwrite the outcome.
    assert not tasks.complete(table, dead, "FAILURE", now_ms=clock.ms, retain_s=60)
    assert item(table, task_id)["taskStatus"] == "SUCCESS"


def test_an_invalid_payload_fails_the_task_with_one_error_line(
    processor: ModuleType, table: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    tasks, _ = harness.modules()
    bad = tasks.put_task(table, {"ip": "not-an-address"}, now_ms=clock.ms - 1, ttl_s=TTL_S)
    good = tasks.put_task(table, {"ip": "2001:db8::1"}, now_ms=clock.ms - 2, ttl_s=TTL_S)

    summary = processor.handler({"Records": []}, LongContext())

    assert summary["succeeded"] == 1 and summary["failed"] == 1
    failed = item(table, bad)
    assert failed["taskStatus"] == "FAILURE" and failed["error"].startswith("InvalidTask: ")
    assert json.loads(item(table, good)["result"])["version"] == 6
    errors = error_records(caplog)
    assert len(errors) == 1 and errors[0].taskId == bad


def test_a_downstream_that_keeps_raising_is_retried_then_fails(
    processor: ModuleType, table: Any, clock: Clock, monkeypatch: Any
) -> None:
    (task_id,) = seed_tasks(table, 1, now_ms=clock.ms)

    def broken(task: Any) -> Any:
        raise ConnectionError("legacy system reset the connection")

    recorder = Recorder(then=broken)
    monkeypatch.setattr(processor, "downstream", recorder)

    summary = processor.handler({"Records": []}, LongContext())

    assert recorder.calls == [task_id] * 3  # max_attempts claims
    assert summary["failed"] == 1 and summary["released"] == 2
    assert item(table, task_id)["error"].startswith("ConnectionError: ")


def test_the_oldest_pending_age_is_reported(
    capsys: Any, processor: ModuleType, table: Any, clock: Clock, monkeypatch: Any
) -> None:
    seed_tasks(table, 3, now_ms=clock.ms)  # 3 s, 2 s and 1 s old

    def busy(task: Any) -> Any:
        raise harness.modules()[1].DownstreamBusy()

    monkeypatch.setattr(processor, "downstream", Recorder(then=busy))
    processor.handler({"Records": []}, LongContext())

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (blob,) = [b for b in blobs if "OldestPendingTaskAge" in b]
    assert blob["OldestPendingTaskAge"] == [3.0]
    assert blob["queue"] == TABLE


# --- trigger -------------------------------------------------------------------------------


def test_the_trigger_publishes_once_per_batch(
    topic: dict[str, str], load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    trigger = load_function(PATTERN, "trigger")
    batch = load_event(PATTERN, "stream-inserts")

    assert trigger.handler(batch, lambda_context) == {"batchItemFailures": []}

    assert published(topic) == [{"reason": "new", "tasks": 2}]


def test_a_record_that_is_not_a_new_task_is_a_batch_item_failure(
    topic: dict[str, str],
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    trigger = load_function(PATTERN, "trigger")
    batch = load_event(PATTERN, "stream-inserts")
    del batch["Records"][1]["dynamodb"]["NewImage"]["taskId"]

    response = trigger.handler(batch, lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "400000000012345678902"}]}
    errors = error_records(caplog)
    assert [e.sequenceNumber for e in errors] == ["400000000012345678902"]
    assert published(topic) == [{"reason": "new", "tasks": 1}]


# --- create (POST /tasks) ------------------------------------------------------------------


@pytest.fixture
def create(table: Any, load_function: LoadFunction, monkeypatch: Any) -> ModuleType:
    monkeypatch.setenv("TASK_TTL_S", str(TTL_S))
    return load_function(PATTERN, "create")


def test_create_queues_a_pending_task(
    create: ModuleType, table: Any, load_event: LoadEvent, lambda_context: Any
) -> None:
    before = int(time.time())
    response = create.handler(load_event(PATTERN, "api-post-task"), lambda_context)

    assert response["statusCode"] == 201
    task_id = json.loads(response["body"])["taskId"]
    stored = item(table, task_id)
    assert stored["taskStatus"] == "PENDING" and stored["attempts"] == 0
    assert json.loads(stored["payload"]) == {"deviceId": "sensor-0042", "ip": "203.0.113.17"}
    assert before + TTL_S <= stored["expiresAt"] <= int(time.time()) + TTL_S


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "request body must be JSON"),
        ('{"task": 1}', 'request body must be an object with a "payload"'),
        ("", "request body is required"),
        ('{"payload": 1, "taskId": "a b"}', "taskId must be 1-128 letters"),
    ],
)
def test_a_malformed_request_is_a_400_with_one_error_line(
    create: ModuleType,
    table: Any,
    load_event: LoadEvent,
    lambda_context: Any,
    caplog: pytest.LogCaptureFixture,
    body: str,
    message: str,
) -> None:
    event = load_event(PATTERN, "api-post-task")
    event["body"] = body

    response = create.handler(event, lambda_context)

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["message"].startswith(message)
    assert len(error_records(caplog)) == 1
    assert table.scan()["Count"] == 0


def test_a_repeated_task_id_is_a_409_never_an_overwrite(
    create: ModuleType, table: Any, load_event: LoadEvent, lambda_context: Any
) -> None:
    event = load_event(PATTERN, "api-post-task")
    event["body"] = json.dumps({"payload": {"ip": "192.0.2.1"}, "taskId": "device-42-boot"})
    assert create.handler(event, lambda_context)["statusCode"] == 201
    event["body"] = json.dumps({"payload": {"ip": "192.0.2.2"}, "taskId": "device-42-boot"})

    response = create.handler(event, lambda_context)

    assert response["statusCode"] == 409
    assert json.loads(item(table, "device-42-boot")["payload"]) == {"ip": "192.0.2.1"}


# --- many processors at once ---------------------------------------------------------------


def test_eight_claimers_take_5000_tasks_each_exactly_once(aws: None) -> None:
    with harness.atomic_items():
        table = harness.create_table()
        ids = harness.seed(table, 5000, now_ms=int(time.time() * 1000))
        run = harness.claim_concurrently(8)
        statuses = harness.statuses(table)

    assert run.errors == []
    assert run.duplicates() == []
    assert sorted(run.claims) == ids  # none lost
    assert statuses == Counter({"TAKEN": 5000})
    assert sum(1 for taken in run.taken.values() if taken) == 8  # all of them took work
    assert run.lost_races > 0  # they did race


def test_eight_processors_drain_the_queue_calling_the_downstream_once_per_task(
    aws: None,
) -> None:
    with harness.atomic_items():
        table = harness.create_table()
        ids = harness.seed(table, 400, now_ms=int(time.time() * 1000))
        run = harness.drain_concurrently(8)
        statuses = harness.statuses(table)

    assert run.errors == []
    assert run.duplicates() == [] and sorted(run.claims) == ids
    assert statuses == Counter({"SUCCESS": 400})
