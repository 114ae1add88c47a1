"""New connections (connections table stream, INSERT only) -> every toggle, to that client.

`$connect` cannot post to its own connection (it is not open until `$connect` returns),
so the snapshot follows the registry's INSERT. If the post finds no connection while the
registry still holds it, the socket is not open yet: the record fails and is retried.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import toggles
import ws_sender
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()

toggles_table = boto3.resource("dynamodb").Table(os.environ["TOGGLES_TABLE"])
sender = ws_sender.sender_from_environment()
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


class ConnectionNotReadyError(RuntimeError):
    """The connection is registered but API Gateway does not accept posts to it yet."""


def all_toggles() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = toggles_table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    if record.raw_event.get("eventName") != "INSERT":
        return  # the mapping's filter passes only INSERTs; this keeps a replay harmless
    connection_id = record.raw_event["dynamodb"]["NewImage"]["connectionId"]["S"]
    message = toggles.snapshot_message(all_toggles())
    if sender.post(connection_id, ws_sender.encode(message)):
        logger.info("Snapshot sent", extra={"connectionId": connection_id})
        return
    if sender.registry.connection(connection_id) is not None:
        raise ConnectionNotReadyError(connection_id)
    logger.info("Client left before its snapshot", extra={"connectionId": connection_id})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
