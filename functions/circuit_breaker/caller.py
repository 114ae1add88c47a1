"""`GET /{proxy+}`: call the downstream through the circuit breaker.

Answers 200 with `{"message": "Success"}` when the downstream answered, or with the
configured fallback body when the circuit is open or the call failed; the `X-Circuit-State`
header says the state after the call (CLOSED, OPEN, HALF_OPEN, or UNKNOWN when the table
could not be read). Metrics: Calls, Failures, Fallbacks, and one per transition
(CircuitOpened, CircuitHalfOpened, CircuitClosed, which the transition alarm watches). With
EVENT_BUS_NAME set, CircuitOpened and CircuitClosed are also put on the bus.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import breaker
import downstream
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]
CIRCUIT_ID = os.environ["CIRCUIT_ID"]
DOWNSTREAM_URL = os.environ["DOWNSTREAM_URL"]
DOWNSTREAM_AUTH = os.environ.get("DOWNSTREAM_AUTH", "none")  # "iam": SigV4 (the demo route)
FALLBACK_BODY = os.environ.get("FALLBACK_BODY", '{"message": "Fallback"}')
EVENT_BUS_NAME = os.environ.get("EVENT_BUS_NAME", "")
EVENT_SOURCE = os.environ.get("EVENT_SOURCE", "serverless-patterns.circuit-breaker")
EVENT_TYPES = {breaker.OPEN: "CircuitOpened", breaker.CLOSED: "CircuitClosed"}
METRIC_NAMES = {
    breaker.OPEN: "CircuitOpened",
    breaker.HALF_OPEN: "CircuitHalfOpened",
    breaker.CLOSED: "CircuitClosed",
}

logger = Logger()
metrics = Metrics()
metrics.set_default_dimensions(circuit=CIRCUIT_ID, table=TABLE_NAME)

# The table sits on every call's path: short timeouts and few retries, so an unreachable
# table costs a bounded slice of the function's time before fail_mode decides.
_TABLE_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2})
table = boto3.resource("dynamodb", config=_TABLE_CONFIG).Table(TABLE_NAME)
events = boto3.client("events") if EVENT_BUS_NAME else None
_session = boto3.Session()
signer = (
    downstream.Signer(
        credentials=lambda: _session.get_credentials().get_frozen_credentials(),
        region=_session.region_name or os.environ.get("AWS_REGION", ""),
    )
    if DOWNSTREAM_AUTH == "iam"
    else None
)


def _announce(transition: breaker.Transition) -> None:
    """Metrics for every transition; an event for openings and closings, when a bus is set."""
    metrics.add_metric(name=METRIC_NAMES[transition.new], unit=MetricUnit.Count, value=1)
    logger.warning(
        "Circuit moved",
        extra={"circuitId": transition.circuit_id, "from": transition.old, "to": transition.new},
    )
    detail_type = EVENT_TYPES.get(transition.new)
    if events is None or detail_type is None:
        return
    detail = {
        "circuitId": transition.circuit_id,
        "from": transition.old,
        "to": transition.new,
        "at": transition.at_ms,
        "failures": transition.failures,
        "version": transition.version,
    }
    entry = {
        "EventBusName": EVENT_BUS_NAME,
        "Source": EVENT_SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
    }
    try:
        response = events.put_events(Entries=[entry])
    except (ClientError, BotoCoreError):
        logger.exception("Transition event not published", extra={"detailType": detail_type})
        return
    if response.get("FailedEntryCount"):
        logger.error("Transition event rejected", extra={"entries": response.get("Entries")})


circuit = breaker.CircuitBreaker(
    table,
    CIRCUIT_ID,
    failure_threshold=int(os.environ.get("FAILURE_THRESHOLD", "3")),
    success_threshold=int(os.environ.get("SUCCESS_THRESHOLD", "2")),
    open_ms=int(os.environ.get("OPEN_MS", "10000")),
    call_timeout_ms=int(os.environ.get("CALL_TIMEOUT_MS", "2000")),
    fail_mode="closed" if os.environ.get("FAIL_MODE") == "closed" else "open",
    state_cache_ms=int(os.environ.get("STATE_CACHE_MS", "1000")),
    on_transition=_announce,
)


@tracer.capture_method
def call_downstream() -> int:
    return downstream.get(DOWNSTREAM_URL, timeout_s=circuit.call_timeout_s, signer=signer)


def _method(event: dict[str, Any]) -> str | None:
    """The HTTP method of a REST (payload 1.0) or HTTP API (payload 2.0) event."""
    method = event.get("httpMethod")
    if method is None:
        http = (event.get("requestContext") or {}).get("http") or {}
        method = http.get("method") if isinstance(http, dict) else None
    return method if isinstance(method, str) else None


def _response(status: int, body: str, state: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if state is not None:
        headers["X-Circuit-State"] = state
    return {"statusCode": status, "headers": headers, "body": body}


def _rejection(event: Any) -> dict[str, Any] | None:
    """A 4xx for what is not an API Gateway GET (the API routes only GET here)."""
    method = _method(event) if isinstance(event, dict) else None
    if method is None:
        message = "not an API Gateway proxy request (no HTTP method)"
        logger.error("Request rejected", extra={"status": 400, "reason": message})
        return _response(400, json.dumps({"message": message}))
    if method != "GET":
        return _response(405, json.dumps({"message": f"{method} is not allowed; use GET"}))
    return None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    rejection = _rejection(event)
    if rejection is not None:
        return rejection
    result = circuit.run(call_downstream, lambda: None)
    tracer.put_annotation(key="circuitState", value=result.state)
    if result.error is not None or not result.fallback:
        metrics.add_metric(name="Calls", unit=MetricUnit.Count, value=1)
    if result.error is not None:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Downstream call failed",
            extra={"error": repr(result.error), "probe": result.probe, "state": result.state},
        )
    if result.fallback:
        metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=1)
        return _response(200, FALLBACK_BODY, result.state)
    return _response(200, json.dumps({"message": "Success"}), result.state)
