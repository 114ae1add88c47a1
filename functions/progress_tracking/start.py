"""`startWorkflow` route: start the tracked workflow for this connection and say so.

Every message is answered with a status code, never an exception (API Gateway would drop it
with nothing logged): 400 for an event without a connection or an invalid message, 409 for
a request id already used for another request (Powertools idempotency validates `request`
under the id), 500, logged once, for anything else. The client hears about 400 and 409 as
`{"type": "error"}` messages.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import workflow
import ws_sender
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]

logger = Logger()

sfn = boto3.client("stepfunctions")
sender = ws_sender.sender_from_environment()
# A client of the default session: Powertools would build a session of its own, which
# loads botocore's data files again at cold start.
persistence = DynamoDBPersistenceLayer(
    table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=boto3.client("dynamodb")
)
# The request id names one request: the same one again (a resend, from any connection) gets
# the first answer, another one under the id is a conflict.
config = IdempotencyConfig(event_key_jmespath="requestId", payload_validation_jmespath="request")


def _response(status: int, message: str | None = None) -> dict[str, Any]:
    if message is None:
        return {"statusCode": status}
    return {"statusCode": status, "body": json.dumps({"message": message})}


@idempotent_function(data_keyword_argument="message", persistence_store=persistence, config=config)
@tracer.capture_method
def start_once(connection_id: str, *, message: dict[str, Any]) -> dict[str, str]:
    """`{"executionArn"}` of the request's execution, named after its id."""
    request_id, request = message["requestId"], message["request"]
    try:
        response = sfn.start_execution(
            stateMachineArn=STATE_MACHINE_ARN,
            name=request_id,
            input=json.dumps(workflow.execution_input(connection_id, request)),
        )
        return {"executionArn": str(response["executionArn"])}
    except sfn.exceptions.ExecutionAlreadyExists:
        arn = workflow.execution_arn(STATE_MACHINE_ARN, request_id)
    # Started before the idempotency records' hour, or from another connection: the same
    # request is that execution; another request under the id is a conflict.
    started = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    if started.get("request") != request:
        raise workflow.RequestConflictError(workflow.conflict_message(request_id))
    return {"executionArn": arn}


def refuse(connection_id: str, status: int, error: str, **extra: str) -> dict[str, Any]:
    logger.info("Start refused", extra={"status": status, "reason": error})
    sender.send(connection_id, {"type": "error", **extra, "error": error})
    return _response(status, error)


def start(connection_id: str, event: dict[str, Any]) -> dict[str, Any]:
    try:
        request = workflow.start_request(event.get("body"), bool(event.get("isBase64Encoded")))
    except workflow.InvalidMessageError as error:
        return refuse(connection_id, 400, str(error))
    logger.append_keys(requestId=request.requestId)
    try:
        arn = start_once(connection_id, message=request.message())["executionArn"]
    except (IdempotencyValidationError, workflow.RequestConflictError):
        message = workflow.conflict_message(request.requestId)
        return refuse(connection_id, 409, message, requestId=request.requestId)
    except IdempotencyAlreadyInProgressError:
        message = f"requestId {request.requestId} is being started; send it again in a moment"
        return refuse(connection_id, 409, message, requestId=request.requestId)
    logger.info("Workflow started", extra={"executionArn": arn})
    sender.send(
        connection_id, {"type": "started", "requestId": request.requestId, "executionArn": arn}
    )
    return _response(200)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config.register_lambda_context(context)
    connection_id = workflow.connection_of(event)
    if connection_id is None:
        logger.info("Start refused", extra={"status": 400, "reason": "no connection id"})
        return _response(400, "the event has no requestContext.connectionId")
    logger.append_keys(connectionId=connection_id)
    try:
        return start(connection_id, event)
    except Exception:
        logger.exception("Start failed")
        return _response(500, "the workflow could not be started; try again")
