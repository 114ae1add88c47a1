"""Kinesis tumbling-window aggregator: many score events in, one write per (board, player)
per window out.

Lambda's tumbling-window contract: each invocation gets `window {start, end}`, the `state`
this function returned for the same shard and window (`{}` at first), `shardId`,
`eventSourceARN`, `isFinalInvokeForWindow`, `isWindowTerminatedEarly` and `Records`, and
must return `{"state": ...}` (Lambda counts a response without it as a failure), here
always with `batchItemFailures`.

- Every invocation merges its records into the state (best score per board and player).
- The final invocation of a window (`isFinalInvokeForWindow`), or one whose window Lambda
  ended early (`isWindowTerminatedEarly`), writes the state: one keyed put per (board,
  player), BatchWriteItem 25 at a time with UnprocessedItems retried. Replaying it writes
  the same items again, so nothing is counted twice. It still returns the state.
- A state that would pass STATE_BUDGET_BYTES (Lambda ends windows over 1 MB) is written
  there and then, and the window goes on with an empty state (`StateFlushes` metric).
- A record that is not a score event is a batch item failure (one ERROR line each, the
  `MalformedRecords` metric): Lambda retries from it, then hands its range to the
  on-failure queue. Merging the valid records again on that retry changes nothing.
- A record without a sequence number fails the invocation (the mapping bisects).
- A write that DynamoDB keeps refusing fails the invocation; Lambda retries it with the
  same state.
"""

from __future__ import annotations

import os
from typing import Any

import board_table
import boto3
import scores
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]

logger = Logger()
metrics = Metrics()

dynamodb = boto3.client("dynamodb")


def _flush(state: dict[str, Any], window_end: str, reason: str) -> None:
    items = scores.window_items(state, window_end)
    report = board_table.write_items(dynamodb, TABLE_NAME, items)
    logger.info(
        "Window written",
        extra={
            "reason": reason,
            "items": report.items,
            "calls": report.calls,
            "retriedItems": report.retried_items,
            "boards": len(state["boards"]),
        },
    )
    metrics.add_metric(name="RankedWrites", unit=MetricUnit.Count, value=report.items)
    if report.retried_items:
        metrics.add_metric(
            name="UnprocessedRetries", unit=MetricUnit.Count, value=report.retried_items
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    window_start, window_end = scores.window_bounds(event)
    logger.append_keys(shardId=event.get("shardId"), windowStart=window_start)
    state = scores.read_state(event.get("state"))
    try:
        events, rejected = scores.decode_batch(event.get("Records") or [])
    except scores.UnidentifiableRecordError:
        logger.exception("Record without a sequence number; the whole batch fails")
        raise
    for bad in rejected:
        logger.error(
            "Record is not a score event; reported as a batch item failure",
            extra={"sequenceNumber": bad.sequence_number, "reason": bad.reason},
        )
    if rejected:
        metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=len(rejected))
    metrics.add_metric(name="ScoreEvents", unit=MetricUnit.Count, value=len(events))

    scores.merge(state, events)
    if event.get("isFinalInvokeForWindow") or event.get("isWindowTerminatedEarly"):
        reason = "terminated-early" if event.get("isWindowTerminatedEarly") else "final"
        _flush(state, window_end, reason)
    elif scores.state_size(state) > scores.STATE_BUDGET_BYTES:
        logger.warning(
            "Window state near Lambda's 1 MB limit; written now, the window goes on empty",
            extra={"pairs": scores.pair_count(state)},
        )
        _flush(state, window_end, "state-budget")
        metrics.add_metric(name="StateFlushes", unit=MetricUnit.Count, value=1)
        state = scores.empty_state()
    return {
        "state": state,
        "batchItemFailures": [{"itemIdentifier": bad.sequence_number} for bad in rejected],
    }
