"""Workflow step `Resize` (one Map item): one rendition of the image, written to the
output bucket under a key that depends only on the source key and the target size.

The image is downloaded into a temporary directory that is removed whatever happens, so a
warm container's /tmp does not fill up. Bad images raise `InvalidImageError` or
`ImageTooLargeError`, a bad payload `InvalidRequestError`, a deleted object
`ObjectGoneError`: typed errors that the state machine catches and does not retry.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
import imaging
import jobs
import storage
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from config import INPUT_PREFIX, LIMITS
from lambda_tracing import tracer

OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]
OUTPUT_PREFIX = os.environ.get("OUTPUT_PREFIX", "processed/")

logger = Logger()
metrics = Metrics()
s3 = boto3.client("s3")


@tracer.capture_method
def resize(event: Any) -> dict[str, Any]:
    request = jobs.resize_request(event)
    source = request.source
    key = jobs.output_key(
        source.key, request.width, request.height,
        input_prefix=INPUT_PREFIX, output_prefix=OUTPUT_PREFIX,
    )  # fmt: skip
    if jobs.writes_into_input(source, OUTPUT_BUCKET, key, INPUT_PREFIX):
        raise jobs.InvalidRequestError(f"{key} is under the input prefix: it would loop")
    with tempfile.TemporaryDirectory() as scratch:
        original, rendered = Path(scratch) / "source", Path(scratch) / "rendition"
        storage.download(s3, source, original, LIMITS)
        rendition = imaging.render(original, rendered, (request.width, request.height), LIMITS)
        storage.upload(s3, rendered, OUTPUT_BUCKET, key, rendition.content_type, source)
    return {
        "bucket": OUTPUT_BUCKET,
        "key": key,
        "width": rendition.width,
        "height": rendition.height,
        "format": rendition.format,
        "contentType": rendition.content_type,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        result = resize(event)
    except Exception:
        metrics.add_metric(name="ResizeErrors", unit=MetricUnit.Count, value=1)
        logger.exception("Resize failed")
        raise
    metrics.add_metric(name="RenditionsWritten", unit=MetricUnit.Count, value=1)
    logger.info("Rendition written", extra={k: result[k] for k in ("key", "width", "height")})
    return result
