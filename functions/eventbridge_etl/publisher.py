"""PutEvents at the API's limits, resending only what failed, and parking what never went.

`put_all` sends entries in batches of at most 10 and 256 KB, reads each response's
`FailedEntryCount` and resends only the failed entries (with exponential backoff and
jitter), up to `attempts` tries in all. Entries that still fail, or fail with an error that
no retry can fix, come back as `Unsent`; `park` writes each to the unsent-events queue with
its error, so a row is on the bus or in that queue, never dropped.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import etl_events
from botocore.exceptions import ClientError

# Errors that a resend cannot fix: the entry itself (or the caller's rights) is wrong.
PERMANENT_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "InvalidArgument",
        "MalformedDetail",
        "NotAuthorizedForSourceException",
        "ValidationException",
    }
)
BASE_DELAY_S = 0.1
MAX_DELAY_S = 5.0


@dataclass(frozen=True)
class Unsent:
    """An entry that never reached the bus; `index` is its position in the input."""

    index: int
    entry: etl_events.Entry
    error_code: str
    error_message: str


@dataclass
class PutReport:
    sent: int = 0
    calls: int = 0
    resent: int = 0  # entries sent again after a partial failure
    unsent: list[Unsent] = field(default_factory=list)

    def add(self, other: PutReport) -> None:
        self.sent += other.sent
        self.calls += other.calls
        self.resent += other.resent
        self.unsent.extend(other.unsent)


def backoff(attempt: int) -> float:
    """Full jitter: a random delay up to BASE_DELAY_S * 2^attempt, capped."""
    return random.uniform(0, min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt))


def _put_batch(
    client: Any,
    batch: list[tuple[int, etl_events.Entry]],
    attempts: int,
    sleep: Callable[[float], None],
) -> PutReport:
    report = PutReport()
    pending = batch
    for attempt in range(attempts):
        if attempt:
            sleep(backoff(attempt))
            report.resent += len(pending)
        report.calls += 1
        try:
            response = client.put_events(Entries=[item for _, item in pending])
        except ClientError as error:
            # The whole call failed (botocore's own retries included): every entry is retried.
            code = error.response.get("Error", {}).get("Code", "ClientError")
            message = error.response.get("Error", {}).get("Message", str(error))
            results: list[dict[str, Any]] = [
                {"ErrorCode": code, "ErrorMessage": message} for _ in pending
            ]
        else:
            results = response.get("Entries", [])
            if not response.get("FailedEntryCount") and len(results) == len(pending):
                report.sent += len(pending)
                return report
        retry: list[tuple[int, etl_events.Entry]] = []
        for (index, item), result in zip(pending, results, strict=False):
            code = result.get("ErrorCode")
            if not code:
                report.sent += 1
            elif code in PERMANENT_ERRORS or attempt == attempts - 1:
                report.unsent.append(Unsent(index, item, code, result.get("ErrorMessage", "")))
            else:
                retry.append((index, item))
        # A response shorter than the request names no result for the rest: resend them.
        retry.extend(pending[len(results) :])
        if not retry:
            return report
        pending = retry
    for index, item in pending:
        report.unsent.append(Unsent(index, item, "RetriesExhausted", "no result after retries"))
    return report


def put_all(
    client: Any,
    entries: Sequence[etl_events.Entry],
    *,
    attempts: int = 4,
    workers: int = 1,
    sleep: Callable[[float], None] = time.sleep,
) -> PutReport:
    """Send `entries` (each must `etl_events.fits`) in as few calls as the limits allow;
    with `workers` > 1 the batches go out in parallel (boto3 clients are thread-safe)."""
    indexed = list(enumerate(entries))
    batches: list[list[tuple[int, etl_events.Entry]]] = []
    position = 0
    for batch in etl_events.batches(entries):
        batches.append(indexed[position : position + len(batch)])
        position += len(batch)
    report = PutReport()
    if workers <= 1 or len(batches) <= 1:
        for indexed_batch in batches:
            report.add(_put_batch(client, indexed_batch, attempts, sleep))
        return report
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(lambda b: _put_batch(client, b, attempts, sleep), batches):
            report.add(part)
    return report


def park(sqs: Any, queue_url: str, unsent: Sequence[Unsent], *, stage: str) -> None:
    """Each unsent entry, whole and with its error, to the unsent-events queue (raises if SQS
    refuses one: the caller then fails the message and the work is retried)."""
    for item in unsent:
        body = {
            "stage": stage,
            "errorCode": item.error_code,
            "errorMessage": item.error_message,
            "entry": item.entry,
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body, ensure_ascii=False))
