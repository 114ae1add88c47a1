"""Pipe enrichment: each filtered stream record becomes its item type's domain event.

Input: the batch as a JSON array of stream records. Output: an array of the same length
and order of `{"detailType", "detail"}`; the pipe's target takes `detailType` as the
event's detail-type and `detail` as its detail. Related items are read with one
BatchGetItem per 100 keys; throttling and other errors raise, so the pipe retries and
then dead-letters the batch. Deterministic, so a repeated batch gives the same events.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import events
import lookups
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

ITEM_TYPES: dict[str, dict[str, Any]] = json.loads(os.environ["ITEM_TYPES"])
LOOKUP_TABLE_NAME = os.environ.get("LOOKUP_TABLE_NAME", "")

logger = Logger()
tracer = Tracer()
metrics = Metrics()

dynamodb = boto3.client("dynamodb")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: list[dict[str, Any]], context: LambdaContext) -> list[dict[str, Any]]:
    keys = events.plan_lookups(ITEM_TYPES, event)
    related = lookups.batch_get(dynamodb, LOOKUP_TABLE_NAME, keys) if keys else {}
    enriched = events.domain_events(ITEM_TYPES, event, related, lookups.identity)
    metrics.add_metric(name="EnrichedRecords", unit=MetricUnit.Count, value=len(enriched))
    return enriched
