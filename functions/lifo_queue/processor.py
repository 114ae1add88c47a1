"""The processor: drains the queue newest first, then tail-calls itself while work remains.

Invoked through the `process` topic (asynchronously; reserved concurrency keeps the
downstream's budget). A run ends within `MAX_LOOP_S` (and before the function's own
timeout), publishes a tail call when PENDING work may remain, and reports the age of the
oldest PENDING task, which the backlog alarm watches.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import time
from typing import Any

import boto3
import lifo
import tasks
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]
TOPIC_ARN = os.environ["TOPIC_ARN"]
DOWNSTREAM_MODULE = os.environ.get("DOWNSTREAM_MODULE", "downstream")
LIMITS = lifo.Limits(
    batch_limit=int(os.environ.get("BATCH_LIMIT", "10")),
    max_loop_s=float(os.environ.get("MAX_LOOP_S", "60")),
    lease_s=int(os.environ.get("CLAIM_TIMEOUT_S", "120")),
    processed_ttl_s=int(os.environ.get("PROCESSED_TTL_S", "86400")),
    max_attempts=int(os.environ.get("MAX_ATTEMPTS", "3")),
    spread=int(os.environ.get("PROCESSOR_CONCURRENCY", "1")) > 1,
)
# Time kept back from the function's timeout for the last writes and the tail call.
SAFETY_MARGIN_S = 5.0

logger = Logger()
metrics = Metrics()
metrics.set_default_dimensions(queue=TABLE_NAME)

table = boto3.resource("dynamodb").Table(TABLE_NAME)
sns = boto3.client("sns")
downstream = importlib.import_module(DOWNSTREAM_MODULE)

clock = time.time  # tests freeze it


def _on_error(task: tasks.Task, error: BaseException, final: bool) -> None:
    outcome = "marked FAILURE" if final else "returned to the queue"
    logger.error(
        f"Downstream call failed; task {outcome}",
        extra={"taskId": task.task_id, "attempts": task.attempts, "error": type(error).__name__},
        exc_info=not isinstance(error, lifo.InvalidTask),
    )


def _limits(context: LambdaContext) -> lifo.Limits:
    remaining_s = context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S
    if remaining_s < LIMITS.max_loop_s:
        return dataclasses.replace(LIMITS, max_loop_s=max(0.0, remaining_s))
    return LIMITS


def tail_call(reason: str) -> None:
    sns.publish(TopicArn=TOPIC_ARN, Message=json.dumps({"reason": reason}))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = lifo.drain(
        table, downstream.call, clock=clock, limits=_limits(context), on_error=_on_error
    )
    for name, count in (
        ("TasksSucceeded", len(outcome.succeeded)),
        ("TasksFailed", len(outcome.failed)),
        ("TasksReleased", len(outcome.released)),
        ("ClaimsReclaimed", len(outcome.reclaimed)),
        ("ClaimRacesLost", outcome.lost_races),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    oldest_ms = tasks.oldest_pending_age_ms(table, now_ms=int(clock() * 1000))
    metrics.add_metric(name="OldestPendingTaskAge", unit=MetricUnit.Seconds, value=oldest_ms / 1000)
    if outcome.more:
        tail_call(outcome.stopped)
    summary = {
        "succeeded": len(outcome.succeeded),
        "failed": len(outcome.failed),
        "released": len(outcome.released),
        "reclaimed": len(outcome.reclaimed),
        "lostRaces": outcome.lost_races,
        "stopped": outcome.stopped,
        "tailCall": outcome.more,
    }
    logger.info("Run finished", extra=summary)
    return summary
