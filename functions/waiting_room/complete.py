"""`POST /zones/{zoneId}/complete`: the visitor is done; their token is consumed.

Behind `verify_access`: only a visitor holding a valid access token for this zone (and
the visitor cookie it was issued to) gets here, and only once.
"""

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
    if web.authorizer_context(event).get("zoneId") != zone_id:
        raise PermissionError("the access authorizer verified another zone")
    view = room.complete(zone_id, web.visitor_id(event))
    metrics.add_metric(name="VisitCompleted", unit=MetricUnit.Count, value=1)
    logger.info("Completed", extra={"zoneId": zone_id})
    return web.response(200, view.body())
