"""The processor's loop: newest PENDING task first, one claim at a time, bounded in time.

No Lambda or boto3 here: the table, the downstream call and the clock come in, so tests
drive the loop with a frozen clock and the benchmark with many threads.

A run first returns expired claims to the queue (their processor died), then repeats:
read the newest page of live PENDING tasks, claim each (a lost race is skipped), call the
downstream, record SUCCESS or FAILURE. It stops when the queue is empty, when `max_loop_s`
has passed (more work remains: the caller publishes a tail call), or when the downstream
says it is busy (the task goes back to PENDING and the run ends).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import tasks


class DownstreamBusy(Exception):
    """The downstream is at capacity: the task returns to PENDING and the run ends."""


class InvalidTask(Exception):
    """The task can never succeed (its payload is wrong): FAILURE at once, no retry."""


@dataclass(frozen=True)
class Limits:
    """batch_limit: tasks per index page; max_loop_s: the run's time budget; lease_s: how
    long a claim holds before another run may take the task back; processed_ttl_s: how
    long finished tasks are kept; max_attempts: claims before an erroring task fails;
    spread: other processors run at the same time (claim each page in random order)."""

    batch_limit: int = 10
    max_loop_s: float = 60.0
    lease_s: int = 120
    processed_ttl_s: int = 86_400
    max_attempts: int = 3
    spread: bool = False


Stop = Literal["empty", "time", "busy"]
STALE_PAGE_LOSSES = 3  # lost races in a row after which a page is read again


@dataclass
class Outcome:
    """What one run did; `more` is True when PENDING work may remain."""

    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    reclaimed: list[str] = field(default_factory=list)
    lost_races: int = 0
    stopped: Stop = "empty"

    @property
    def more(self) -> bool:
        return self.stopped != "empty"


Downstream = Callable[[tasks.Task], Any]
OnError = Callable[[tasks.Task, BaseException, bool], None]


def _ignore(task: tasks.Task, error: BaseException, final: bool) -> None:
    return None


def drain(
    table: Any,
    downstream: Downstream,
    *,
    clock: Callable[[], float],
    limits: Limits,
    on_error: OnError = _ignore,
) -> Outcome:
    """One processor run. `on_error(task, error, final)` hears of every task the downstream
    raised on (final: it was marked FAILURE rather than returned to the queue)."""
    outcome = Outcome()
    started = clock()

    def now_ms() -> int:
        return int(clock() * 1000)

    def out_of_time() -> bool:
        return clock() - started >= limits.max_loop_s

    lease_ms = limits.lease_s * 1000
    outcome.reclaimed = tasks.reclaim_expired(table, now_ms=now_ms())
    while True:
        if out_of_time():
            outcome.stopped = "time"
            return outcome
        page = tasks.live_pending_page(table, now_ms=now_ms(), limit=limits.batch_limit)
        if not page:
            outcome.stopped = "empty"
            return outcome
        claims = claim_from(
            table, page, now_ms=now_ms, lease_ms=lease_ms, outcome=outcome, spread=limits.spread
        )
        for task in claims:
            if not _run_one(table, task, downstream, now_ms, limits, outcome, on_error):
                outcome.stopped = "busy"
                return outcome
            if out_of_time():
                outcome.stopped = "time"
                return outcome


def claim_from(
    table: Any,
    page: list[dict[str, Any]],
    *,
    now_ms: Callable[[], int],
    lease_ms: int,
    outcome: Outcome,
    spread: bool = False,
    shuffle: Callable[[list[dict[str, Any]]], None] = random.shuffle,
) -> Iterator[tasks.Task]:
    """Claim the page's tasks one at a time as the caller asks for them, newest first.

    A lost race means other processors work the same page: the rest of it is then tried
    in random order, so they spread over it instead of queueing behind each other, and
    after `STALE_PAGE_LOSSES` losses in a row the page is given up (the caller reads a
    fresh one). A lone processor never loses a race, so it keeps strict newest-first order;
    several (`spread`) cannot keep it anyway, and start in random order within the page.
    """
    remaining = list(page)
    if spread:
        shuffle(remaining)
    losses = 0
    while remaining and losses < STALE_PAGE_LOSSES:
        task = tasks.claim(table, remaining.pop(0), now_ms=now_ms(), lease_ms=lease_ms)
        if task is not None:
            losses = 0
            yield task
            continue
        losses += 1
        outcome.lost_races += 1
        shuffle(remaining)


def _run_one(
    table: Any,
    task: tasks.Task,
    downstream: Downstream,
    now_ms: Callable[[], int],
    limits: Limits,
    outcome: Outcome,
    on_error: OnError,
) -> bool:
    """Call the downstream for a claimed task and record the result; False when busy."""
    retain = limits.processed_ttl_s
    try:
        result = downstream(task)
    except DownstreamBusy:
        tasks.release(table, task, now_ms=now_ms())
        outcome.released.append(task.task_id)
        return False
    except Exception as error:
        final = isinstance(error, InvalidTask) or task.attempts >= limits.max_attempts
        on_error(task, error, final)
        if final:
            reason = f"{type(error).__name__}: {error}"
            if tasks.complete(
                table, task, tasks.FAILURE, now_ms=now_ms(), retain_s=retain, error=reason
            ):
                outcome.failed.append(task.task_id)
        elif tasks.release(table, task, now_ms=now_ms()):
            outcome.released.append(task.task_id)
        return True
    if tasks.complete(table, task, tasks.SUCCESS, now_ms=now_ms(), retain_s=retain, result=result):
        outcome.succeeded.append(task.task_id)
    return True
