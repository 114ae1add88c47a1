"""API Gateway events in, responses and authorizer policies out: no AWS calls.

REST proxy events carry the visitor id in `requestContext.authorizer` (put there by the
visitor authorizer, never read from the request itself). Authorizer events are REST
REQUEST authorizer events (`methodArn` of the method called) or the WebSocket `$connect`
one (`requestContext.eventType` CONNECT).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from aws_lambda_powertools import Logger

_ZONE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_VISITOR_ID = re.compile(r"^[a-f0-9]{32}$")
MAX_BODY_BYTES = 4096
ECHO_LIMIT = 100


class HttpError(Exception):
    """A request that cannot be served: `status`, and a message safe to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BadRequest(HttpError):
    """400 with this message."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def answers_every_request(logger: Logger) -> Callable[[Handler], Handler]:
    """A REST handler that never raises: a refusal is its status and message (logged at
    INFO, it is the visitor's doing), anything else one ERROR line and a 500, never
    API Gateway's bare 502."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def answered(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                return handler(event, context)
            except HttpError as refused:
                logger.info(
                    "Request refused", extra={"status": refused.status, "reason": str(refused)}
                )
                return error(refused.status, str(refused))
            except Exception:
                logger.exception("Request failed")
                return error(500, "internal error; try again shortly")

        return answered

    return decorate


def response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",  # a place or a token must never come from a cache
            **(headers or {}),
        },
        "body": json.dumps(dict(body), separators=(",", ":")),
    }


def error(status: int, message: str) -> dict[str, Any]:
    return response(status, {"error": message})


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A header's value, case-insensitively; from `multiValueHeaders` when `headers` is absent."""
    wanted = name.lower()
    headers = event.get("headers")
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == wanted and isinstance(value, str):
                return value
        return None
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if str(key).lower() == wanted and isinstance(values, list) and values:
            first = values[0]
            return first if isinstance(first, str) else None
    return None


def cookie(event: Mapping[str, Any], name: str) -> str | None:
    """One cookie's value from the `Cookie` header (a malformed header has none)."""
    raw = header(event, "Cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def set_cookie(name: str, value: str, max_age_s: int) -> str:
    """First-party, HttpOnly, sent over TLS only; Lax keeps it on same-site navigation."""
    return f"{name}={value}; Max-Age={max_age_s}; Path=/; Secure; HttpOnly; SameSite=Lax"


def zone_id(event: Mapping[str, Any]) -> str:
    found = (event.get("pathParameters") or {}).get("zoneId")
    if not isinstance(found, str) or not _ZONE_ID.match(found):
        raise BadRequest("zoneId must be 1-64 letters, digits, '_' or '-'")
    return found


def authorizer_context(event: Mapping[str, Any]) -> Mapping[str, Any]:
    context = (event.get("requestContext") or {}).get("authorizer")
    return context if isinstance(context, Mapping) else {}


def visitor_id(event: Mapping[str, Any]) -> str:
    """The visitor id the authorizer verified; a request without one is a deployment error
    (the route lost its authorizer), so it raises rather than answering 400."""
    found = authorizer_context(event).get("visitorId")
    if not isinstance(found, str) or not _VISITOR_ID.match(found):
        raise PermissionError("the request carries no verified visitor id")
    return found


def json_body(event: Mapping[str, Any], *, required: bool = False) -> dict[str, Any]:
    body = event.get("body")
    if body is None or body == "":
        if required:
            raise BadRequest("a JSON object body is required")
        return {}
    if not isinstance(body, str) or len(body) > MAX_BODY_BYTES * 2:
        raise BadRequest(f"the body must be JSON text of at most {MAX_BODY_BYTES} bytes")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("the body is not valid base64 UTF-8 text") from None
    if len(body.encode()) > MAX_BODY_BYTES:
        raise BadRequest(f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise BadRequest("the body must be valid JSON") from None
    if not isinstance(parsed, dict):
        raise BadRequest("the body must be a JSON object")
    return parsed


def echoed(value: Any) -> str:
    text = str(value)
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "\u2026"


# Authorizers ----------------------------------------------------------------------------


def is_websocket_connect(event: Mapping[str, Any]) -> bool:
    return (event.get("requestContext") or {}).get("eventType") == "CONNECT"


def method_arn(event: Mapping[str, Any]) -> str:
    found = event.get("methodArn")
    if not isinstance(found, str) or not found.startswith("arn:"):
        raise BadRequest("the authorizer event has no methodArn")
    return found


def stage_arn(event: Mapping[str, Any], *routes: str) -> list[str]:
    """ARNs of `routes` (`GET/zones/*/status`) in the stage the method belongs to: a policy
    cached for one visitor covers their other visitor routes, nothing else."""
    api, stage = method_arn(event).split("/", 2)[:2]
    return [f"{api}/{stage}/{route}" for route in routes]


def allow(principal: str, resources: list[str], context: Mapping[str, Any]) -> dict[str, Any]:
    return _policy(principal, "Allow", resources, context)


def deny(principal: str, resource: str, reason: str) -> dict[str, Any]:
    return _policy(principal, "Deny", [resource], {"reason": reason})


def _policy(
    principal: str, effect: str, resources: list[str], context: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resources}
            ],
        },
        "context": dict(context),
    }


class Unauthorized(Exception):
    """Raised by an authorizer for 401: API Gateway matches this exact message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def bearer_token(event: Mapping[str, Any]) -> str | None:
    value = header(event, "Authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
