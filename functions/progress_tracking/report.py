"""Report states (lambda mode) and progress events (eventbridge mode) -> the client.

A client that has gone is normal (it may reconnect and ask again): the report returns
normally with a `ClientGone` metric, so neither Step Functions nor EventBridge retries it.
Any other failure (a malformed report included) is logged once and raised, for the caller's
retry policy and, in eventbridge mode, the rule's DLQ.
"""

from __future__ import annotations

from typing import Any

import ws_sender
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from echo import bounded
from lambda_tracing import tracer
from progress_report import ProgressReport

logger = Logger()
metrics = Metrics()

sender = ws_sender.sender_from_environment()


def report(event: dict[str, Any]) -> dict[str, Any]:
    progress = parse(event=event, model=ProgressReport)
    delivered = sender.send(progress.connectionId, progress.message_for_client())
    if not delivered:
        metrics.add_metric(name="ClientGone", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ProgressReported", unit=MetricUnit.Count, value=1)
    logger.info(
        "Progress reported",
        extra={
            "executionArn": progress.executionArn,
            "step": progress.step,
            "delivered": delivered,
        },
    )
    return {"delivered": delivered}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return report(event)
    except Exception:
        ids = event if isinstance(event, dict) else {}
        logger.exception(
            "Report failed",
            extra={
                "executionArn": bounded(ids.get("executionArn")),
                "connectionId": bounded(ids.get("connectionId")),
            },
        )
        raise
