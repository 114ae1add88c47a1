"""Per-zone metrics: one EMF blob per zone, with the zone as a dimension.

The handler's own `Metrics` carries the room-wide figures the alarms watch (dimensions
`service` and `room`); a blob per zone keeps zones apart on dashboards without mixing
dimension sets in one blob.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools.metrics import EphemeralMetrics

ROOM = os.environ.get("ROOM_NAME", "waiting-room")


@contextmanager
def zone_metrics(zone_id: str) -> Iterator[EphemeralMetrics]:
    metrics = EphemeralMetrics()
    metrics.add_dimension(name="room", value=ROOM)
    metrics.add_dimension(name="zoneId", value=zone_id)
    yield metrics
    metrics.flush_metrics()
