"""Example route handlers behind the authorizer: `GET /me` and `GET /reports`.

The authorizer has already decided who may call which route; handlers read the caller
from `requestContext.authorizer` (its context: `sub`, `username`, `groups`, `scope`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()
app = APIGatewayRestResolver()


def caller() -> dict[str, Any]:
    context = app.current_event.request_context.authorizer.raw_event or {}
    return {
        "sub": context.get("principalId") or context.get("sub"),
        "username": context.get("username"),
        "groups": [g for g in str(context.get("groups") or "").split(",") if g],
    }


@app.get("/me")
@tracer.capture_method
def me() -> dict[str, Any]:
    return caller()


@app.get("/reports")
@tracer.capture_method
def reports() -> dict[str, Any]:
    who = caller()
    logger.info("Reports read", extra={"sub": who["sub"]})
    return {"requestedBy": who["username"], "reports": [{"id": "daily", "status": "ready"}]}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
