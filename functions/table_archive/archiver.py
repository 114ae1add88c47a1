"""Archives a table's stream records to S3: one gzipped NDJSON object per partition hour.

A failed write is reported as a batch item failure with the lowest sequence number among
the failed groups, so Lambda resumes the shard there and no record is lost. A record that
cannot be archived is reported the same way (the records before it are written, the ones
after it are retried with it); one without a sequence number cannot be reported, so it
raises and the mapping bisects the batch until it isolates it (then the on-failure queue
gets it). Each failure writes one ERROR log line naming its record(s) and its error type.
`ArchivedRecords` counts the records actually written.
"""

from __future__ import annotations

import os
from typing import Any

import archive
import boto3
import store
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

BUCKET_NAME = os.environ["BUCKET_NAME"]
ARCHIVE_PREFIX = os.environ["ARCHIVE_PREFIX"]
SOURCE_TABLE_NAME = os.environ["SOURCE_TABLE_NAME"]

logger = Logger()
metrics = Metrics()

s3 = boto3.client("s3")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    try:
        objects, poison = archive.plan(records, prefix=ARCHIVE_PREFIX, table=SOURCE_TABLE_NAME)
    except archive.UnidentifiableRecordError as error:
        logger.exception(
            "Record without a sequence number; the whole batch fails",
            extra={"eventId": error.event_id},
        )
        raise
    if poison is not None:
        logger.exception(
            "Record cannot be archived; the shard resumes at it",
            exc_info=poison.error,
            extra={"eventId": poison.event_id, "sequenceNumber": poison.sequence_number},
        )
        metrics.add_metric(name="UnarchivableRecords", unit=MetricUnit.Count, value=1)
    failed: list[archive.ArchiveObject] = []
    written = 0
    for obj in objects:
        refused = store.put(s3, BUCKET_NAME, obj)
        if refused is None:
            written += len(obj.sequence_numbers)
            continue
        logger.exception(
            "Archive write failed; the shard resumes at its lowest sequence number",
            exc_info=refused,
            extra={
                "key": obj.key,
                "sequenceNumber": obj.lowest_sequence_number,
                "records": len(obj.sequence_numbers),
            },
        )
        failed.append(obj)
    metrics.add_metric(name="ArchivedRecords", unit=MetricUnit.Count, value=written)
    metrics.add_metric(
        name="ArchiveObjects", unit=MetricUnit.Count, value=len(objects) - len(failed)
    )
    if failed:
        metrics.add_metric(name="FailedArchiveObjects", unit=MetricUnit.Count, value=len(failed))
    return archive.failure_response(failed, poison)
