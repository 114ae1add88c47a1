"""The sweeper: end the states nobody ends themselves, on time, without relying on TTL.

- ADMITTED past `tokenExp` -> EXPIRED: the visitor's place in the zone and their token go
  back (read exactly from the sparse `admitted` index, keyed by `tokenExp`).
- WAITING with `lastSeen` older than `abandon_after_s` -> LEFT: the visitor stopped asking
  (closed the tab); their place is given up.

Both are batch transitions (`room.Tables.transition`) conditioned on the state read, so a
visitor who completes, leaves or polls meanwhile is left alone. TTL deletes items only
long after these states have ended, so it never decides capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import room
import zones
from boto3.dynamodb.conditions import Attr, Key
from room import ADMITTED, EXPIRED, LEFT, TOTALS, WAITING, Tables, Visitor


@dataclass
class SweepResult:
    expired: int = 0
    abandoned: int = 0
    failed: dict[str, Exception] = field(default_factory=dict)  # zone id -> its error


def _batches(visitors: list[Visitor]) -> list[list[Visitor]]:
    return [visitors[i : i + room.MAX_BATCH] for i in range(0, len(visitors), room.MAX_BATCH)]


class Sweeper:
    def __init__(self, tables: Tables, *, abandon_after_s: int) -> None:
        self.tables = tables
        self.abandon_after_s = abandon_after_s

    def run(self, configured: list[zones.Zone]) -> SweepResult:
        total = SweepResult()
        for zone in configured:
            try:
                found = self.sweep_zone(zone.zone_id)
            except Exception as error:  # one zone's failure must not hold up the others
                total.failed[zone.zone_id] = error
                continue
            total.expired += found.expired
            total.abandoned += found.abandoned
        return total

    def sweep_zone(self, zone_id: str) -> SweepResult:
        now = self.tables.now()
        result = SweepResult()
        overdue = list(
            self.tables.query_index(
                room.ADMITTED_INDEX,
                "admittedZone",
                zone_id,
                range_condition=Key("tokenExp").lte(now),
            )
        )
        for batch in _batches(overdue):
            moved = self.tables.transition(
                batch,
                lambda v: self._end(v, ADMITTED, EXPIRED, "tokenExp <= :now", now),
                lambda moved: [self._give_back(zone_id, moved)],
            ).moved
            result.expired += len(moved)
        cutoff = now - self.abandon_after_s
        silent = list(
            self.tables.query_index(
                room.WAITING_INDEX,
                "waitingZone",
                zone_id,
                FilterExpression=Attr("lastSeen").lt(cutoff),
            )
        )
        for batch in _batches(silent):
            moved = self.tables.transition(
                batch,
                lambda v: self._end(v, WAITING, LEFT, "lastSeen < :cutoff", now, cutoff),
                lambda moved: [],
            ).moved
            result.abandoned += len(moved)
        self.tables.count_departed(zone_id, result.abandoned)
        return result

    def _end(
        self, visitor: Visitor, old: str, new: str, guard: str, now: int, cutoff: int = 0
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":old": old,
            ":new": new,
            ":now": now,
            ":expires": now + room.TERMINAL_RETENTION_S,
        }
        if ":cutoff" in guard:
            values[":cutoff"] = cutoff
        index_attribute = "admittedZone" if old == ADMITTED else "waitingZone"
        return self.tables.update(
            self.tables.queue,
            visitor.key,
            f"SET #s = :new, endedAt = :now, expiresAt = :expires, endReason = :reason "
            f"REMOVE {index_attribute}",
            ConditionExpression=f"#s = :old AND {guard}",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                **values,
                ":reason": "tokenExpired" if new == EXPIRED else "abandoned",
            },
        )

    def _give_back(self, zone_id: str, moved: list[Visitor]) -> dict[str, Any]:
        """Expired visitors leave the zone and their tokens return to the pool."""
        queued = sum(1 for v in moved if not v.exempt)
        exempt = len(moved) - queued
        return self.tables.update(
            self.tables.counters,
            {"zoneId": zone_id, "name": TOTALS},
            "ADD active :queued, exemptActive :exempt, tokensUsed :all",
            ExpressionAttributeValues={
                ":queued": -queued,
                ":exempt": -exempt,
                ":all": -len(moved),
            },
        )
