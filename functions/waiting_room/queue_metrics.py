"""The queue table's stream -> business metrics (CloudWatch EMF), per zone.

  QueueLength     visitors waiting (positions handed out - admitted - departed; a position
                  lost to a refused entry is still counted, so it errs high)
  VisitorsInZone  admitted visitors in the zone now (queue and exempt)
  WaitTime        seconds from entering to admission, one value per admission
  DropOffs        visitors who left (or stopped polling) before they were admitted
and Entered, Admitted, Completed, TokensExpired, LeftZone counts.

The mapping's filters pass only visitor items that entered or changed state (not the
`lastSeen` heartbeats). A record that cannot be read is one ERROR line and a batch item
failure: retried, then sent to the failure queue, never dropped.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import boto3
import ddb_json
import emf
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
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
from room import ADMITTED, COMPLETED, EXPIRED, LEFT, SEQ, TOTALS, VISITOR_PREFIX, WAITING

logger = Logger()

dynamodb = boto3.resource("dynamodb")
counters = dynamodb.Table(os.environ["COUNTERS_TABLE"])
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)

TRANSITIONS = {
    (None, WAITING): "Entered",
    (LEFT, WAITING): "Entered",
    (EXPIRED, WAITING): "Entered",
    (None, ADMITTED): "Admitted",  # an exempt visitor
    (WAITING, ADMITTED): "Admitted",
    (WAITING, LEFT): "DropOffs",
    (ADMITTED, COMPLETED): "Completed",
    (ADMITTED, EXPIRED): "TokensExpired",
    (ADMITTED, LEFT): "LeftZone",
}


class UnreadableRecord(ValueError):
    """A stream record that is not a visitor item this function understands."""


@dataclass
class ZoneTally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    waits: list[int] = field(default_factory=list)


tallies: dict[str, ZoneTally] = defaultdict(ZoneTally)


def read(record: DynamoDBRecord) -> tuple[str, str | None, str, dict[str, Any]]:
    """(zone, old status, new status, new image) of a visitor's state change."""
    change = record.raw_event.get("dynamodb")
    if not isinstance(change, dict):
        raise UnreadableRecord("the record has no dynamodb change")
    new = ddb_json.image(change.get("NewImage"))
    old = ddb_json.image(change.get("OldImage"))
    if not str(new.get("sk", "")).startswith(VISITOR_PREFIX) or "status" not in new:
        raise UnreadableRecord("the record is not a visitor item with a status")
    zone_id = new.get("zoneId")
    if not isinstance(zone_id, str) or not zone_id:
        raise UnreadableRecord("the record has no zoneId")
    return zone_id, old.get("status"), str(new["status"]), new


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    try:
        zone_id, old, new, image = read(record)
    except Exception:
        logger.exception("Unreadable stream record", extra={"eventID": record.event_id})
        raise
    name = TRANSITIONS.get((old, new))
    if name is None:
        return  # a change the filters let through that moves nothing (a re-admission race)
    tally = tallies[zone_id]
    tally.counts[name] += 1
    if name == "Admitted" and old == WAITING:
        tally.waits.append(int(image.get("admittedAt", 0)) - int(image.get("enqueuedAt", 0)))


def gauges(zone_id: str) -> dict[str, int]:
    found = counters.meta.client.batch_get_item(
        RequestItems={
            counters.name: {
                "Keys": [{"zoneId": zone_id, "name": SEQ}, {"zoneId": zone_id, "name": TOTALS}]
            }
        }
    )["Responses"].get(counters.name, [])
    by_name = {item["name"]: item for item in found}
    seq, totals = by_name.get(SEQ, {}), by_name.get(TOTALS, {})

    def number(item: dict[str, Any], name: str) -> int:
        return int(item.get(name, 0))

    waiting = number(seq, "nextSeq") - number(totals, "issued") - number(seq, "departed")
    in_zone = number(totals, "active") + number(totals, "exemptActive")
    return {"QueueLength": max(0, waiting), "VisitorsInZone": max(0, in_zone)}


def publish() -> None:
    for zone_id, tally in sorted(tallies.items()):
        with emf.zone_metrics(zone_id) as metrics:
            for name, value in gauges(zone_id).items():
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            metrics.add_metric(
                name="DropOffs", unit=MetricUnit.Count, value=tally.counts.pop("DropOffs", 0)
            )
            for name, value in sorted(tally.counts.items()):
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            for wait in tally.waits:
                metrics.add_metric(name="WaitTime", unit=MetricUnit.Seconds, value=wait)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    tallies.clear()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    try:
        publish()
    except Exception:
        # Metrics are best effort: failing the batch would replay (and double count) it.
        logger.exception("Metrics not published for this batch")
    return response
