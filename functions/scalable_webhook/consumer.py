"""Drains the webhook queue into DynamoDB, storing each delivery once.

Runs with a small reserved concurrency, so the table sees a bounded write rate however fast
deliveries arrive; the queue absorbs bursts.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import store
import webhook
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]
SIGNATURE_SECRET_ARN = os.environ.get("SIGNATURE_SECRET_ARN") or None
SIGNATURE_ALGORITHM = webhook.signature_algorithm(os.environ.get("SIGNATURE_ALGORITHM", "sha256"))
SECRET_MAX_AGE_S = 300

logger = Logger()
metrics = Metrics()

table = boto3.resource("dynamodb").Table(TABLE_NAME)
# Without this, a batch where every record fails raises instead of listing them; listing them
# keeps one response shape and lets SQS count each record towards its redrive policy.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _signature_is_valid(delivery: webhook.Delivery) -> bool:
    if SIGNATURE_SECRET_ARN is None:
        return True
    secret = parameters.get_secret(SIGNATURE_SECRET_ARN, max_age=SECRET_MAX_AGE_S)
    return webhook.verify_signature(secret, delivery.body, delivery.signature, SIGNATURE_ALGORITHM)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    try:
        delivery = webhook.delivery_from_sqs_record(record.raw_event)
        log_keys = {"messageId": delivery.message_id, "source": delivery.source}
        if not _signature_is_valid(delivery):
            # Redelivery cannot make a bad signature good, so it is counted, not retried.
            logger.warning("Dropping delivery with a missing or invalid signature", extra=log_keys)
            metrics.add_metric(name="InvalidSignature", unit=MetricUnit.Count, value=1)
            return
        if store.put_once(table, webhook.build_item(delivery)):
            metrics.add_metric(name="DeliveryStored", unit=MetricUnit.Count, value=1)
        else:
            logger.info("Duplicate delivery ignored", extra={**log_keys, "id": delivery.id})
            metrics.add_metric(name="DuplicateDelivery", unit=MetricUnit.Count, value=1)
    except Exception:
        # The batch processor turns the exception into a batchItemFailure and keeps no trace.
        logger.exception(
            "Delivery failed; SQS will redeliver it", extra={"messageId": record.message_id}
        )
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
