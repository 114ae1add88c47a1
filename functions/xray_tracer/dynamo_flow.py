"""`dynamo` flow: counts each request path in the hit counter table (`ADD hits :one`).

Invoked by the `fanout` topic (asynchronously): a message that is not a request path
raises `hops.InvalidMessage`, so Lambda retries it and then sends it to the on-failure
queue.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
import hits
import tracing
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

FLOW = "dynamo"
TABLE_NAME = os.environ["TABLE_NAME"]
COUNTER_TTL_S = int(os.environ["COUNTER_TTL_S"])

logger = Logger()
metrics = Metrics()

table = boto3.resource("dynamodb").Table(TABLE_NAME)
clock = time.time


@tracer.capture_method
def count(path: str) -> int:
    return hits.record_hit(table, path, now_s=clock(), ttl_s=COUNTER_TTL_S)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    counted = {}
    for path in tracing.sns_paths(tracer, event, flow=FLOW):
        counted[path] = count(path)
        logger.info("Hit counted", extra={"path": path, "hits": counted[path]})
    metrics.add_metric(name="HitCounted", unit=MetricUnit.Count, value=len(counted))
    return {"hits": counted}
