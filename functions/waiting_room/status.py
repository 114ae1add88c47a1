"""`GET /zones/{zoneId}/status`: the visitor's place, or their access token once admitted.

Polling is the fallback when no WebSocket is open (a WebSocket lives at most 2 hours and
idles out after 10 minutes); it also keeps the visitor from being taken for abandoned.
"""

from __future__ import annotations

from typing import Any

import runtime
import visitors
import web
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()

tables = runtime.tables()
signer = runtime.signer()
room = visitors.Visitors(tables, signer, token_ttl_s=runtime.token_ttl_s())


@tracer.capture_method
def status(event: dict[str, Any]) -> dict[str, Any]:
    zone_id = web.zone_id(event)
    visitor_id = web.visitor_id(event)
    view = room.status(zone_id, visitor_id)
    body = view.body()
    if view.status == visitors.WAITING:
        body["pushTicket"] = signer.push_ticket(visitor_id, runtime.PUSH_TICKET_TTL_S)
        body["pollAfterS"] = visitors.POLL_AFTER_S
    return web.response(200, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@web.answers_every_request(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return status(event)
