"""Scheduled every 5 minutes (reserved concurrency 1): expire overdue tokens (capacity and
token back) and mark visitors who stopped polling as abandoned (see `sweep`)."""

from __future__ import annotations

import os
from typing import Any

import admission
import runtime
import sweep
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

DEFAULT_ABANDON_AFTER_S = 900

logger = Logger()
metrics = Metrics()

tables = runtime.tables()
sweeper = sweep.Sweeper(
    tables, abandon_after_s=int(os.environ.get("ABANDON_AFTER_S", DEFAULT_ABANDON_AFTER_S))
)
zones_of = admission.Admitter(tables, token_ttl_s=runtime.token_ttl_s())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    result = sweeper.run(zones_of.zones())
    metrics.add_metric(name="TokensExpired", unit=MetricUnit.Count, value=result.expired)
    metrics.add_metric(name="VisitorsAbandoned", unit=MetricUnit.Count, value=result.abandoned)
    summary = {"expired": result.expired, "abandoned": result.abandoned}
    logger.info("Sweep finished", extra={**summary, "scheduledTime": event.get("scheduledTime")})
    for zone_id, error in result.failed.items():
        logger.error(
            "Sweep failed for a zone", extra={"zoneId": zone_id, "error": repr(error)[:300]}
        )
    if result.failed:
        # The run fails (errors alarm, on-failure queue) after every other zone was swept.
        raise RuntimeError(f"sweep failed for {len(result.failed)} zone(s)") from next(
            iter(result.failed.values())
        )
    return summary
