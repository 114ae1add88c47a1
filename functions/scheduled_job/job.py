"""Runs a scheduled job once per slot (schedule + scheduled time).

Scheduler retries a run it could not deliver and Lambda retries a run that raised, so one
slot can arrive several times. With an idempotency table (`IDEMPOTENCY_TABLE`), the work is
a Powertools idempotent function keyed on the slot: a slot that completed returns its stored
result without running again, a slot that failed leaves no record (Powertools deletes it)
and is run again by the next retry, and a slot still running makes a concurrent duplicate
fail with `IdempotencyAlreadyInProgressError`, which Lambda retries later.

The third-party key comes from Secrets Manager through Powertools parameters (cached for
`SECRET_MAX_AGE_S`); the environment holds only the secret's ARN.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer
from slots import InvalidScheduledEvent, ScheduledRun, parse_event

IDEMPOTENCY_TABLE = os.environ.get("IDEMPOTENCY_TABLE") or None
# Longer than any retry of a slot can arrive: Scheduler's event age plus Lambda's.
IDEMPOTENCY_EXPIRY_S = int(os.environ.get("IDEMPOTENCY_EXPIRY_S", str(2 * 86_400)))
SECRET_ARN = os.environ.get("SECRET_ARN") or None
SECRET_MAX_AGE_S = 300

logger = Logger()
metrics = Metrics()

task = importlib.import_module(os.environ.get("TASK_MODULE", "task"))

config = IdempotencyConfig(
    event_key_jmespath="[schedule, scheduled_time]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_EXPIRY_S,
)


class Runs:
    """How many slots this container has worked on (a replayed slot adds none)."""

    performed = 0


def _secret() -> str | None:
    if SECRET_ARN is None:
        return None
    value = parameters.get_secret(SECRET_ARN, max_age=SECRET_MAX_AGE_S)
    return value.decode() if isinstance(value, bytes) else str(value)


@tracer.capture_method
def perform(run: ScheduledRun) -> dict[str, Any]:
    Runs.performed += 1
    result: dict[str, Any] = task.run(run, _secret())
    return result


if IDEMPOTENCY_TABLE is not None:
    perform_once = idempotent_function(
        data_keyword_argument="run",
        config=config,
        # A client of the default session: Powertools would build a session of its own,
        # which loads botocore's data files again at cold start.
        persistence_store=DynamoDBPersistenceLayer(
            table_name=IDEMPOTENCY_TABLE, boto3_client=boto3.client("dynamodb")
        ),
    )(perform)
else:
    perform_once = perform


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        run = parse_event(event)
    except InvalidScheduledEvent:
        # No retry can repair the event: the DLQ gets it after Lambda's retries.
        logger.exception("Not a scheduled run", extra={"eventKeys": _keys(event)})
        metrics.add_metric(name="InvalidScheduledEvent", unit=MetricUnit.Count, value=1)
        raise
    logger.append_keys(
        schedule=run.schedule,
        scheduledTime=run.scheduled_time,
        attempt=run.attempt,
        executionId=run.execution_id,
    )
    config.register_lambda_context(context)
    before = Runs.performed
    try:
        result = perform_once(run=run)
    except IdempotencyAlreadyInProgressError:
        logger.warning("The slot is running elsewhere; Lambda retries this invocation later")
        metrics.add_metric(name="ScheduledRunInProgress", unit=MetricUnit.Count, value=1)
        raise
    except Exception:
        logger.exception("Scheduled run failed; it is retried, then dead-lettered")
        metrics.add_metric(name="ScheduledRunFailed", unit=MetricUnit.Count, value=1)
        raise
    if Runs.performed == before:
        logger.info("The slot already completed; its stored result is returned")
        metrics.add_metric(name="ScheduledRunReplayed", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Scheduled run completed")
        metrics.add_metric(name="ScheduledRunCompleted", unit=MetricUnit.Count, value=1)
    return result


def _keys(event: Any) -> list[str] | str:
    return sorted(str(k) for k in event) if isinstance(event, dict) else type(event).__name__
