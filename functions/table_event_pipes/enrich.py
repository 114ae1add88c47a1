"""Pipe enrichment: each filtered stream record becomes its item type's domain event.

Input: the batch as a JSON array of stream records. Output: a JSON array of
`{"detailType", "detail"}`, one per record that has an item type, in input order; the
pipe's target takes `detailType` as the event's detail-type and `detail` as its detail.
A record no type claims (one the pipe's filters should have removed) is left out and
logged, so the output may be shorter than the input; each event names its record in
`detail.sourceEventId`, and an empty array invokes no target (Pipes lets an enrichment
filter). Related items are read with one BatchGetItem per 100 keys.

All or nothing: a record that cannot become its event (a template path it lacks, a bad
number, several types claiming it) and a failed lookup raise a typed error after one ERROR
log line naming the record(s), so the pipe retries and then dead-letters the whole batch.
Deterministic, so a repeated batch gives the same events.

The output is returned as JSON bytes, which the Lambda runtime passes through untouched:
numbers keep every digit (a returned dict would have its Decimals written as floats).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import boto3
import ddb_json
import events
import lookups
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

ITEM_TYPES: dict[str, dict[str, Any]] = json.loads(os.environ["ITEM_TYPES"])
LOOKUP_TABLE_NAME = os.environ.get("LOOKUP_TABLE_NAME", "")

logger = Logger()
metrics = Metrics()

dynamodb = boto3.client("dynamodb")


def event_id(record: Any) -> str | None:
    return record.get("eventID") if isinstance(record, Mapping) else None


@contextmanager
def failure_logged(records: Sequence[Any]) -> Iterator[None]:
    """One ERROR line (with the exception's type) naming the records a failure is about."""
    try:
        yield
    except Exception:
        ids = [event_id(record) for record in records]
        named = {"eventId": ids[0]} if len(ids) == 1 else {"eventIds": ids}
        logger.exception("Enrichment failed; the pipe retries the batch", extra=named)
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # events carry item data
@metrics.log_metrics
def handler(event: list[dict[str, Any]], context: LambdaContext) -> bytes:
    routed = []
    for record in event:
        with failure_logged([record]):
            spec = events.spec_of(ITEM_TYPES, record)
        if spec is None:
            logger.warning(
                "No item type takes the record; skipped",
                extra={"eventId": event_id(record)},
            )
            continue
        routed.append((record, spec))
    keys = [key for record, spec in routed if (key := events.lookup_key(spec, record))]
    with failure_logged([record for record, _ in routed]):
        related = lookups.batch_get(dynamodb, LOOKUP_TABLE_NAME, keys) if keys else {}
    enriched = []
    for record, spec in routed:
        with failure_logged([record]):
            enriched.append(events.domain_event(spec, record, related, lookups.identity))
    metrics.add_metric(name="EnrichedRecords", unit=MetricUnit.Count, value=len(enriched))
    if len(enriched) < len(event):
        metrics.add_metric(
            name="SkippedRecords", unit=MetricUnit.Count, value=len(event) - len(enriched)
        )
    return ddb_json.dumps(enriched).encode()
