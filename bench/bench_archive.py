"""table-archive handler: a 1,000-record batch over 24 hours, against one object per record."""

from __future__ import annotations

import contextlib
import gzip
import importlib
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.timing import ROOT, RUNS

RECORDS = 1000
HOURS = 24
BUCKET = "bench-archive"
START = 1_772_323_200  # 2026-03-01T00:00:00Z
FOLDER = ROOT / "functions" / "table_archive"
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "BUCKET_NAME": BUCKET,
    "ARCHIVE_PREFIX": "archive",
    "SOURCE_TABLE_NAME": "orders",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "bench",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


class _Context:
    function_name = "bench-archiver"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench-archiver"
    memory_limit_in_mb = 512
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def batch() -> dict[str, Any]:
    """1,000 INSERT/MODIFY records spread evenly over 24 partition hours."""
    records = []
    for i in range(RECORDS):
        key = {"pk": {"S": f"ORDER#{i % 97}"}, "sk": {"S": "ORDER"}}
        records.append(
            {
                "eventID": f"{i:032x}",
                "eventName": "INSERT" if i % 3 else "MODIFY",
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "ApproximateCreationDateTime": START + i * HOURS * 3600 // RECORDS,
                    "Keys": key,
                    "NewImage": {
                        **key,
                        "status": {"S": "PAID"},
                        "total": {"N": f"{i}.99"},
                        "tags": {"SS": ["bench", f"t{i % 5}"]},
                    },
                    "SequenceNumber": f"{10**20 + i}",
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
        )
    return {"Records": records}


def _naive(archive: Any, s3: Any, event: dict[str, Any]) -> None:
    """The design the pattern avoids: one object per record."""
    for record in event["Records"]:
        line = json.dumps(archive.to_line(record), separators=(",", ":")) + "\n"
        key = f"archive/naive/{record['dynamodb']['SequenceNumber']}.json.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(line.encode(), mtime=0))


@contextlib.contextmanager
def _archiver() -> Iterator[Any]:
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)
    # The zip's root: the handler folder plus the shared modules packaging adds to it.
    folders = [str(FOLDER), str(FOLDER.parent / "shared")]
    sys.path[:0] = folders
    try:
        with mock_aws():
            import boto3

            boto3.client("s3").create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
            yield importlib.import_module("archiver")
    finally:
        for folder in folders:
            sys.path.remove(folder)
        for name in ("archiver", "archive", "store", "ddb_json"):
            sys.modules.pop(name, None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _measure(run: Callable[[], object], count_puts: list[int]) -> tuple[float, int]:
    """Median seconds per run over RUNS, and the S3 writes of one run."""
    samples, writes = [], 0
    for _ in range(RUNS):
        before = count_puts[0]
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            run()
        samples.append(time.perf_counter() - start)
        writes = count_puts[0] - before
    return statistics.median(samples), writes


def run() -> list[str]:
    event = batch()
    with _archiver() as archiver:
        puts = [0]

        def count(**_: Any) -> None:
            puts[0] += 1

        archiver.s3.meta.events.register("provide-client-params.s3.PutObject", count)
        grouped, grouped_writes = _measure(lambda: archiver.handler(event, _Context()), puts)
        naive, naive_writes = _measure(lambda: _naive(archiver.archive, archiver.s3, event), puts)
    ratio = naive_writes / grouped_writes
    return [
        f"{RECORDS} records over {HOURS} partition hours, moto S3 in process, median of {RUNS}",
        f"  {'baseline: one object per record':<44} {RECORDS / naive:10.0f} records/s"
        f"   {naive_writes:5d} S3 writes",
        f"  {'archiver: one object per partition hour':<44} {RECORDS / grouped:10.0f} records/s"
        f"   {grouped_writes:5d} S3 writes",
        f"  S3 writes: {ratio:.1f}x fewer than per record "
        f"(target: writes = {HOURS} partition hours, >= 20x fewer)",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
