"""Demo consumer of the config-cache extension: reads one allow-listed secret or parameter
and reports which path served it (`extension` or `powertools`), never the value.

Event (all optional): {"kind": "secret" | "parameter", "name": "<name or ARN>"}; without
them it reads DEMO_SECRET_NAME, else DEMO_PARAMETER_NAME.
"""

from __future__ import annotations

import os
from typing import Any

import config_cache_client as client
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer
from requests_shape import InvalidRequest, parse_request

logger = Logger()
metrics = Metrics()


@tracer.capture_method
def describe(kind: client.Kind, name: str) -> dict[str, Any]:
    result = client.read(kind, name)
    metrics.add_metric(name=f"ReadsVia{result.source.title()}", unit=MetricUnit.Count, value=1)
    return {"kind": kind, "name": name, "source": result.source, "found": True}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    kind, name = parse_request(
        event,
        default_secret=os.environ.get("DEMO_SECRET_NAME", ""),
        default_parameter=os.environ.get("DEMO_PARAMETER_NAME", ""),
    )
    return describe(kind, name)


__all__ = ["InvalidRequest", "handler"]
