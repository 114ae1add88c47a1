"""Optional Lambda front door (`ingest="lambda"`): validates a delivery and queues it.

Reads the REST proxy event directly rather than routing it: API Gateway has already matched
`POST /webhook/{source}`, and the event's `path` carries stage or base-path prefixes a router
would have to be told about.

Every request gets a status code: an unhandled exception would reach the provider as
API Gateway's bare 502, with no trace of which delivery it was.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import webhook
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

QUEUE_URL = os.environ["QUEUE_URL"]
SIGNATURE_HEADER = os.environ.get("SIGNATURE_HEADER") or None
DELIVERY_ID_HEADER = os.environ.get("DELIVERY_ID_HEADER") or None

logger = Logger()

sqs = boto3.client("sqs")


def _response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


def _rejected(message: str, status: int = 400) -> dict[str, Any]:
    logger.info("Rejected delivery", extra={"status": status, "reason": message})
    return _response(status, {"message": message})


def _accept(event: dict[str, Any]) -> dict[str, Any]:
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

    headers, multi_value_headers = event.get("headers"), event.get("multiValueHeaders")
    attributes = webhook.message_attributes(
        source=str(source),
        signature=webhook.header_value(headers, SIGNATURE_HEADER, multi_value_headers),
        delivery_id=webhook.header_value(headers, DELIVERY_ID_HEADER, multi_value_headers),
    )
    size = webhook.message_size(body, attributes)
    if size > webhook.MAX_MESSAGE_BYTES:
        return _rejected(
            f"Delivery is {size} bytes with its source, signature and delivery id; "
            f"at most {webhook.MAX_MESSAGE_BYTES} bytes are accepted",
            status=413,
        )
    sent = sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=body, MessageAttributes=attributes)
    logger.info("Delivery queued", extra={"source": source, "messageId": sent["MessageId"]})
    return _response(202, {"accepted": True, "messageId": sent["MessageId"]})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return _accept(event)
    except Exception:
        # The log's correlation_id is the request id the provider's delivery log shows.
        logger.exception("Delivery not queued")
        return _response(500, {"message": "Delivery not queued; retry it later"})
