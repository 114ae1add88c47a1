"""`POST /zones/{zoneId}/leave`: give up the place, or the zone (the token goes back)."""

from __future__ import annotations

from typing import Any

import runtime
import visitors
import web
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
metrics = Metrics()

room = visitors.Visitors(runtime.tables(), None, token_ttl_s=runtime.token_ttl_s())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
@web.answers_every_request(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    zone_id = web.zone_id(event)
    view = room.leave(zone_id, web.visitor_id(event))
    metrics.add_metric(name="VisitorLeft", unit=MetricUnit.Count, value=1)
    logger.info("Left", extra={"zoneId": zone_id})
    return web.response(200, view.body())
