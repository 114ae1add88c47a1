"""cdc-data-lake transform: records per second through the Firehose handler, in process.

A 1 MB Firehose batch (the Lambda processor buffer the component sets) of DynamoDB change
records in the Kinesis Data Streams format goes through the real handler (Powertools
logging and metrics on, tracing off). The baseline, in the same run, is the least any
transform must do with the same records: base64-decode, `json.loads`, `json.dumps`,
base64-encode, with no validation, no DynamoDB JSON decoding and no response budget.
"""

from __future__ import annotations

import base64
import contextlib
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

BATCH_BYTES = 1_000_000
START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
FOLDER = ROOT / "functions" / "cdc_data_lake"
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "CREATION_TIME_PRECISION": "MILLISECOND",
    "PARTITION_TIME": "arrival",
}


class _Context:
    function_name = "bench-transform"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench-transform"
    memory_limit_in_mb = 256
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def change(i: int) -> dict[str, Any]:
    """An order change of about 600 bytes: strings, numbers, a set, a map, binary."""
    keys = {"pk": {"S": f"ORDER#{i % 997}"}, "sk": {"S": "ORDER"}}
    image = {
        **keys,
        "status": {"S": "PAID" if i % 2 else "PLACED"},
        "total": {"N": f"{i}.99"},
        "quantity": {"N": str(i % 7 + 1)},
        "tags": {"SS": ["bench", f"t{i % 5}"]},
        "shipping": {"M": {"city": {"S": "Dublin"}, "zones": {"NS": ["4", "12"]}}},
        "signature": {"B": "3q2+7w=="},
    }
    name = ("INSERT", "MODIFY", "REMOVE")[i % 3]
    return {
        "awsRegion": "eu-west-1",
        "eventID": f"{i:08x}-0000-4000-8000-000000000000",
        "eventName": name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "orders",
        "dynamodb": {
            "ApproximateCreationDateTime": START_MS + i * 1_000,
            "Keys": keys,
            **({"NewImage": image} if name != "REMOVE" else {}),
            **({"OldImage": image} if name != "INSERT" else {}),
            "SizeBytes": 300,
        },
        "eventSource": "aws:dynamodb",
    }


def event() -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    size = 0
    while size < BATCH_BYTES:
        i = len(records)
        data = base64.b64encode(json.dumps(change(i)).encode()).decode()
        size += len(data)
        records.append(
            {
                "recordId": f"{i:056d}",
                "approximateArrivalTimestamp": START_MS + i * 1_000 + 500,
                "data": data,
                "kinesisRecordMetadata": {
                    "sequenceNumber": f"{10**40 + i}",
                    "subsequenceNumber": 0,
                    "partitionKey": f"{i:032x}",
                    "shardId": "shardId-000000000000",
                    "approximateArrivalTimestamp": START_MS + i * 1_000 + 500,
                },
            }
        )
    return {
        "invocationId": "bench",
        "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/bench",
        "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/bench",
        "region": "eu-west-1",
        "records": records,
    }


def round_trip(batch: dict[str, Any]) -> dict[str, Any]:
    """The baseline: decode and re-encode every record, nothing else."""
    return {
        "records": [
            {
                "recordId": record["recordId"],
                "result": "Ok",
                "data": base64.b64encode(
                    (json.dumps(json.loads(base64.b64decode(record["data"]))) + "\n").encode()
                ).decode(),
            }
            for record in batch["records"]
        ]
    }


@contextlib.contextmanager
def _transform() -> Iterator[Any]:
    saved = {k: os.environ.get(k) for k in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)
    # The zip's root: the handler folder plus the shared modules packaging adds to it.
    folders = [str(FOLDER), str(FOLDER.parent / "shared")]
    sys.path[:0] = folders
    try:
        yield importlib.import_module("transform")
    finally:
        for folder in folders:
            sys.path.remove(folder)
        for name in ("transform", "changes", "ddb_json"):
            sys.modules.pop(name, None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _median(run: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    samples, result = [], {}
    for _ in range(RUNS):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def run() -> list[str]:
    batch = event()
    count = len(batch["records"])
    baseline, _ = _median(lambda: round_trip(batch))
    with _transform() as transform:
        handled, response = _median(lambda: transform.handler(batch, _Context()))
    ok = sum(1 for r in response["records"] if r["result"] == "Ok")
    if ok != count:
        raise AssertionError(f"the bench batch must transform cleanly ({ok}/{count} Ok)")
    out = len(json.dumps(response))
    return [
        f"{count} change records in a {BATCH_BYTES // 1_000_000} MB Firehose batch, "
        f"in process, median of {RUNS}",
        f"  {'baseline: base64 + json round trip':<44} {count / baseline:10.0f} records/s",
        f"  {'transform handler (validated, typed, budget)':<44} {count / handled:10.0f} records/s"
        f"   {handled / baseline:5.2f}x baseline time",
        f"  response {out / 1_000_000:.2f} MB for a {BATCH_BYTES / 1_000_000:.2f} MB batch "
        f"(Lambda limit 6 MB); per 1 MB batch {handled * 1000:.0f} ms of a 60 s timeout",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
