"""Workflow step `Validate`: is the uploaded object an image the pipeline will resize?

Returns `{valid, key, format, width, height, size, reason}`, every field always present
(the state machine's ResultSelector reads them all). An object that is too big (bytes from
HeadObject, then pixels from the header, both before decoding), not an allowed format,
corrupt, outside the input prefix or already deleted is `valid: false` with a reason; the
function raises only on the unexpected (S3 access denied, a malformed payload).
"""

from __future__ import annotations

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

logger = Logger()
metrics = Metrics()
s3 = boto3.client("s3")

REJECTIONS = (imaging.InvalidImageError, imaging.ImageTooLargeError, storage.ObjectGoneError)


def verdict(
    key: str, *, info: imaging.ImageInfo | None = None, size: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "valid": info is not None,
        "key": key,
        "format": info.format if info else None,
        "width": info.width if info else None,
        "height": info.height if info else None,
        "size": size,
        "reason": reason,
    }


@tracer.capture_method
def validate(event: Any) -> dict[str, Any]:
    ref = jobs.object_ref(event)
    if INPUT_PREFIX and not ref.key.startswith(INPUT_PREFIX):
        return verdict(ref.key, reason=f"the key is not under the input prefix {INPUT_PREFIX}")
    size = None
    try:
        found, size = storage.head(s3, ref)
        imaging.check_size(size, LIMITS)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "source"
            storage.download(s3, found, path, LIMITS)
            info = imaging.inspect(path, LIMITS)
    except REJECTIONS as error:
        return verdict(ref.key, size=size, reason=f"{type(error).__name__}: {error}")
    return verdict(found.key, info=info, size=size)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        result = validate(event)
    except Exception:
        metrics.add_metric(name="ValidationErrors", unit=MetricUnit.Count, value=1)
        logger.exception("Validation failed")
        raise
    if result["valid"]:
        metrics.add_metric(name="ImagesAccepted", unit=MetricUnit.Count, value=1)
        logger.info("Image accepted", extra={k: result[k] for k in ("key", "format", "size")})
    else:
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("Image rejected", extra={"key": result["key"], "reason": result["reason"]})
    return result
