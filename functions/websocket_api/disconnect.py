"""`$disconnect`: forget the connection and start the session's resume window."""

from __future__ import annotations

from typing import Any

import gateway
import ws_sender
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

logger = Logger()

registry = ws_sender.registry_from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@gateway.answers_every_request(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        connection_id = gateway.connection_id(event)
    except gateway.BadRequestError as error:
        logger.warning("Disconnect event without a connection", extra={"reason": str(error)})
        return gateway.reply(400, {"error": str(error)})
    # API Gateway delivers $disconnect at most once but sometimes late or twice: not an error.
    user_id = registry.disconnect(connection_id)
    logger.info("Disconnected", extra={"connectionId": connection_id, "known": user_id is not None})
    return {"statusCode": 200}
