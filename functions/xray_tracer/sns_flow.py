"""`sns` flow: republishes each request path to the `second` topic.

SNS carries the trace itself (Active tracing on both topics): the X-Ray SDK's botocore
patch sends the trace header with the Publish call, and SNS passes it to `sns_consumer`.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import tracing
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

FLOW = "sns"
SECOND_TOPIC_ARN = os.environ["SECOND_TOPIC_ARN"]

logger = Logger()
metrics = Metrics()

sns = boto3.client("sns")


@tracer.capture_method
def republish(path: str) -> str:
    message_id: str = sns.publish(TopicArn=SECOND_TOPIC_ARN, Message=path)["MessageId"]
    return message_id


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    published = []
    for path in tracing.sns_paths(tracer, event, flow=FLOW):
        published.append(republish(path))
        logger.info("Path republished", extra={"path": path, "messageId": published[-1]})
    metrics.add_metric(name="PathRepublished", unit=MetricUnit.Count, value=len(published))
    return {"messageIds": published}
