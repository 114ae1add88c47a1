"""`$default`: answers a message whose action has no route, on the same connection."""

from __future__ import annotations

import os
from typing import Any

import gateway
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

KNOWN_ACTIONS = [a for a in os.environ.get("KNOWN_ACTIONS", "").split(",") if a]

logger = Logger()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@gateway.answers_every_request(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = gateway.message_body(event)
    action = gateway.action_of(body)
    logger.info(
        "Unroutable message",
        extra={
            "connectionId": gateway.connection_id_or_none(event),
            "action": None if action is None else gateway.echoed(action),
        },
    )
    return gateway.unknown_action(body, KNOWN_ACTIONS)
