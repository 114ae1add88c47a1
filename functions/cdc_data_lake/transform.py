"""Firehose data transformation: DynamoDB change records -> partitioned lake lines.

Returns one entry per input `recordId` (see `changes`): `Ok` with the line and its
partition keys, or `ProcessingFailed`, which Firehose writes raw under the error prefix.
Each failure is logged with its recordId and reason (never the record's data, which holds
the table's items). An event without records, or a record without a recordId, raises:
Firehose then retries the invocation and, once its retries are spent, fails the batch
into the error prefix as a whole.
"""

from __future__ import annotations

import os
from typing import Any, cast

import changes
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

PRECISION = cast(changes.Precision, os.environ.get("CREATION_TIME_PRECISION", "MILLISECOND"))
PARTITION_TIME = cast(changes.PartitionTime, os.environ.get("PARTITION_TIME", "arrival"))

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        records = changes.records_of(event)
        outcome = changes.transform(records, precision=PRECISION, partition_time=PARTITION_TIME)
    except changes.InvalidChangeError:
        logger.exception("Not a Firehose transformation event; Firehose retries the batch")
        raise
    for record_id, reason in outcome.failed:
        logger.error("Record not transformed", extra={"recordId": record_id, "reason": reason})
    metrics.add_metric(name="TransformedRecords", unit=MetricUnit.Count, value=outcome.ok)
    if outcome.failed:
        metrics.add_metric(name="FailedRecords", unit=MetricUnit.Count, value=len(outcome.failed))
    if outcome.over_budget:
        metrics.add_metric(
            name="OverBudgetRecords", unit=MetricUnit.Count, value=outcome.over_budget
        )
    return outcome.response
