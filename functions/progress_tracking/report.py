"""Report states (lambda mode) and progress events (eventbridge mode) -> the client.

A client that has gone is normal (it may reconnect and ask again): the report returns
normally with a `ClientGone` metric, so neither Step Functions nor EventBridge retries it.
Any other failure raises, for the caller's retry policy.
"""

from __future__ import annotations

from typing import Any

import workflow
import ws_sender
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()

sender = ws_sender.sender_from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = parse(event=event, model=workflow.ProgressReport)
    delivered = sender.send(report.connectionId, report.message_for_client())
    if not delivered:
        metrics.add_metric(name="ClientGone", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ProgressReported", unit=MetricUnit.Count, value=1)
    logger.info(
        "Progress reported",
        extra={"executionArn": report.executionArn, "step": report.step, "delivered": delivered},
    )
    return {"delivered": delivered}
