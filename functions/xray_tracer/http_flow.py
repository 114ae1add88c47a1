"""`http` flow: calls the external URL for each request path.

The shared tracer patches only botocore and `http.client` (see lambda_tracing), so this
module patches `requests`, the library `outbound` calls with: each call is a remote
subsegment (the target's host, with method, URL and status) and carries the trace header.
`FAILURE_RATE` (0 by default) makes that share of calls fail on purpose, so faults show up
on the service map and in the flow's X-Ray group; a failed invocation is retried by Lambda
and then sent to the on-failure queue.
"""

from __future__ import annotations

import os
import random
from typing import Any

import hops
import outbound
import tracing
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

FLOW = "http"
TARGET = outbound.Target(
    url=os.environ["HTTP_TARGET_URL"],
    connect_timeout_s=float(os.environ["HTTP_CONNECT_TIMEOUT_S"]),
    read_timeout_s=float(os.environ["HTTP_READ_TIMEOUT_S"]),
    retries=int(os.environ.get("HTTP_RETRIES", "1")),
    failure_rate=hops.failure_rate(os.environ.get("FAILURE_RATE", "0")),
)

tracer.patch(["requests"])
logger = Logger()
metrics = Metrics()

client = outbound.session(TARGET.retries)
draw = random.random


@tracer.capture_method
def call_target(path: str) -> int:
    return outbound.call(client, TARGET, path, draw)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    statuses = {}
    for path in tracing.sns_paths(tracer, event, flow=FLOW):
        try:
            statuses[path] = call_target(path)
        except (hops.InjectedFault, hops.DownstreamError) as error:
            metrics.add_metric(name="TargetFault", unit=MetricUnit.Count, value=1)
            logger.error("Target call failed", extra={"path": path, "error": str(error)})
            raise
        logger.info("Target called", extra={"path": path, "status": statuses[path]})
    metrics.add_metric(name="TargetCalled", unit=MetricUnit.Count, value=len(statuses))
    return {"statuses": statuses}
