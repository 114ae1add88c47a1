"""The Lambda authorizer (TOKEN or REQUEST): verify the bearer JWT, return a policy.

- Not authenticated (missing, malformed, expired, not yet valid, wrong issuer, audience,
  client, token_use or signature, `alg: none`, unknown key): `Exception("Unauthorized")`,
  which API Gateway answers with 401. Malformed credentials log one ERROR line, other
  refusals one INFO line; both carry the reason and a fingerprint, never the token.
- Authenticated but entitled to nothing: an explicit Deny of every route (403).
- Entitled: Allow on every route the caller may use (the result is cached per token).
- The issuer's keys or the policy table out of reach: the error propagates (API Gateway
  answers 500 and the function's error alarm fires): an outage, not the caller's fault.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, cast

import boto3
import jwks
import policy
import tokens
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerTokenEvent,
    APIGatewayRouteArn,
    parse_api_gateway_arn,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from groups import GroupPolicies
from lambda_tracing import tracer

MODE = os.environ.get("MODE", "jwt")
JWT_KIND = os.environ.get("JWT_KIND") or None  # Cognito's token_use: access, id or none
if JWT_KIND not in (None, "access", "id"):
    raise ValueError(f"JWT_KIND must be access, id or empty (got {JWT_KIND!r})")
VERIFIER = tokens.Verifier(
    issuer=os.environ["ISSUER"],
    audience=tuple(a for a in os.environ.get("AUDIENCE", "").split(",") if a),
    token_use=cast("tokens.TokenUse | None", JWT_KIND),
    leeway_s=int(os.environ.get("LEEWAY_S", "30")),
)
CLAIM_ROUTES: dict[str, list[list[str]]] = json.loads(os.environ.get("CLAIM_ROUTES") or "{}")

logger = Logger()
metrics = Metrics()

clock = time.time
keys = jwks.JwksCache(
    os.environ["JWKS_URL"],
    clock=lambda: clock(),
    ttl_s=float(os.environ.get("JWKS_CACHE_S", "3600")),
    timeout_s=float(os.environ.get("JWKS_TIMEOUT_S", "2")),
)
group_policies = (
    GroupPolicies(
        boto3.client("dynamodb"),
        os.environ["POLICY_TABLE"],
        clock=lambda: clock(),
        ttl_s=float(os.environ.get("POLICY_CACHE_S", "60")),
    )
    if MODE == "cognito_groups"
    else None
)

UNAUTHORIZED = "Unauthorized"  # the exact message API Gateway turns into a 401


def _credential(event: dict[str, Any]) -> tuple[Any, APIGatewayRouteArn]:
    """(the Authorization value, the requested method's ARN) of a TOKEN or REQUEST event."""
    # .get, not the data classes' properties: a field may be missing from what we are sent.
    if event.get("type") == "TOKEN":
        token_event = APIGatewayAuthorizerTokenEvent(event)
        header, method_arn = token_event.get("authorizationToken"), token_event.get("methodArn")
    elif event.get("type") == "REQUEST":
        request_event = APIGatewayAuthorizerRequestEvent(event)
        headers = request_event.get("headers") or {}
        if not isinstance(headers, dict):
            raise tokens.Malformed("headers")
        header = request_event.get_header_value("Authorization", case_sensitive=False)
        method_arn = request_event.get("methodArn")
    else:
        raise tokens.Malformed("event-type")
    if not isinstance(method_arn, str):
        raise tokens.Malformed("method-arn")
    try:
        return header, parse_api_gateway_arn(method_arn)
    except (IndexError, ValueError):
        raise tokens.Malformed("method-arn") from None


def _grants(
    caller: tokens.Caller, request: APIGatewayRouteArn
) -> tuple[list[policy.Grant], list[policy.Grant]]:
    if group_policies is None:
        return policy.claim_grants(CLAIM_ROUTES, caller), []
    statements = [s for found in group_policies.statements(caller.groups).values() for s in found]
    allowed, denied, refused = policy.statement_grants(statements, request)
    if refused:
        logger.warning(
            "Policy table statements for another API or stage were ignored",
            extra={"groups": list(caller.groups), "ignored": refused},
        )
    return allowed, denied


def _refuse(denial: tokens.Unauthorized, token: str | None) -> None:
    extra = {"reason": denial.reason}
    if token:
        extra["tokenFingerprint"] = tokens.fingerprint(token)
    if isinstance(denial, tokens.Malformed):
        logger.error("Unauthorized: malformed credential", extra=extra)
    else:
        logger.info("Unauthorized", extra=extra)
    metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)


@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def decide(event: Any, context: LambdaContext) -> dict[str, Any] | None:
    """The policy for this caller, or None when the caller is not authenticated."""
    token: str | None = None
    try:
        header, request = _credential(event if isinstance(event, dict) else {})
        token = tokens.bearer(header)
        caller = tokens.verify(token, VERIFIER, keys)
    except tokens.Unauthorized as denial:
        _refuse(denial, token)
        return None
    allowed, denied = _grants(caller, request)
    if not allowed:
        logger.info("Denied: no route for this caller", extra={"sub": caller.sub})
        metrics.add_metric(name="Denied", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="Allowed", unit=MetricUnit.Count, value=1)
    return policy.response(request, caller, allowed, denied)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Raised out here, past the tracer, which would log every refusal as an error again.
    decision = decide(event, context)
    if decision is None:
        raise Exception(UNAUTHORIZED)
    return decision
