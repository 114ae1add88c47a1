"""`GET /flaky` (with `demo_downstream`): a dependency that fails at a configured rate.

The failure injection lives here, in the demo's own function, never in the caller: with
FAILURE_RATE 0.5 about half the requests answer 503, the rest 200, so the demo shows the
circuit opening and probing its way closed again. 0 never fails, 1 always does.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

FAILURE_RATE = min(1.0, max(0.0, float(os.environ.get("FAILURE_RATE", "0.5"))))

logger = Logger()

chance = random.Random()  # tests seed or replace it


def outcome(draw: float, rate: float = FAILURE_RATE) -> tuple[int, str]:
    """(status, message) for one request, `draw` uniform in [0, 1)."""
    if draw < rate:
        return 503, "Injected failure"
    return 200, "OK"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    status, message = outcome(chance.random())
    if status != 200:
        logger.info("Failure injected", extra={"failureRate": FAILURE_RATE})
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
    }
