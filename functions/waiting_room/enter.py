"""`POST /zones/{zoneId}/enter`: join the zone's queue, once per visitor.

The visitor authorizer has verified the visitor cookie or minted a new visitor id (then
`setCookie` in its context is the cookie to set). An optional body `{"pass": "..."}`
carries a priority or exempt pass the zone honours.
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

tables = runtime.tables()
signer = runtime.signer()
room = visitors.Visitors(tables, signer, token_ttl_s=runtime.token_ttl_s())
zone_cache = runtime.ZoneCache(tables.zone_item)


@tracer.capture_method
def enter(event: dict[str, Any]) -> dict[str, Any]:
    zone_id = web.zone_id(event)
    visitor_id = web.visitor_id(event)
    body = web.json_body(event)
    unknown = sorted(set(body) - {"pass"})
    if unknown:
        raise web.BadRequest(f"unknown field {web.echoed(unknown[0])!r}; the body takes: pass")
    zone = zone_cache.get(zone_id)
    if zone is None:
        raise visitors.VisitorError(404, f"there is no zone {zone_id!r}")
    admission_pass = room.read_pass(zone, body.get("pass"))
    view = room.enter(zone, visitor_id, admission_pass)
    if view.entered:
        metrics.add_metric(name="VisitorEntered", unit=MetricUnit.Count, value=1)
    logger.info(
        "Entered" if view.entered else "Already in the queue",
        extra={"zoneId": zone_id, "status": view.status, "pass": admission_pass is not None},
    )
    body_out = {
        **view.body(),
        "pushTicket": signer.push_ticket(visitor_id, runtime.PUSH_TICKET_TTL_S),
        "pollAfterS": visitors.POLL_AFTER_S,
    }
    headers = {}
    cookie = web.authorizer_context(event).get("setCookie")
    if isinstance(cookie, str) and cookie:
        headers["Set-Cookie"] = cookie
    return web.response(201 if view.entered else 200, body_out, headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
@web.answers_every_request(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return enter(event)
