"""Admin routes (IAM-authorized): `PUT /zones/{zoneId}` configures a zone,
`POST /zones/{zoneId}/passes` issues priority or exempt passes for it.

A zone from the stack config (`managedBy: pulumi`) is refused here with 409: the next
deployment would silently undo the change.
"""

from __future__ import annotations

import uuid
from typing import Any

import runtime
import signing
import web
import zones
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from lambda_tracing import tracer

MAX_PASSES = 100
PASS_TTL_S = (60, 30 * 86400)
PASS_CLASSES = {"priority": signing.PASS_PRIORITY, "exempt": signing.PASS_EXEMPT}

logger = Logger()

tables = runtime.tables()
signer = runtime.signer()


@tracer.capture_method
def put_zone(zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        zone = zones.Zone.parse(zone_id, {k: v for k, v in body.items() if k != "managedBy"})
    except zones.ZoneError as error:
        raise web.BadRequest(str(error)) from None
    try:
        tables.zones.put_item(
            Item=zone.to_item(),
            ConditionExpression="attribute_not_exists(managedBy)",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise web.HttpError(409, f"zone {zone_id!r} is managed by the stack config") from None
    logger.info("Zone configured", extra={"zoneId": zone_id, "mode": zone.mode})
    return web.response(200, zone.describe())


@tracer.capture_method
def issue_passes(zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
    kind, count, ttl_s = body.get("kind"), body.get("count", 1), body.get("ttlS", 86400)
    if kind not in PASS_CLASSES:
        raise web.BadRequest("kind must be one of priority, exempt")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PASSES:
        raise web.BadRequest(f"count must be a whole number between 1 and {MAX_PASSES}")
    if (
        isinstance(ttl_s, bool)
        or not isinstance(ttl_s, int)
        or not (PASS_TTL_S[0] <= ttl_s <= PASS_TTL_S[1])
    ):
        raise web.BadRequest(f"ttlS must be between {PASS_TTL_S[0]} and {PASS_TTL_S[1]}")
    if tables.zone_item(zone_id) is None:
        raise web.HttpError(404, f"there is no zone {zone_id!r}")
    expires_at = signer.now() + ttl_s
    passes = [
        signer.priority_pass(zone_id, PASS_CLASSES[kind], uuid.uuid4().hex, expires_at)
        for _ in range(count)
    ]
    logger.info("Passes issued", extra={"zoneId": zone_id, "kind": kind, "count": count})
    return web.response(
        201, {"zoneId": zone_id, "kind": kind, "expiresAt": expires_at, "passes": passes}
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@web.answers_every_request(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    zone_id = web.zone_id(event)
    body = web.json_body(event, required=True)
    method, resource = event.get("httpMethod"), str(event.get("resource") or "")
    if method == "PUT" and resource.endswith("/{zoneId}"):
        return put_zone(zone_id, body)
    if method == "POST" and resource.endswith("/passes"):
        return issue_passes(zone_id, body)
    raise web.HttpError(404, f"no admin route {web.echoed(method)} {web.echoed(resource)}")
