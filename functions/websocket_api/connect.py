"""`$connect`: register the connection and revive (or start) the user's session."""

from __future__ import annotations

import os
from typing import Any, cast

import gateway
import ws_sender
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

USER_ID_SOURCE = cast(gateway.UserIdSource, os.environ.get("USER_ID_SOURCE", "protocol_header"))

logger = Logger()
metrics = Metrics()

registry = ws_sender.registry_from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@gateway.answers_every_request(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = gateway.connect_request(event, USER_ID_SOURCE)
    except gateway.BadRequestError as error:
        logger.info("Connection refused", extra={"reason": str(error)})
        metrics.add_metric(name="ConnectionRefused", unit=MetricUnit.Count, value=1)
        return gateway.reply(400, {"error": str(error)})
    session = registry.connect(request.connection_id, request.user_id)
    metrics.add_metric(
        name="SessionResumed" if session.resumed else "SessionStarted",
        unit=MetricUnit.Count,
        value=1,
    )
    # The user id is personal data: ids of our own and shapes only.
    logger.info(
        "Connected",
        extra={
            "connectionId": request.connection_id,
            "userIdSource": USER_ID_SOURCE,
            "resumed": session.resumed,
        },
    )
    return gateway.connected(request)
