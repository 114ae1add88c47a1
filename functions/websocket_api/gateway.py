"""API Gateway WebSocket events in, handler responses out: no AWS calls, tested directly.

A browser cannot set headers on a WebSocket handshake, so an anonymous client sends the id
it generated as its subprotocol (`new WebSocket(url, userId)`); API Gateway then closes the
socket unless the `$connect` response names that same subprotocol.

Every route answers with a status code: `answers_every_request` turns an unhandled exception
into one ERROR log line and a 500, and text a client sent is echoed (in replies and logs) at
most `ECHO_LIMIT` characters long.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools import Logger

UserIdSource = Literal["protocol_header", "query", "authorizer"]
PROTOCOL_HEADER = "Sec-WebSocket-Protocol"
USER_ID_QUERY_PARAMETER = "userId"
# Subprotocols are HTTP tokens; this subset is also safe as a DynamoDB key and in logs.
_USER_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")
ECHO_LIMIT = 100
_ELLIPSIS = "\u2026"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class BadRequestError(ValueError):
    """The client's request cannot be served; the message is safe to return to it."""


@dataclass(frozen=True)
class ConnectRequest:
    connection_id: str
    user_id: str
    subprotocol: str | None  # echoed in the response when the id came from the header


def _header(event: Mapping[str, Any], name: str) -> str | None:
    """A header's value; an event without `headers` is read from `multiValueHeaders`."""
    headers = event.get("headers")
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if key.lower() == name.lower() and isinstance(value, str):
                return value
        return None
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower() and isinstance(values, list) and values:
            first = values[0]
            return first if isinstance(first, str) else None
    return None


def _valid(user_id: Any, where: str) -> str:
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise BadRequestError(f"{where} must carry a user id of 1-128 letters, digits or ._~-")
    return user_id


def connect_request(event: Mapping[str, Any], source: UserIdSource) -> ConnectRequest:
    connection = connection_id(event)
    if source == "protocol_header":
        offered = _header(event, PROTOCOL_HEADER)
        # A client may offer several subprotocols; the first is the user id.
        first = offered.split(",")[0].strip() if offered else None
        user_id = _valid(first, f"the {PROTOCOL_HEADER} header")
        return ConnectRequest(connection, user_id, subprotocol=user_id)
    if source == "query":
        query = event.get("queryStringParameters") or {}
        user_id = _valid(query.get(USER_ID_QUERY_PARAMETER), "the userId query parameter")
        return ConnectRequest(connection, user_id, subprotocol=None)
    authorizer = event["requestContext"].get("authorizer") or {}
    claimed = authorizer.get("userId") or authorizer.get("principalId")
    return ConnectRequest(connection, _valid(claimed, "the authorizer context"), None)


def connection_id(event: Mapping[str, Any]) -> str:
    found = connection_id_or_none(event)
    if found is None:
        raise BadRequestError("event has no requestContext.connectionId")
    return found


def connection_id_or_none(event: Any) -> str | None:
    """The connection id of any event, however malformed (for logs)."""
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    found = context.get("connectionId") if isinstance(context, Mapping) else None
    return str(found) if found else None


def echoed(text: str) -> str:
    """Client text as replies and logs may repeat it: at most `ECHO_LIMIT` characters."""
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + _ELLIPSIS


def connected(request: ConnectRequest) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": 200}
    if request.subprotocol is not None:
        response["headers"] = {PROTOCOL_HEADER: request.subprotocol}
    return response


def reply(status: int, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A route response; on a two-way route API Gateway sends `body` to the client."""
    return {"statusCode": status, "body": json.dumps(payload, separators=(",", ":"))}


def message_body(event: Mapping[str, Any]) -> str | None:
    """A message's text (decoded when API Gateway base64-encoded it), or None."""
    body = event.get("body")
    if not isinstance(body, str):
        return None
    if not event.get("isBase64Encoded"):
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def action_of(body: str | None) -> str | None:
    """The `action` a message names (the API's route selection key), or None."""
    try:
        message = json.loads(body or "")
    except ValueError:
        return None
    action = message.get("action") if isinstance(message, dict) else None
    return action if isinstance(action, str) else None


def unknown_action(body: str | None, known: list[str]) -> dict[str, Any]:
    action = action_of(body)
    shown = None if action is None else echoed(action)
    if shown is None:
        error = 'messages must be JSON objects with a string "action"'
    else:
        error = f"unknown action {shown!r}"
    return reply(400, {"error": error, "action": shown, "actions": sorted(known)})


def answers_every_request(logger: Logger) -> Callable[[Handler], Handler]:
    """A route handler that never raises: API Gateway would turn the exception into a 502
    (or a refused connection) with nothing logged about which connection it was."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def answered(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                return handler(event, context)
            except Exception:
                logger.exception(
                    "Request failed", extra={"connectionId": connection_id_or_none(event)}
                )
                return reply(500, {"error": "internal error"})

        return answered

    return decorate
