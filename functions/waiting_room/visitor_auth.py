"""The visitor authorizer: who is this visitor? (REST REQUEST authorizer and the WebSocket
API's `$connect` authorizer.)

- `POST .../enter` (no identity source, not cached): a valid visitor cookie names the
  visitor; without one (a first visit, or a cookie signed by a key rotated out) a new
  visitor id is minted and `setCookie` in the context carries the cookie to set.
- `GET .../status`, `POST .../leave` (identity source: the Cookie header, cached): a valid
  visitor cookie, else 401. The policy covers only these visitor routes of this stage.
- WebSocket `$connect`: the push ticket (`?ticket=`) from `enter` or `status`, since a
  browser cannot send the HttpOnly cookie's value; `userId` is the visitor id.

The context's `visitorId` is the only visitor id the handlers trust.
"""

from __future__ import annotations

import uuid
from typing import Any

import runtime
import signing
import web
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

VISITOR_ROUTES = ("GET/zones/*/status", "POST/zones/*/leave")

logger = Logger()

signer = runtime.signer()
COOKIE = runtime.visitor_cookie_name()


def _visitor(token: Any, kind: str) -> str | None:
    if token is None:
        return None
    try:
        return signer.verify(kind, token)["visitor"]
    except signing.InvalidToken as refused:
        logger.info("Visitor credential refused", extra={"kind": kind, "reason": str(refused)})
        return None


@tracer.capture_method
def authorize(event: dict[str, Any]) -> dict[str, Any]:
    if web.is_websocket_connect(event):
        ticket = (event.get("queryStringParameters") or {}).get("ticket")
        visitor = _visitor(ticket, signing.PUSH_TICKET)
        if visitor is None:
            raise web.Unauthorized()
        context = {"userId": visitor, "visitorId": visitor}
        return web.allow(visitor, [web.method_arn(event)], context)
    visitor = _visitor(web.cookie(event, COOKIE), signing.VISITOR_COOKIE)
    if str(event.get("resource", "")).endswith("/enter"):
        set_cookie = ""
        if visitor is None:
            visitor = uuid.uuid4().hex
            value = signer.visitor_cookie(visitor, runtime.COOKIE_TTL_S)
            set_cookie = web.set_cookie(COOKIE, value, runtime.COOKIE_TTL_S)
        context = {"visitorId": visitor, "setCookie": set_cookie}
        return web.allow(visitor, [web.method_arn(event)], context)
    if visitor is None:
        raise web.Unauthorized()
    return web.allow(visitor, web.stage_arn(event, *VISITOR_ROUTES), {"visitorId": visitor})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return authorize(event)
    except web.Unauthorized:
        raise
    except web.BadRequest as malformed:
        logger.info("Malformed authorizer event", extra={"reason": str(malformed)})
        raise web.Unauthorized() from None
