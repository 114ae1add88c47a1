"""`$default`: answers a message whose action has no route, on the same connection."""

from __future__ import annotations

import os
from typing import Any

import gateway
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

KNOWN_ACTIONS = [a for a in os.environ.get("KNOWN_ACTIONS", "").split(",") if a]

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = gateway.unknown_action(event.get("body"), KNOWN_ACTIONS)
    logger.info("Unroutable message", extra={"action": gateway.action_of(event.get("body"))})
    return response
