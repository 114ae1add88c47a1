"""What the authorizer returns: an IAM policy over every route the caller may use.

API Gateway caches the result per token (per identity source) for the authorizer's TTL
and applies it to every route, so the policy lists all the caller's routes, not just the
one requested: a policy naming only the requested method would refuse the caller's other
routes while the cached result lives. No route at all is an explicit Deny (403).

Routes are `METHOD /path` keys; `{param}` segments become `*` in the ARN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayRouteArn,
    parse_api_gateway_arn,
)
from tokens import Caller

Grant = tuple[str, str]  # (HTTP method or *, resource path without the leading /)
_PARAM = re.compile(r"\{[^/{}]+\}")


def route_grant(route: str) -> Grant:
    """`GET /reports/{id}` -> (`GET`, `reports/*`); `ANY` is every method."""
    method, _, path = route.strip().partition(" ")
    method = "*" if method.upper() == "ANY" else method.upper()
    return method, _PARAM.sub("*", path.strip()).lstrip("/")


def claim_grants(
    claim_routes: Mapping[str, Sequence[Sequence[str]]], caller: Caller
) -> list[Grant]:
    """jwt mode: the routes of every `scope:<name>` or `<claim>=<value>` key the caller
    matches (a list claim matches when it contains the value)."""
    grants: list[Grant] = []
    for key, routes in claim_routes.items():
        if _matches(key, caller):
            grants += [(str(method), str(path)) for method, path in routes]
    return grants


def _matches(key: str, caller: Caller) -> bool:
    if key.startswith("scope:"):
        return key.removeprefix("scope:") in caller.scopes
    name, _, value = key.partition("=")
    claim = caller.claims.get(name)
    if isinstance(claim, list):
        return value in [str(v) for v in claim]
    return claim is not None and str(claim) == value


def statement_grants(
    statements: Iterable[Mapping[str, Any]], request: APIGatewayRouteArn
) -> tuple[list[Grant], list[Grant], list[str]]:
    """cognito_groups mode: (allowed, denied, refused) from stored statements
    (`{"effect": "Allow"|"Deny", "resource": "<execute-api ARN>"}`). A resource of another
    API or stage than the request's is refused (listed, never granted)."""
    allowed: list[Grant] = []
    denied: list[Grant] = []
    refused: list[str] = []
    for statement in statements:
        resource = str(statement.get("resource", ""))
        try:
            target = parse_api_gateway_arn(resource)
        except (IndexError, ValueError):
            refused.append(resource)
            continue
        same = (target.partition, target.region, target.aws_account_id, target.api_id) == (
            request.partition,
            request.region,
            request.aws_account_id,
            request.api_id,
        ) and target.stage in (request.stage, "*")
        if not same or target.http_method is None:
            refused.append(resource)
            continue
        grant = (target.http_method, target.resource)
        (denied if str(statement.get("effect", "")).lower() == "deny" else allowed).append(grant)
    return allowed, denied, refused


def response(
    request: APIGatewayRouteArn,
    caller: Caller,
    allowed: Sequence[Grant],
    denied: Sequence[Grant] = (),
) -> dict[str, Any]:
    """The authorizer result; an explicit Deny of everything when nothing is allowed."""
    result = APIGatewayAuthorizerResponse(
        principal_id=caller.sub,
        region=request.region,
        aws_account_id=request.aws_account_id,
        api_id=request.api_id,
        stage=request.stage,
        context=caller.context(),
        partition=request.partition,
    )
    if not allowed:
        result.deny_all_routes()
        return result.asdict()
    for method, path in sorted(set(allowed)):
        result.allow_route(method, path or "*")
    for method, path in sorted(set(denied)):
        result.deny_route(method, path or "*")
    return result.asdict()
