"""`startWorkflow` route: start the tracked workflow for this connection and say so."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import workflow
import ws_sender
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]

logger = Logger()
tracer = Tracer()

sfn = boto3.client("stepfunctions")
sender = ws_sender.sender_from_environment()


@tracer.capture_method
def start(connection_id: str, request: workflow.StartRequest) -> str:
    """The execution's ARN; the same request id again is the same execution (Step
    Functions returns it for an equal input and refuses a different one)."""
    try:
        response = sfn.start_execution(
            stateMachineArn=STATE_MACHINE_ARN,
            name=request.requestId,
            input=json.dumps(workflow.execution_input(connection_id, request.request)),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        # Resent from another connection or with other input: answer with the one that runs.
        logger.info("Execution exists", extra={"requestId": request.requestId})
        return workflow.execution_arn(STATE_MACHINE_ARN, request.requestId)
    return str(response["executionArn"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    try:
        request = parse(event=event.get("body") or "{}", model=workflow.StartRequest)
    except ValidationError as error:
        sender.send(connection_id, {"type": "error", "error": workflow.validation_message(error)})
        return {"statusCode": 400}
    arn = start(connection_id, request)
    logger.info("Workflow started", extra={"executionArn": arn, "connectionId": connection_id})
    sender.send(
        connection_id, {"type": "started", "requestId": request.requestId, "executionArn": arn}
    )
    return {"statusCode": 200}
