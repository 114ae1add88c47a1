"""`sqs` flow: forwards each request path to the hop queue, carrying the trace header.

SQS links the consumer's trace to this one through the message's `AWSTraceHeader` system
attribute. The X-Ray SDK's botocore patch sends the header on the HTTP request; this hop
also sets the attribute explicitly, from the current subsegment, so the link holds whatever
client or patching is in play (SQS takes the explicit attribute over the HTTP header).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import hops
import tracing
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

FLOW = "sqs"
QUEUE_URL = os.environ["QUEUE_URL"]

logger = Logger()
metrics = Metrics()

sqs = boto3.client("sqs")


@tracer.capture_method
def forward(path: str) -> str:
    request: dict[str, Any] = {"QueueUrl": QUEUE_URL, "MessageBody": hops.queue_body(path)}
    header = tracing.outgoing_trace_header(tracer)
    if header is not None:
        request["MessageSystemAttributes"] = {
            "AWSTraceHeader": {"DataType": "String", "StringValue": header}
        }
    message_id: str = sqs.send_message(**request)["MessageId"]
    return message_id


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sent = []
    for path in tracing.sns_paths(tracer, event, flow=FLOW):
        sent.append(forward(path))
        logger.info("Path queued", extra={"path": path, "messageId": sent[-1]})
    metrics.add_metric(name="PathQueued", unit=MetricUnit.Count, value=len(sent))
    return {"messageIds": sent}
