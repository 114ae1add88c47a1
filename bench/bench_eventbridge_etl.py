"""eventbridge-etl: a 100,000-row CSV extracted onto the bus against moto, rows per second.

The extractor's own code (`extract.extract_file`: HEAD, Powertools `S3Object` + CSV
transform, PutEvents batched at 10 entries / 256 KB, four calls in parallel) runs against
moto's S3, EventBridge and SQS in this process, through a counting client that also
injects entry-level failures: one row in 1,000 fails once (resent), one in 25,000 fails
every time (parked in the unsent queue after the retries; backoff sleeps are skipped).
Every run is checked: calls <= ceil(entries / 10), no call over 10 entries or 256 KB, and
each of the 100,000 rows either accepted by the bus or parked, exactly once, none lost.
The baseline, in the same run, is the seed's approach: one PutEvents call per row (over
the first 5,000 rows, which is plenty to measure a rate). moto answers in well under a
millisecond, so the figures compare the two rows, not EventBridge's latency.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws

from bench.timing import ROOT

ROWS = 100_000
BASELINE_ROWS = 5_000
TRANSIENT_EVERY = 1_000
PERMANENT_EVERY = 25_000
REGION = "eu-west-1"
BUCKET = "bench-etl-landing"
BUS = "bench-etl"
SOURCE = "etl.bench"
KEY = "incoming/bench.csv"
FOLDER = ROOT / "functions" / "eventbridge_etl"


def csv_body(rows: int) -> bytes:
    lines = ["id,name,street,town,zip,amount"]
    lines += [
        f"C-{i:06d},Customer {i},{i % 900 + 1} Main Street,Town {i % 97},{10000 + i % 89999},"
        f"{(i * 37) % 10000 / 100:.2f}"
        for i in range(1, rows + 1)
    ]
    return ("\n".join(lines) + "\n").encode()


class CountingEvents:
    """moto's events client, counting calls and entries, failing the rows it is told to."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.calls: list[tuple[int, int]] = []  # (entries, bytes) per call
        self.accepted: Counter[int | None] = Counter()
        self.failed_once: set[int] = set()

    def _fails(self, row: int | None) -> bool:
        if row is None:
            return False
        if row % PERMANENT_EVERY == 0:
            return True
        if row % TRANSIENT_EVERY == 0:
            with self.lock:
                if row not in self.failed_once:
                    self.failed_once.add(row)
                    return True
        return False

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        size = sum(len(e["Source"]) + len(e["DetailType"]) + len(e["Detail"]) for e in Entries)
        rows = [json.loads(e["Detail"]).get("row") for e in Entries]
        failing = {i for i, row in enumerate(rows) if self._fails(row)}
        passing = [e for i, e in enumerate(Entries) if i not in failing]
        answers = iter(self.client.put_events(Entries=passing)["Entries"] if passing else [])
        with self.lock:
            self.calls.append((len(Entries), size))
            self.accepted.update(row for i, row in enumerate(rows) if i not in failing)
        return {
            "FailedEntryCount": len(failing),
            "Entries": [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
                if i in failing
                else next(answers)
                for i in range(len(Entries))
            ],
        }


def _environment(unsent_url: str) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "EVENT_BUS_NAME": BUS,
        "EVENT_SOURCE": SOURCE,
        "UNSENT_QUEUE_URL": unsent_url,
        "LANDING_PREFIX": "incoming/",
        "MAX_FILE_MB": "50",
        "MAX_ROWS": str(ROWS),
    }.items():
        os.environ[name] = value


def _modules() -> tuple[Any, Any, Any]:
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    for name in ("extract", "extractor", "publisher", "etl_events"):
        sys.modules.pop(name, None)  # fresh clients inside this mock
    import extract
    import extractor
    import publisher

    return extract, extractor, publisher


def _unsent_rows(sqs: Any, url: str) -> list[int]:
    rows = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            rows.append(json.loads(json.loads(message["Body"])["entry"]["Detail"])["row"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return rows


def _extract_batched() -> tuple[float, CountingEvents, list[int]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        unsent_url = sqs.create_queue(QueueName="bench-unsent")["QueueUrl"]
        _environment(unsent_url)
        body = csv_body(ROWS)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
        extract, extractor, publisher = _modules()
        publisher.backoff = lambda attempt: 0.0
        counting = CountingEvents(extract.events)
        extract.events = counting
        began = time.perf_counter()
        tally = extract.extract_file(extractor.S3Object(BUCKET, KEY, "bench-etag", len(body)))
        seconds = time.perf_counter() - began
        parked = _unsent_rows(sqs, unsent_url)
    if tally.rows != ROWS or not tally.complete:
        raise AssertionError(f"extracted {tally.rows} rows of {ROWS} (complete={tally.complete})")
    return seconds, counting, parked


def _baseline() -> float:
    """One PutEvents call per row, as the seed's extractor did."""
    body = csv_body(BASELINE_ROWS).decode().splitlines()
    headers = body[0].split(",")
    with mock_aws():
        client = boto3.client("events", region_name=REGION)
        client.create_event_bus(Name=BUS)
        began = time.perf_counter()
        for row, line in enumerate(body[1:], start=1):
            detail = {"fileKey": KEY, "row": row, "headers": headers, "data": line.split(",")}
            entry = {
                "EventBusName": BUS,
                "Source": SOURCE,
                "DetailType": "RecordExtracted",
                "Detail": json.dumps(detail),
            }
            if client.put_events(Entries=[entry])["FailedEntryCount"]:
                raise AssertionError("the baseline put failed")
        return time.perf_counter() - began


def _check(counting: CountingEvents, parked: list[int]) -> tuple[int, int]:
    """(first-attempt calls, resend calls), after checking every row is accounted for."""
    entries = ROWS + 1  # every row plus FileExtracted
    first_attempt = math.ceil(entries / 10)
    permanent = {r for r in range(1, ROWS + 1) if r % PERMANENT_EVERY == 0}
    rows = Counter({r: n for r, n in counting.accepted.items() if r is not None})
    problems = []
    if max(n for n, _ in counting.calls) > 10 or max(b for _, b in counting.calls) > 256 * 1024:
        problems.append("a call over 10 entries or 256 KB")
    if any(n != 1 for n in rows.values()):
        problems.append("a row accepted more than once")
    if set(rows) | set(parked) != set(range(1, ROWS + 1)) or set(rows) & set(parked):
        problems.append(f"{ROWS - len(rows) - len(parked)} rows neither on the bus nor parked")
    if sorted(parked) != sorted(permanent):
        problems.append(f"parked {sorted(parked)[:5]}, expected {sorted(permanent)}")
    calls = len(counting.calls)
    resend_calls = calls - first_attempt
    if resend_calls < 0 or resend_calls > 3 * (ROWS // TRANSIENT_EVERY):
        problems.append(f"{calls} calls for {entries} entries")
    if problems:
        raise AssertionError("; ".join(problems))
    return first_attempt, resend_calls


def run() -> list[str]:
    baseline_s = _baseline()
    batched_s, counting, parked = _extract_batched()
    first_attempt, resend_calls = _check(counting, parked)
    baseline_rate = BASELINE_ROWS / baseline_s
    rate = ROWS / batched_s
    resent = sum(1 for r in counting.failed_once if r % PERMANENT_EVERY)
    return [
        f"extract a {ROWS:,}-row CSV ({len(csv_body(ROWS)) / 1e6:.1f} MB) against moto in "
        "process; every row on the bus or parked, checked",
        f"  {'baseline: 1 PutEvents call per row':<44} {baseline_rate:8.0f} rows/s   "
        f"{BASELINE_ROWS:>7,} calls for {BASELINE_ROWS:,} rows",
        f"  {'extract: batched (10 / 256 KB), 4 in flight':<44} {rate:8.0f} rows/s   "
        f"{len(counting.calls):>7,} calls ({first_attempt:,} = ceil(entries/10) + "
        f"{resend_calls} resends)   {rate / baseline_rate:5.1f}x baseline",
        f"  {'injected failures':<44} {resent:>8} resent and accepted, "
        f"{len(parked)} parked in the unsent queue, 0 lost",
    ]
