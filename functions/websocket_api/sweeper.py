"""Scheduled cleanup (`cleanup="ttl+sweeper"`): expired items now rather than at TTL's pace,
and connections API Gateway no longer knows (a lost `$disconnect`)."""

from __future__ import annotations

from typing import Any

import ws_sender
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
metrics = Metrics()

sender = ws_sender.sender_from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    swept = sender.registry.sweep()
    probed = sender.probe()
    result = {
        "expiredConnections": swept.connections,
        "expiredSessions": swept.sessions,
        "goneConnections": probed.gone,
        "liveConnections": probed.sent,
        "probeFailures": probed.failed,
    }
    for name in ("expiredConnections", "expiredSessions", "goneConnections"):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result[name])
    logger.info("Sweep finished", extra=result)
    return result
