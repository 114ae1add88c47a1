"""`verify_access`: a REQUEST authorizer for routes behind the waiting room.

Allows the request only when the access token (`Authorization: Bearer <token>`) has a good
signature, has not expired, names the zone this route protects (the `zoneId` path
parameter, else the `waitingRoomZone` stage variable), and names the visitor whose cookie
comes with the request, so a token copied to another browser is refused. Refusals are
403 with the reason in the logs (never the token); no token at all is 401.
"""

from __future__ import annotations

from typing import Any

import runtime
import signing
import web
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
metrics = Metrics()

signer = runtime.signer()
COOKIE = runtime.visitor_cookie_name()


def protected_zone(event: dict[str, Any]) -> str | None:
    zone = (event.get("pathParameters") or {}).get("zoneId")
    if not zone:
        zone = (event.get("stageVariables") or {}).get("waitingRoomZone")
    return zone if isinstance(zone, str) and zone else None


def refuse(event: dict[str, Any], reason: str) -> dict[str, Any]:
    logger.info("Access refused", extra={"reason": reason})
    metrics.add_metric(name="AccessRefused", unit=MetricUnit.Count, value=1)
    return web.deny("anonymous", web.method_arn(event), reason)


@tracer.capture_method
def verify(event: dict[str, Any]) -> dict[str, Any]:
    token = web.bearer_token(event)
    if token is None:
        raise web.Unauthorized()
    zone = protected_zone(event)
    if zone is None:
        return refuse(event, "the route names no zone (zoneId or waitingRoomZone)")
    try:
        claims = signer.verify(signing.ACCESS_TOKEN, token)
    except signing.InvalidToken as refused:
        return refuse(event, f"token {refused}")
    if claims["zone"] != zone:
        return refuse(event, "token for another zone")
    try:
        visitor = signer.verify(signing.VISITOR_COOKIE, web.cookie(event, COOKIE))["visitor"]
    except signing.InvalidToken as refused:
        return refuse(event, f"visitor cookie {refused}")
    if visitor != claims["visitor"]:
        return refuse(event, "token issued to another visitor")
    metrics.add_metric(name="AccessAllowed", unit=MetricUnit.Count, value=1)
    context = {"visitorId": visitor, "zoneId": zone, "tokenExpiresAt": claims.expires_at}
    return web.allow(visitor, [web.method_arn(event)], context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return verify(event)
    except web.BadRequest as malformed:
        logger.info("Malformed authorizer event", extra={"reason": str(malformed)})
        raise web.Unauthorized() from None
