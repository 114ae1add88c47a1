"""Optional Lambda front door (`ingest="lambda"`): validates a delivery and queues it.

Reads the REST proxy event directly rather than routing it: API Gateway has already matched
`POST /webhook/{source}`, and the event's `path` carries stage or base-path prefixes a router
would have to be told about.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import webhook
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

QUEUE_URL = os.environ["QUEUE_URL"]
SIGNATURE_HEADER = os.environ.get("SIGNATURE_HEADER") or None
DELIVERY_ID_HEADER = os.environ.get("DELIVERY_ID_HEADER") or None

logger = Logger()
tracer = Tracer()

sqs = boto3.client("sqs")


def _response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


def _rejected(message: str) -> dict[str, Any]:
    logger.info("Rejected delivery", extra={"reason": message})
    return _response(400, {"message": message})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = (event.get("pathParameters") or {}).get("source")
    if not webhook.is_valid_source(source):
        return _rejected("source must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-'")
    try:
        body = webhook.decode_body(event.get("body"), bool(event.get("isBase64Encoded")))
    except ValueError:
        return _rejected("Request body must be valid JSON")
    error = webhook.body_error(body)
    if error is not None:
        return _rejected(error)

    headers = event.get("headers")
    attributes = webhook.message_attributes(
        source=str(source),
        signature=webhook.header_value(headers, SIGNATURE_HEADER),
        delivery_id=webhook.header_value(headers, DELIVERY_ID_HEADER),
    )
    sent = sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=body, MessageAttributes=attributes)
    logger.info("Delivery queued", extra={"source": source, "messageId": sent["MessageId"]})
    return _response(202, {"accepted": True, "messageId": sent["MessageId"]})
