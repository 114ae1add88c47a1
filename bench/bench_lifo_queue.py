"""lifo-queue: 5,000 tasks claimed by 8 concurrent claimers against moto, claims per second.

Each claimer does what the processor does to take work (`tasks.live_pending_page`, then
`lifo.claim_from`: conditional PENDING -> TAKEN writes, random order after a lost race) in
its own thread with its own boto3 session, against one moto DynamoDB table in this
process. The baseline is one claimer taking the same 5,000 tasks. Every run is checked:
each task was claimed exactly once and is TAKEN, none was lost. The figure is moto's (an
in-process interpreter holding the GIL, every index query a scan of the table), so it
compares the two rows, not DynamoDB.

moto does not serialise writes to one item across threads (it checks a condition, then
writes, with no lock between), while DynamoDB does; `atomic_items()` adds that lock around
moto's item operations, so what is measured and tested is our claim protocol.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from bench.timing import ROOT

TASKS = 5000
CLAIMERS = 8
PAGE = 100  # tasks per index read
REGION = "eu-west-1"
TABLE = "bench-lifo-tasks"
FOLDER = ROOT / "functions" / "lifo_queue"
_ITEM_OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan")


@contextlib.contextmanager
def atomic_items() -> Iterator[None]:
    """One lock around moto's item operations: each request becomes atomic, as in DynamoDB."""
    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in _ITEM_OPERATIONS}

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return call

    for name, method in originals.items():
        setattr(DynamoDBBackend, name, locked(method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(DynamoDBBackend, name, method)


def modules() -> tuple[Any, Any]:
    """The Lambda's `tasks` and `lifo` modules, imported as its zip root makes them."""
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    import lifo
    import tasks

    return tasks, lifo


def create_table(name: str = TABLE) -> Any:
    """The tasks table as the component makes it (key, `byStatus` index)."""
    return boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "taskId", "AttributeType": "S"},
            {"AttributeName": "taskStatus", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byStatus",
                "KeySchema": [
                    {"AttributeName": "taskStatus", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def seed(table: Any, count: int, *, now_ms: int, ttl_s: int = 3600) -> list[str]:
    """`count` PENDING tasks, one millisecond apart (the last is the newest)."""
    tasks, _ = modules()
    ids = [f"task-{i:05d}" for i in range(count)]
    with table.batch_writer() as batch:
        for i, task_id in enumerate(ids):
            batch.put_item(
                Item=tasks.new_item(
                    {"n": i}, now_ms=now_ms - count + i, ttl_s=ttl_s, task_id=task_id
                )
            )
    return ids


@dataclass
class ClaimRun:
    """Which processor took which tasks, and how long the whole drain took."""

    taken: dict[int, list[str]] = field(default_factory=dict)
    lost_races: int = 0
    seconds: float = 0.0
    errors: list[BaseException] = field(default_factory=list)

    @property
    def claims(self) -> list[str]:
        return [task_id for ids in self.taken.values() for task_id in ids]

    def duplicates(self) -> list[str]:
        return sorted(task_id for task_id, n in Counter(self.claims).items() if n > 1)


def _threads(claimers: int, work: Callable[[int, Any, Any], None], run: ClaimRun) -> None:
    """Run `work(number, table, lifo_outcome)` in `claimers` threads started together, each
    with its own boto3 session (boto3 resources are not thread-safe); time them all."""
    _, lifo = modules()
    start = threading.Barrier(claimers)

    def claimer(number: int) -> None:
        table = boto3.session.Session().resource("dynamodb", region_name=REGION).Table(TABLE)
        outcome = lifo.Outcome()
        try:
            start.wait()
            work(number, table, outcome)
        except BaseException as error:  # reported by the caller, never swallowed
            run.errors.append(error)
        finally:
            with _COUNT_LOCK:
                run.lost_races += outcome.lost_races

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(claimers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - began


_COUNT_LOCK = threading.Lock()


def claim_concurrently(claimers: int, *, batch_limit: int = PAGE, lease_s: int = 600) -> ClaimRun:
    """`claimers` threads each claiming (PENDING -> TAKEN) until no PENDING task is left:
    the newest page, then `lifo.claim_from`, as the processor does."""
    tasks, lifo = modules()
    run = ClaimRun(taken={n: [] for n in range(claimers)})

    def work(number: int, table: Any, outcome: Any) -> None:
        def now_ms() -> int:
            return int(time.time() * 1000)

        while page := tasks.live_pending_page(table, now_ms=now_ms(), limit=batch_limit):
            for task in lifo.claim_from(
                table,
                page,
                now_ms=now_ms,
                lease_ms=lease_s * 1000,
                outcome=outcome,
                spread=claimers > 1,
            ):
                run.taken[number].append(task.task_id)

    _threads(claimers, work, run)
    return run


def drain_concurrently(claimers: int, *, batch_limit: int = 10) -> ClaimRun:
    """`claimers` threads each running the processor's loop (`lifo.drain`) until the queue
    is empty; the downstream records which thread got each task."""
    _, lifo = modules()
    run = ClaimRun(taken={n: [] for n in range(claimers)})
    limits = lifo.Limits(batch_limit=batch_limit, max_loop_s=3600, lease_s=600, spread=claimers > 1)

    def work(number: int, table: Any, outcome: Any) -> None:
        def downstream(task: Any) -> dict[str, Any]:
            run.taken[number].append(task.task_id)
            return {"by": number}

        result = lifo.drain(table, downstream, clock=time.time, limits=limits)
        outcome.lost_races += result.lost_races

    _threads(claimers, work, run)
    return run


def statuses(table: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    kwargs: dict[str, Any] = {"ProjectionExpression": "taskStatus"}
    while True:
        page = table.scan(**kwargs)
        counts.update(str(item["taskStatus"]) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return counts
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _checked(claimers: int) -> ClaimRun:
    """Claim a fresh table of TASKS tasks with `claimers` threads, verified exactly-once."""
    with mock_aws(), atomic_items():
        table = create_table()
        ids = seed(table, TASKS, now_ms=int(time.time() * 1000))
        run = claim_concurrently(claimers)
        if run.errors:
            raise run.errors[0]
        taken = statuses(table)
    if run.duplicates() or sorted(run.claims) != ids or taken != Counter({"TAKEN": TASKS}):
        raise AssertionError(
            f"{len(run.claims)} claims for {TASKS} tasks, duplicates {run.duplicates()[:3]}, "
            f"statuses {dict(taken)}"
        )
    return run


def run() -> list[str]:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        os.environ.setdefault(name, value)
    single = _checked(1)
    many = _checked(CLAIMERS)
    lines = [
        f"claim {TASKS} tasks against moto in process, pages of {PAGE} newest first "
        "(each claimed exactly once, checked every run)"
    ]
    for label, result in (
        ("baseline: 1 claimer", single),
        (f"{CLAIMERS} concurrent claimers", many),
    ):
        lines.append(
            f"  {label:<30} {TASKS / result.seconds:7.0f} claims/s   "
            f"{single.seconds / result.seconds:5.2f}x baseline   "
            f"{result.lost_races:5d} lost races"
        )
    return lines
