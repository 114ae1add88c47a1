"""Extracts each uploaded CSV into one `RecordExtracted` event per row.

SQS delivers the landing bucket's notifications; each message names one or more created
objects. An object is streamed with Powertools `S3Object` and its CSV transform (never
held whole in memory), its rows put on the bus at PutEvents' limits, and entries that still
fail after the retries parked in the unsent-events queue. What cannot be extracted (too
big, not a CSV, no header, bad UTF-8, rows past max_rows) becomes `RecordFailed`; a message
that is not an S3 notification, or an object that cannot be read right now, is a batch
item failure, so SQS retries it and finally dead-letters it. S3's `s3:TestEvent` names no
object and is acknowledged.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from typing import Any

import boto3
import etl_events
import extractor
import publisher
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.streaming import S3Object
from aws_lambda_powertools.utilities.streaming.transformations import CsvTransform
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from lambda_tracing import tracer

BUS_NAME = os.environ["EVENT_BUS_NAME"]
EVENT_SOURCE = os.environ["EVENT_SOURCE"]
UNSENT_QUEUE_URL = os.environ["UNSENT_QUEUE_URL"]
LIMITS = extractor.Limits(
    max_file_bytes=int(os.environ.get("MAX_FILE_MB", "50")) * 1024 * 1024,
    max_rows=int(os.environ.get("MAX_ROWS", "100000")),
    prefix=os.environ.get("LANDING_PREFIX", ""),
)
PUT_ATTEMPTS = int(os.environ.get("PUT_ATTEMPTS", "4"))
PUT_WORKERS = int(os.environ.get("PUT_WORKERS", "4"))
WINDOW = 500  # entries in flight at once: 50 PutEvents calls spread over the workers
GONE = frozenset({"NoSuchKey", "NoSuchVersion", "404"})

logger = Logger()
metrics = Metrics()

s3 = boto3.client("s3")
events = boto3.client("events")
sqs = boto3.client("sqs")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def send(entries: Iterable[etl_events.Entry]) -> publisher.PutReport:
    """Put `entries` on the bus window by window; park what never got there."""
    report = publisher.PutReport()
    iterator = iter(entries)
    while window := list(itertools.islice(iterator, WINDOW)):
        part = publisher.put_all(events, window, attempts=PUT_ATTEMPTS, workers=PUT_WORKERS)
        if part.unsent:
            publisher.park(sqs, UNSENT_QUEUE_URL, part.unsent, stage=extractor.STAGE)
        report.add(part)
    return report


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@tracer.capture_method
def extract_file(obj: extractor.S3Object) -> extractor.FileTally:
    walker = extractor.RowEntries(obj, BUS_NAME, EVENT_SOURCE, LIMITS)
    stream = S3Object(bucket=obj.bucket, key=obj.key, version_id=obj.version_id, boto3_client=s3)
    reader = None
    try:
        # HEAD first: the size the guard checks, and a deleted object is found before reading.
        obj = extractor.S3Object(obj.bucket, obj.key, obj.etag, stream.size, obj.version_id)
        reason = extractor.refusal(obj, LIMITS)
    except ClientError as error:
        if _error_code(error) not in GONE:
            raise  # throttled, denied...: SQS retries the message
        reason = "the object no longer exists"
    if reason is None:
        reader = stream.transform(CsvTransform(restkey=extractor.EXTRA, restval=None))
    if reader is None:
        report = send([walker.failed(None, reason or "unreadable"), walker.summary()])
    else:
        report = send(walker.walk(reader))
    tally = walker.tally
    metrics.add_metric(name="RowsExtracted", unit=MetricUnit.Count, value=tally.rows)
    metrics.add_metric(name="RowsFailed", unit=MetricUnit.Count, value=tally.failed)
    metrics.add_metric(name="EntriesUnsent", unit=MetricUnit.Count, value=len(report.unsent))
    metrics.add_metric(name="PutEventsCalls", unit=MetricUnit.Count, value=report.calls)
    log = logger.warning if report.unsent or not tally.complete else logger.info
    log(
        "File extracted",
        extra={
            "fileKey": obj.key,
            "etag": obj.etag,
            "rows": tally.rows,
            "failed": tally.failed,
            "complete": tally.complete,
            "calls": report.calls,
            "resent": report.resent,
            "unsent": len(report.unsent),
        },
    )
    return tally


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    try:
        found = extractor.objects(record.body)
        if not found:
            logger.info("S3 test event acknowledged", extra={"messageId": record.message_id})
            return
        for obj in found:
            extract_file(obj)
    except Exception:
        logger.exception(
            "Message not extracted; SQS will redeliver it", extra={"messageId": record.message_id}
        )
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
