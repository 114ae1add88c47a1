"""Archives a table's stream records to S3: one gzipped NDJSON object per partition hour.

A failed write is reported as a batch item failure with the lowest sequence number among
the failed groups, so Lambda resumes the shard there and no record is lost; a malformed
record raises, and the mapping bisects the batch until it isolates it (then the on-failure
queue gets it).
"""

from __future__ import annotations

import os
from typing import Any

import archive
import boto3
import store
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

BUCKET_NAME = os.environ["BUCKET_NAME"]
ARCHIVE_PREFIX = os.environ["ARCHIVE_PREFIX"]
SOURCE_TABLE_NAME = os.environ["SOURCE_TABLE_NAME"]

logger = Logger()
tracer = Tracer()
metrics = Metrics()

s3 = boto3.client("s3")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    objects = archive.plan(records, prefix=ARCHIVE_PREFIX, table=SOURCE_TABLE_NAME)
    failed = []
    for obj in objects:
        if store.put(s3, BUCKET_NAME, obj):
            continue
        logger.error(
            "Archive write failed; the shard resumes at its lowest sequence number",
            extra={"key": obj.key, "records": len(obj.sequence_numbers)},
        )
        failed.append(obj)
    metrics.add_metric(name="ArchivedRecords", unit=MetricUnit.Count, value=len(records))
    metrics.add_metric(
        name="ArchiveObjects", unit=MetricUnit.Count, value=len(objects) - len(failed)
    )
    if failed:
        metrics.add_metric(name="FailedArchiveObjects", unit=MetricUnit.Count, value=len(failed))
    return archive.failure_response(failed)
