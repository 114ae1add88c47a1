"""API Gateway WebSocket events in, handler responses out: no AWS calls, tested directly.

A browser cannot set headers on a WebSocket handshake, so an anonymous client sends the id
it generated as its subprotocol (`new WebSocket(url, userId)`); API Gateway then closes the
socket unless the `$connect` response names that same subprotocol.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

UserIdSource = Literal["protocol_header", "query", "authorizer"]
PROTOCOL_HEADER = "Sec-WebSocket-Protocol"
USER_ID_QUERY_PARAMETER = "userId"
# Subprotocols are HTTP tokens; this subset is also safe as a DynamoDB key and in logs.
_USER_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")


class BadRequestError(ValueError):
    """The client's request cannot be served; the message is safe to return to it."""


@dataclass(frozen=True)
class ConnectRequest:
    connection_id: str
    user_id: str
    subprotocol: str | None  # echoed in the response when the id came from the header


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower() and isinstance(value, str):
            return value
    return None


def _valid(user_id: str | None, where: str) -> str:
    if user_id is None or not _USER_ID.fullmatch(user_id):
        raise BadRequestError(f"{where} must carry a user id of 1-128 letters, digits or ._~-")
    return user_id


def connect_request(event: Mapping[str, Any], source: UserIdSource) -> ConnectRequest:
    context = event.get("requestContext") or {}
    connection_id = context.get("connectionId")
    if not connection_id:
        raise BadRequestError("event has no requestContext.connectionId")
    if source == "protocol_header":
        offered = _header(event.get("headers"), PROTOCOL_HEADER)
        # A client may offer several subprotocols; the first is the user id.
        first = offered.split(",")[0].strip() if offered else None
        user_id = _valid(first, f"the {PROTOCOL_HEADER} header")
        return ConnectRequest(connection_id, user_id, subprotocol=user_id)
    if source == "query":
        query = event.get("queryStringParameters") or {}
        user_id = _valid(query.get(USER_ID_QUERY_PARAMETER), "the userId query parameter")
        return ConnectRequest(connection_id, user_id, subprotocol=None)
    authorizer = context.get("authorizer") or {}
    user_id = authorizer.get("userId") or authorizer.get("principalId")
    return ConnectRequest(connection_id, _valid(user_id, "the authorizer context"), None)


def connection_id(event: Mapping[str, Any]) -> str:
    found = (event.get("requestContext") or {}).get("connectionId")
    if not found:
        raise BadRequestError("event has no requestContext.connectionId")
    return str(found)


def connected(request: ConnectRequest) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": 200}
    if request.subprotocol is not None:
        response["headers"] = {PROTOCOL_HEADER: request.subprotocol}
    return response


def reply(status: int, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A route response; on a two-way route API Gateway sends `body` to the client."""
    return {"statusCode": status, "body": json.dumps(payload, separators=(",", ":"))}


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
    if action is None:
        error = 'messages must be JSON objects with a string "action"'
    else:
        error = f"unknown action {action!r}"
    return reply(400, {"error": error, "action": action, "actions": sorted(known)})
