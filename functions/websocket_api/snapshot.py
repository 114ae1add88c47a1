"""New connections (connections table stream, INSERT only) -> every toggle, to that client.

`$connect` cannot post to its own connection (it is not open until `$connect` returns),
so the snapshot follows the registry's INSERT. If the post finds no connection while the
registry still holds it, the socket is not open yet: the record fails and is retried.

A toggle item that breaks the message contract is left out of the snapshot (and logged)
rather than failing it: one bad item would otherwise keep every new client waiting.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import ddb_json
import toggles
import ws_sender
from aws_lambda_powertools import Logger
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
from lambda_tracing import tracer

TOGGLES_TABLE = os.environ["TOGGLES_TABLE"]

logger = Logger()

dynamodb = boto3.client("dynamodb")
sender = ws_sender.sender_from_environment()
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


class ConnectionNotReadyError(RuntimeError):
    """The connection is registered but API Gateway does not accept posts to it yet."""


class InvalidRecordError(ValueError):
    """A stream record that does not describe a new connection."""


def all_toggles() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=TOGGLES_TABLE):
        for item in page["Items"]:
            try:
                found.append(toggles.from_image(item))
            except ValueError:
                key = item.get("featureId")
                feature_id = key.get("S") if isinstance(key, dict) else None
                logger.exception("Toggle left out of snapshots", extra={"featureId": feature_id})
    return found


def connection_of(record: DynamoDBRecord) -> str:
    image = ddb_json.image((record.raw_event.get("dynamodb") or {}).get("NewImage"))
    connection_id = image.get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        raise InvalidRecordError("the record's NewImage has no connectionId (S)")
    return connection_id


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    event_name = record.raw_event.get("eventName")
    if event_name in ("MODIFY", "REMOVE"):
        return  # the mapping's filter passes only INSERTs; this keeps a replay harmless
    connection_id: str | None = None
    try:
        if event_name != "INSERT":
            raise InvalidRecordError(f"eventName {str(event_name)[:20]!r} is not a stream event")
        connection_id = connection_of(record)
        _send_snapshot(connection_id)
    except Exception:
        # The batch processor turns the exception into a batchItemFailure and keeps no trace.
        logger.exception(
            "Snapshot not sent",
            extra={"eventID": record.event_id, "connectionId": connection_id},
        )
        raise


def _send_snapshot(connection_id: str) -> None:
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
