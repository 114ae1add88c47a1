"""REST `POST /trips`: validate the trip and start its saga, once per trip id.

The execution is named after the trip id, so a repeated request cannot book twice: Step
Functions answers a running duplicate with the same execution, and `ExecutionAlreadyExists`
(a finished one, or a different input under the same name) is looked up and answered 200
with the existing execution, or 409 when the details differ.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import trips
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from lambda_tracing import tracer

STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]
ALLOW_FAULT_INJECTION = os.environ.get("ALLOW_FAULT_INJECTION", "false") == "true"

logger = Logger()

sfn = boto3.client("stepfunctions")


def _response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


def start_once(trip_id: str, payload: str) -> tuple[int, dict[str, Any]]:
    """(status code, body): 202 for a new execution, 200 for the existing one, 409 on a clash."""
    try:
        started = sfn.start_execution(
            stateMachineArn=STATE_MACHINE_ARN, name=trip_id, input=payload
        )
        return 202, {"tripId": trip_id, "executionArn": started["executionArn"]}
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
    arn = trips.execution_arn(STATE_MACHINE_ARN, trip_id)
    existing = sfn.describe_execution(executionArn=arn)
    if not trips.same_input(existing["input"], payload):
        return 409, {"message": f"trip {trip_id} was already booked with other details"}
    return 200, {"tripId": trip_id, "executionArn": arn, "status": existing["status"]}


def book(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    try:
        request = trips.parse_request(
            event.get("body"),
            bool(event.get("isBase64Encoded")),
            allow_fault_injection=ALLOW_FAULT_INJECTION,
        )
    except trips.InvalidTripError as error:
        logger.info("Rejected trip", extra={"reason": str(error)})
        return 400, {"message": str(error)}
    logger.append_keys(tripId=request.trip_id)
    status, body = start_once(request.trip_id, trips.execution_input(request))
    logger.info("Trip booking requested", extra={"status": status})
    return status, body


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        status, body = book(event)
    except Exception:
        # Answered, not raised: API Gateway would turn an unhandled error into a bare 502.
        logger.exception("Trip booking failed")
        return _response(500, {"message": "the booking could not be started; try again"})
    return _response(status, body)
